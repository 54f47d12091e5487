"""timm's architectures as ``timm:<name>`` models (``bench list models --include 'timm:res*'``).

timm is imported only when a ``timm:`` name is used or listed. Pretrained weights come only from
a local file the matrix names (``pretrained_file``); nothing is fetched from a hub.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from torch import nn

from dlbench import DataUnavailableError, ModelFamily, ModelSpec, Param, Register, hookimpl

PREFIX = "timm:"
TIMM_PARAMS = {
    "pretrained_file": Param(
        None,
        str,
        "local weights file (.safetensors, .pth, .bin) to start from",
        nullable=True,
        path=True,
    ),
    "drop_rate": Param(0.0, float, "dropout before the classifier", minimum=0, maximum=1),
}


def build_timm(
    architecture: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    pretrained_file: str | None,
    drop_rate: float,
) -> nn.Module:
    """timm's ``architecture`` for the input channels and class count, from local weights if given.

    A pretrained classifier for another class count is left out and a new one initialised.
    """
    import timm

    overlay = None
    if pretrained_file is not None:
        path = Path(pretrained_file).expanduser()
        if not path.is_file():
            raise DataUnavailableError(f"pretrained_file {path}: no such file")
        overlay = {"file": str(path)}
    model: nn.Module = timm.create_model(
        architecture,
        pretrained=overlay is not None,
        pretrained_cfg_overlay=overlay,
        num_classes=num_classes,
        in_chans=input_shape[0],
        drop_rate=drop_rate,
    )
    return model


def timm_names() -> list[str]:
    """Every timm architecture, as ``timm:<name>``."""
    import timm

    return [PREFIX + name for name in timm.list_models()]


def resolve_timm(name: str) -> ModelSpec | None:
    """The spec for ``timm:<architecture>``, or ``None`` if timm has no such architecture."""
    import timm

    architecture = name.removeprefix(PREFIX)
    if not timm.is_model(architecture):
        return None
    return ModelSpec(
        name=name,
        build=partial(build_timm, architecture),
        description=f"timm {architecture}",
        params=TIMM_PARAMS,
        input_ranks=frozenset({3}),
    )


@hookimpl
def dlbench_register_models(register: Register[ModelSpec | ModelFamily]) -> None:
    """Register the ``timm:`` family."""
    register(
        ModelFamily(
            prefix=PREFIX,
            description="timm architectures, e.g. timm:resnet18",
            names=timm_names,
            resolve=resolve_timm,
        )
    )
