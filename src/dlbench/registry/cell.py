"""A cell: one fully resolved unit of work, and its identity."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from dlbench.registry.params import CELL_REFERENCE
from dlbench.registry.schema import ShapeError, check_fields, check_value

COMPONENT_KINDS = ("model", "dataset", "strategy")
#: Sources of randomness a run's seed can vary: the initial weights, the batch order (and every
#: per-batch draw), and the train/validation split (the test split never changes).
VARY_SOURCES = ("init", "order", "split")
#: What a seed varies unless the matrix says otherwise.
DEFAULT_VARY = ("init", "order")


@dataclass(frozen=True)
class Component:
    """A plugin chosen for a cell, with every parameter resolved (defaults filled in).

    :param name: the registered name, e.g. ``mlp``.
    :param params: resolved parameters (JSON-serialisable).
    :param plugin: the plugin that registered ``name``.
    :param version: that plugin's version; part of the cell identity.
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    plugin: str = ""
    version: str = ""

    def to_json(self) -> dict[str, Any]:
        """A plain dictionary for records and hashing."""
        return {
            "name": self.name,
            "params": {k: _jsonable(v) for k, v in sorted(self.params.items())},
            "plugin": self.plugin,
            "version": self.version,
        }

    def describe(self) -> str:
        """``name(key=value, ...)`` for humans."""
        inner = ", ".join(f"{k}={_jsonable(v)}" for k, v in sorted(self.params.items()))
        return f"{self.name}({inner})" if inner else self.name


@dataclass(frozen=True)
class Cell:
    """One unit of work: a model trained on a dataset by a strategy with a seed.

    Its identity (``id``) is a hash of this resolved content and the versions of the plugins
    that implement it, never of the matrix text or position, so the same cell reached from two
    experiments or two edits of the matrix is run once.

    :param seed: the run's seed; it seeds every source of randomness the matrix varies.
    :param vary: the sources of randomness the seed varies (``VARY_SOURCES``): the initial
        weights, the batch order (with every per-batch draw), the train/validation split; the
        others are held fixed (seed 0, or the dataset's own ``split_seed``).
    """

    model: Component
    dataset: Component
    strategy: Component
    seed: int
    vary: tuple[str, ...] = DEFAULT_VARY

    def to_json(self) -> dict[str, Any]:
        """The resolved configuration as a plain dictionary."""
        data: dict[str, Any] = {
            "model": self.model.to_json(),
            "dataset": self.dataset.to_json(),
            "strategy": self.strategy.to_json(),
            "seed": self.seed,
        }
        if set(self.vary) != set(DEFAULT_VARY):
            # Only when it differs from the default, so cells made before it keep their ids.
            data["vary"] = sorted(self.vary)
        return data

    @property
    def init_seed(self) -> int:
        """The seed of the initial weights (0 where the matrix holds them fixed)."""
        return self.seed if "init" in self.vary else 0

    @property
    def order_seed(self) -> int:
        """The seed of the batch order and per-batch draws (0 where held fixed)."""
        return self.seed if "order" in self.vary else 0

    @property
    def split_seed(self) -> int | None:
        """The train/validation split's seed where the seed varies it (``vary`` has
        ``split``), else ``None``: the dataset's own ``split_seed`` parameter holds."""
        return self.seed if "split" in self.vary else None

    @classmethod
    def from_json(cls, data: Any) -> Cell:
        """Rebuild a cell from ``to_json`` output, checking its shape (and, where ``data``
        carries the ``id`` it was stored under, that the id matches its content).

        :raises ShapeError: (a ``ValueError``) naming what is wrong.
        """
        if not isinstance(data, Mapping):
            raise ShapeError("cell: expected a JSON object")
        unknown = sorted(str(k) for k in set(data) - {*COMPONENT_KINDS, "seed", "id", "vary"})
        if unknown:
            raise ShapeError(f"cell: unknown key {unknown[0][:40]!r}")
        for kind in COMPONENT_KINDS:
            check_fields(Component, data.get(kind), f"cell.{kind}", required=("name",))
        if "seed" not in data:
            raise ShapeError("cell: missing key 'seed'")
        check_value(data["seed"], int, "cell.seed")
        vary = data.get("vary", list(DEFAULT_VARY))
        check_value(vary, list[Literal["init", "order", "split"]], "cell.vary")
        cell = cls(
            **{kind: Component(**data[kind]) for kind in COMPONENT_KINDS},
            seed=data["seed"],
            vary=tuple(vary),
        )
        if "id" in data and data["id"] != cell.id:
            raise ShapeError(f"cell: stored id {str(data['id'])[:20]!r} does not match its content")
        return cell

    @cached_property
    def id(self) -> str:
        """Content hash: 16 hex digits of SHA-256 over the canonical JSON of ``to_json``."""
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def __hash__(self) -> int:
        return hash(self.id)

    def value(self, path: str) -> Any:
        """The value at a dotted path: ``seed``, ``model.name``, ``strategy.lr``, ..."""
        if path == "seed":
            return self.seed
        kind, _, key = path.partition(".")
        if kind not in COMPONENT_KINDS or not key:
            raise KeyError(path)
        component: Component = getattr(self, kind)
        if key == "name":
            return component.name
        return _jsonable(component.params[key])

    def producers(self) -> list[str]:
        """Ids of the cells whose artifacts this cell's parameters refer to (``cell:<id>``)."""
        found = []
        for kind in COMPONENT_KINDS:
            for value in getattr(self, kind).params.values():
                if isinstance(value, str) and value.startswith(CELL_REFERENCE):
                    found.append(value.removeprefix(CELL_REFERENCE))
        return found

    def flat_params(self) -> dict[str, bool | int | float | str]:
        """Every parameter under its dotted key (``model.name``, ``model.depth``,
        ``strategy.lr``, ...) and the seed, for trackers: numbers, booleans and text as they
        are, any other value (a list, a mapping, null) as its JSON text."""
        found: dict[str, bool | int | float | str] = {}
        for kind in COMPONENT_KINDS:
            component = getattr(self, kind)
            found[f"{kind}.name"] = component.name
            for key, value in sorted(component.params.items()):
                plain = isinstance(value, (bool, int, float, str))
                found[f"{kind}.{key}"] = value if plain else json.dumps(_jsonable(value))
        found["seed"] = self.seed
        return found

    def slug(self) -> str:
        """A folder name that reads as the cell and is unique to it, for files written per
        cell (TensorBoard runs): ``mlp_activation=relu_depth=2_..._seed_0-1a2b3c4d``."""
        readable = re.sub(r"[^A-Za-z0-9_.=-]+", "_", self.describe()).strip("_")[:100]
        return f"{readable}-{self.id[:8]}"

    def describe(self, apart: Sequence[str] = ()) -> str:
        """A one-line summary for progress output and reports.

        :param apart: dotted keys that set this cell apart from others (``strategy.lr``); the
            dataset's and strategy's among them are added, so that two cells that differ only
            there never read the same (the model's parameters are always shown).
        """
        extras = []
        for key in apart:
            kind, _, param = key.partition(".")
            block, dot, inner = param.partition(".")
            component = getattr(self, kind, None) if kind in ("dataset", "strategy") else None
            if dot and component is not None and block == component.name:
                param = inner  # a per-name block's key: ``strategy.label_smooth.smoothing``
            if component is not None and param in component.params:
                extras.append(f"{kind}.{param}={_jsonable(component.params[param])}")
        return (
            f"{self.model.describe()} on {self.dataset.name} "
            f"by {self.strategy.name}, seed {self.seed}"
            + (f" ({', '.join(extras)})" if extras else "")
        )


def varying_keys(cells: Sequence[Cell]) -> list[str]:
    """The dotted keys (``model.name``, ``strategy.lr``, ``seed``) that differ among ``cells``.

    A parameter only some of the cells have (because their plugins differ) is left out: the
    plugin name that differs says it.
    """
    keys: list[str] = []
    for kind in COMPONENT_KINDS:
        names = {getattr(cell, kind).name for cell in cells}
        if len(names) > 1:
            keys.append(f"{kind}.name")
        shared = set.intersection(*(set(getattr(cell, kind).params) for cell in cells))
        for key in sorted(shared):
            values = {
                json.dumps(_jsonable(getattr(cell, kind).params.get(key)), sort_keys=True)
                for cell in cells
            }
            if len(values) > 1:
                keys.append(f"{kind}.{key}")
    if len({cell.seed for cell in cells}) > 1:
        keys.append("seed")
    return keys


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
