"""Matrix sizes and values at their bounds: resource bombs, endless input, sizes that explode,
threads above the machine, non-finite numbers and odd names are refused in one line, quickly."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from helpers import SMALL, one_line_error

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(9)
)


BOMBS = {
    "alias-expansion": "name: m\n" + LAUGHS + "experiments: {e: {model: mlp}}\n",
    "self-reference": "name: m\nloop: &loop [*loop]\nexperiments: {e: {model: mlp}}\n",
    "deep-nesting": "name: m\nexperiments: " + "[" * 50000 + "]" * 50000 + "\n",
    "large-file": "name: m\n# " + "x" * (2 * 1024 * 1024) + "\nexperiments: {}\n",
}


EXPLODING = {
    "repeats": ("    repeats: 1000000000\n", "runs between 1 and 1000"),
    "product": (
        "    zip: []\n"
        "    strategy: {name: plain, lr: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "
        "batch_size: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], epochs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "
        "eval_batch_size: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "
        "momentum: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]}\n",
        "100,000 combinations",
    ),
    "wide-layer": ("    model: {name: mlp, hidden: 1000000000}\n", "between 1 and 65536"),
    "deep-model": ("    model: {name: mlp, depth: 1000000}\n", "between 2 and 1000"),
    "too-big-to-train": (
        "    model: {name: mlp, hidden: 65536, depth: 1000}\n",
        "more than this machine's",
    ),
}


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_resource_bombs_are_refused_quickly_and_cheaply(bench, tmp_path, bomb) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMBS[bomb])
    tracemalloc.start()
    started = time.perf_counter()
    result = bench("run", "--matrix", path, "--out", tmp_path / "o")
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    one_line_error(result)
    assert seconds < 5, seconds  # well under a second on a quiet machine; bounded here
    assert peak < 200 * 2**20, peak


def test_an_endless_input_is_refused(bench, tmp_path) -> None:
    one_line_error(bench("run", "--matrix", "/dev/zero", "--out", tmp_path / "o"))


@pytest.mark.parametrize("case", list(EXPLODING))
def test_sizes_that_explode_are_counted_before_anything_is_built(
    bench, write_matrix, tmp_path, case
) -> None:
    extra, message = EXPLODING[case]
    text = SMALL.replace("    model: {name: mlp, hidden: 8, depth: [2, 3]}\n", "") + extra
    text = text.replace("    tables:\n      - {rows: model.depth, metric: val_acc}\n", "")
    text = text.replace("    zip: []\n", "")
    if "model:" not in extra:
        text += "    model: {name: mlp, hidden: 8}\n"
    started = time.perf_counter()
    result = bench("run", "--matrix", write_matrix(text), "--out", tmp_path / "o")
    assert message in one_line_error(result)
    assert time.perf_counter() - started < 10


def test_threads_far_above_the_machine_are_refused(bench, write_matrix, tmp_path) -> None:
    result = bench("run", "--matrix", write_matrix(SMALL), "--threads", "100000")
    assert "between 1 and 1024" in one_line_error(result)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("strategy.lr=.nan", "got nan"),
        ("strategy.lr=.inf", "got inf"),
        ("strategy.weight_decay=-.inf", "got -inf"),
        ("dataset.val_fraction=1", "between 0 and 1 (not 0 or 1), got 1"),
        ("dataset.val_fraction=.nan", "got nan"),
        ("seeds=1180591620717411303424", "a seed between 0 and"),
    ],
)
def test_non_finite_and_edge_numbers_are_validation_errors(
    bench, write_matrix, tmp_path, setting, message
) -> None:
    result = bench("run", "--matrix", write_matrix(SMALL), "--set", setting, "--out", tmp_path)
    assert message in one_line_error(result)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SMALL.replace("  e:\n", '  "e\\n":\n'), "experiment names are 1 to 100 letters"),
        (SMALL.replace("  e:\n", '  "e\\u0007x":\n'), "experiment names are 1 to 100 letters"),
        (SMALL.replace("  e:\n", f"  {'e' * 300}:\n"), "experiment names are 1 to 100 letters"),
        (SMALL.replace("  e:\n", "  e.x:\n"), "experiment names are 1 to 100 letters"),
        (SMALL.replace("name: small", 'name: "small\\n"'), "name: expected a name of 1 to 100"),
        (SMALL.replace("name: small", f"name: {'s' * 300}"), "name: expected a name of 1 to 100"),
    ],
    ids=["newline", "control", "long", "dot", "matrix-newline", "matrix-long"],
)
def test_odd_names_are_refused(bench, write_matrix, tmp_path, text, message) -> None:
    result = bench("run", "--matrix", write_matrix(text), "--out", tmp_path / "o")
    assert message in one_line_error(result)
    assert not (tmp_path / "o").exists()
