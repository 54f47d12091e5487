"""The host (floor 3), in wings: ``cli/`` (the ``bench`` command, one module per subcommand),
``matrix/`` (the matrix language), ``run/`` (running cells), ``results/`` (the results directory
and what is made from it; it imports nothing of ``run/``) and ``perf/`` (``bench perf``); beside
them the plugin host, the console script and the conformance kit."""
