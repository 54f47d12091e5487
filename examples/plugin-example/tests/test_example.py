"""The example plugin checked with dlbench's conformance kit."""

import dlbench_example

import dlbench


def test_registers_and_builds(tmp_path) -> None:
    catalog = dlbench.load_plugin(dlbench_example)
    dlbench.check_model(catalog, "wide_linear")
    dlbench.check_dataset(catalog, "blobs", tmp_path)


def test_trains_with_a_built_in_strategy(tmp_path) -> None:
    catalog = dlbench.load_plugin(dlbench_example)
    dlbench.check_strategy(catalog, "plain", tmp_path, model="wide_linear", dataset="blobs")
