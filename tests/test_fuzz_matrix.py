"""Any YAML document gives a valid matrix or a clean one-line error, never a crash."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from dlbench import DlbenchError
from dlbench.bench.matrix import DEFAULT_KEYS, TOP_KEYS, load_matrix
from dlbench.bench.matrix.experiment import EXPERIMENT_KEYS
from dlbench.bench.matrix.tables import LEADERBOARD_KEYS, MODEL_CARD_KEYS, TABLE_KEYS

# Every key the matrix format knows, then parameter names, plugin names, metrics and references.
KEYS = list(
    dict.fromkeys(
        [
            *TOP_KEYS,
            *DEFAULT_KEYS,
            *EXPERIMENT_KEYS,
            *TABLE_KEYS,
            *MODEL_CARD_KEYS,
            *LEADERBOARD_KEYS,
            "depth",
            "hidden",
            "epochs",
            "lr",
            "teacher",
            "from",
            "where",
            "mlp",
            "digits",
            "plain",
            "distill",
            "model.depth",
            "model.name",
            "val_acc",
            "grad_norms",
            "steps",
            "e",
            "f",
        ]
    )
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 12),
    st.floats(allow_nan=True),
    st.sampled_from(KEYS),
    st.text(max_size=5),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    ),
    max_leaves=25,
)
# Documents shaped like a matrix, with plausible and implausible values, so that the fuzzing
# reaches expansion, references and tables rather than stopping at the first check.
values = st.one_of(scalars, st.lists(scalars, max_size=3), documents)
plugin_names = st.sampled_from(["mlp", "residual_mlp", "cnn", "digits", "plain", "distill", "x"])
section = st.one_of(
    plugin_names,
    st.fixed_dictionaries(
        {"name": st.one_of(plugin_names, st.lists(plugin_names, max_size=3))},
        optional={
            "depth": values,
            "hidden": values,
            "epochs": values,
            "lr": values,
            "channels": values,
            "blocks": values,
            "teacher": st.one_of(
                values,
                st.fixed_dictionaries(
                    {"from": st.sampled_from(["e", "f", "g"])}, optional={"where": values}
                ),
            ),
        },
    ),
    documents,
)
table = st.one_of(
    documents,
    st.fixed_dictionaries(
        {"rows": st.sampled_from(["model.depth", "model.name", "seed", "x"])},
        optional={
            "kind": st.sampled_from(["metric", "model_card", "leaderboard", "x"]),
            "columns": st.sampled_from(["model.name", "model.depth", "strategy.lr"]),
            "metric": st.sampled_from(["val_acc", "test_acc", "x"]),
            "derived": values,
            "labels": values,
            "experiments": values,
            "metrics": values,
        },
    ),
)
experiment = st.fixed_dictionaries(
    {},
    optional={
        "model": section,
        "dataset": section,
        "strategy": section,
        "seeds": values,
        "zip": values,
        "exclude": values,
        "tables": st.lists(table, max_size=2),
        "probes": values,
    },
)
defaults = st.fixed_dictionaries(
    {
        "dataset": st.one_of(st.just("digits"), section),
        "strategy": st.one_of(st.just({"name": "plain", "epochs": 1}), section),
        "model": st.one_of(st.just("mlp"), section),
    },
    optional={"seeds": values},
)
matrices = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["m"] * 8 + ["bad name", 3]),
        "defaults": defaults,
        "experiments": st.dictionaries(
            st.sampled_from(["e", "f", "g", 1, None]), experiment, min_size=1, max_size=3
        ),
    },
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(documents, matrices, matrices, matrices))
def test_loader_never_crashes(catalog, tmp_path, document) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        load_matrix(path, catalog)
    except DlbenchError as exc:
        assert "\n" not in str(exc)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=80))
def test_loader_survives_any_text(catalog, tmp_path, text) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text)
    try:
        load_matrix(path, catalog)
    except DlbenchError as exc:
        assert "\n" not in str(exc)
