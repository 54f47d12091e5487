"""The example plugin checked with dlbench's conformance kit."""

import dlbench_example

from dlbench.bench.testing import check_dataset, check_model, check_strategy, load_plugin


def test_registers_and_builds(tmp_path) -> None:
    catalog = load_plugin(dlbench_example)
    check_model(catalog, "wide_linear")
    check_dataset(catalog, "blobs", tmp_path)


def test_trains_with_a_built_in_strategy(tmp_path) -> None:
    catalog = load_plugin(dlbench_example)
    check_strategy(catalog, "plain", tmp_path, model="wide_linear", dataset="blobs")
