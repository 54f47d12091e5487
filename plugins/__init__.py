"""Built-in plugins. Each module uses only the public hooks of :mod:`registry`."""

#: Registered in this order, before any external plugin.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "plugins.models.mlp",
    "plugins.models.cnn",
    "plugins.models.timm_models",
    "plugins.datasets.digits",
    "plugins.datasets.torchvision",
    "plugins.strategies.plain",
    "plugins.strategies.distill",
    "plugins.strategies.finetune",
    "plugins.executors.local",
    "plugins.executors.ray",
    "plugins.probes.grad_norms",
)
