"""The conformance kit: ready checks for plugin authors, reached as ``dlbench.check_model`` and
so on. Call them from your plugin's own tests::

    import dlbench

    def test_my_plugin(tmp_path):
        catalog = dlbench.load_plugin(my_plugin_module)
        dlbench.check_model(catalog, "my_model")
        dlbench.check_dataset(catalog, "my_dataset", tmp_path)
        dlbench.check_strategy(catalog, "my_strategy", tmp_path)

Each check raises ``ConformanceError`` (an ``AssertionError``, so pytest shows it as a
failure) saying what the plugin got wrong.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import torch

from dlbench.bench.host import load_catalog
from dlbench.registry.catalog import Catalog
from dlbench.registry.data import DatasetSplits
from dlbench.registry.errors import ConformanceError
from dlbench.registry.params import resolve_params
from dlbench.registry.specs import DatasetRequest

__all__ = ["ConformanceError", "check_dataset", "check_model", "check_strategy", "load_plugin"]


def load_plugin(plugin: object, name: str = "plugin_under_test") -> Catalog:
    """A fresh catalog of the built-ins and ``plugin``; any registration problem is an error."""
    try:
        return load_catalog(plugins={name: plugin}, load_entry_points=False, strict=True)
    except Exception as exc:
        raise ConformanceError(f"plugin does not register cleanly: {exc}") from exc


def check_model(
    catalog: Catalog,
    name: str,
    input_shapes: Sequence[tuple[int, ...]] = ((1, 8, 8), (3, 32, 32), (20,)),
    class_counts: Sequence[int] = (2, 10, 100),
) -> None:
    """The model builds with its defaults for every shape it accepts and gives class logits."""
    spec = catalog.models.get(name)
    params = resolve_params(spec.params, {}, f"model {name!r}")
    accepted = [shape for shape in input_shapes if spec.refuses(shape) is None]
    if not accepted:
        raise ConformanceError(f"model {name!r} accepts none of the shapes {list(input_shapes)}")
    for shape in accepted:
        for classes in class_counts:
            model = spec.build(shape, classes, **params)
            if not isinstance(model, torch.nn.Module):
                raise ConformanceError(f"model {name!r} built {type(model).__name__}, not a Module")
            model.eval()
            with torch.no_grad():
                logits = model(torch.zeros(2, *shape))
            if tuple(logits.shape) != (2, classes):
                raise ConformanceError(
                    f"model {name!r} for input {shape} and {classes} classes gives output "
                    f"{tuple(logits.shape)}, expected (2, {classes})"
                )


def check_dataset(catalog: Catalog, name: str, data_root: Path, download: bool = False) -> None:
    """The dataset loads, matches its declared shape and class count, and has usable splits."""
    spec = catalog.datasets.get(name)
    params = resolve_params(spec.params, {}, f"dataset {name!r}")
    splits = spec.load(DatasetRequest(params, Path(data_root), download))
    if not isinstance(splits, DatasetSplits):
        raise ConformanceError(f"dataset {name!r} returned {type(splits).__name__}")
    if splits.input_shape != tuple(spec.input_shape):
        raise ConformanceError(
            f"dataset {name!r} declares input shape {spec.input_shape} but loads "
            f"{splits.input_shape}"
        )
    if splits.num_classes != spec.num_classes:
        raise ConformanceError(
            f"dataset {name!r} declares {spec.num_classes} classes but loads {splits.num_classes}"
        )
    for split_name in ("train", "val", "test"):
        split = getattr(splits, split_name)
        if split is None:
            continue
        if len(split) == 0 and split_name != "test":
            raise ConformanceError(f"dataset {name!r} has an empty {split_name} split")
        if split.targets.dtype != torch.int64:
            raise ConformanceError(f"dataset {name!r} {split_name} targets are not int64")
        if len(split) and not 0 <= int(split.targets.min()) <= int(split.targets.max()) < (
            splits.num_classes
        ):
            raise ConformanceError(f"dataset {name!r} {split_name} targets leave 0..classes-1")
    problem = splits.normalization.problem(splits.input_shape)
    if problem is not None:
        raise ConformanceError(f"dataset {name!r}: {problem}")


def check_strategy(
    catalog: Catalog,
    name: str,
    directory: Path,
    model: str = "mlp",
    dataset: str = "digits",
    extra: str = "",
    producer: str = "plain",
) -> None:
    """One tiny epoch of the strategy on the CPU, through the real runner and result store.

    The matrix it runs has an experiment ``teacher`` (trained by ``producer``) that the strategy
    under test may refer to, e.g. with ``extra="teacher: {from: teacher}"``.

    :param extra: more YAML for the strategy mapping.
    :param producer: the strategy (with its parameters as YAML, e.g. ``"mixup, alpha: 0.2"``)
        that trains the ``teacher`` experiment.
    """
    from dlbench.bench.matrix import load_matrix
    from dlbench.bench.results.store import ResultStore
    from dlbench.bench.run.progress import SilentProgress
    from dlbench.bench.run.runner import run_matrix
    from dlbench.bench.run.services import RunSettings

    spec = catalog.strategies.get(name)
    params = ["epochs: 1"] if "epochs" in spec.params else []
    if extra:
        params.append(extra)
    Path(directory).mkdir(parents=True, exist_ok=True)
    matrix = Path(directory) / "conformance.yaml"
    matrix.write_text(
        textwrap.dedent(f"""\
        name: conformance
        defaults:
          dataset: {{name: {dataset}, train_subset: 64}}
          model: {{name: {model}}}
        experiments:
          teacher:
            strategy: {{name: {producer}, epochs: 1}}
          under_test:
            strategy: {{name: {name}, {", ".join(params)}}}
        """)
    )
    loaded = load_matrix(matrix, catalog)
    store = ResultStore.open(Path(directory) / "results", loaded.name)
    settings = RunSettings(torch.device("cpu"), Path(directory), download=False, threads=1)
    summary = run_matrix(loaded, store, catalog, settings, SilentProgress())
    for problem in summary.failed + summary.skipped:
        raise ConformanceError(f"strategy {name!r} failed a tiny run: {problem.error}")
    records = store.records(list(loaded.cells))
    record = next((r for r in records.values() if r.cell["strategy"]["name"] == name), None)
    if record is None or not record.epochs or not record.final:
        raise ConformanceError(f"strategy {name!r} stored no per-epoch or final metrics")
    finals = {key.partition("@")[0] for key in record.final}
    missing = [m for m in ("val_acc",) if m in spec.metrics and m not in finals]
    if missing:
        raise ConformanceError(f"strategy {name!r} declares metrics it did not record: {missing}")
