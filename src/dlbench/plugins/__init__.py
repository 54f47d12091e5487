"""Built-in plugins (floor 3). Each module uses only the public API (``dlbench``) and
registers itself through the same hooks as an external plugin; the host
(``dlbench.bench.host.BUILTIN_PLUGINS``) lists them by module name."""
