"""Where in a cell's run an exception happened: the stage (dataset load, model build, batch
transform, loss, ...) is attached to the exception where it passes through the engine, so a
failed cell's record can say which plugin code failed and in what part of training."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

_ATTRIBUTE = "_dlbench_stage"

#: The stages the engine and the run context name, and the component whose plugin owns each when
#: the traceback reaches no plugin file (the failure happened in dlbench or torch on its behalf).
STAGE_OWNERS = {
    "dataset load": "dataset",
    "model build": "model",
    "forward": "model",
    "loss": "strategy",
    "batch transform": "strategy",
    "after backward": "strategy",
    "epoch callback": "strategy",
    "probe": "strategy",
    "strategy run": "strategy",
}


def mark_stage(exc: BaseException, stage: str) -> None:
    """Note ``stage`` on ``exc`` unless an inner stage already did."""
    if getattr(exc, _ATTRIBUTE, None) is None:
        # An exception type that takes no attributes goes without its stage.
        with suppress(AttributeError):
            setattr(exc, _ATTRIBUTE, stage)


def stage_of(exc: BaseException) -> str | None:
    """The innermost stage noted on ``exc``, if any."""
    stage = getattr(exc, _ATTRIBUTE, None)
    return stage if isinstance(stage, str) else None


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Note ``name`` on any exception raised inside."""
    try:
        yield
    except Exception as exc:
        mark_stage(exc, name)
        raise
