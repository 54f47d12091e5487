"""Built-in plugins. Each module uses only the public hooks of :mod:`registry`."""

#: Registered in this order, before any external plugin.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "dlbench.plugins.models.mlp",
    "dlbench.plugins.models.cnn",
    "dlbench.plugins.models.timm_models",
    "dlbench.plugins.datasets.digits",
    "dlbench.plugins.datasets.torchvision",
    "dlbench.plugins.strategies.plain",
    "dlbench.plugins.strategies.distill",
    "dlbench.plugins.strategies.finetune",
    "dlbench.plugins.executors.local",
    "dlbench.plugins.executors.ray",
    "dlbench.plugins.probes.grad_norms",
)
