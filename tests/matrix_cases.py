"""Corpora of bad matrices shared by the matrix tests and the failure tests: each case is
(matrix text, the line the error must name or None, a pattern the message must match)."""

from __future__ import annotations

BASE = """\
name: m
defaults:
  dataset: {name: digits}
  strategy: {name: plain, epochs: 1}
experiments:
  e:
    model: {name: mlp, depth: [2, 3]}
"""

REFERENCE_MATRIX = """\
name: deps
defaults:
  dataset: {name: digits, train_subset: 200}
  strategy: {name: plain, epochs: 1, batch_size: 64}
experiments:
  student:
    model: {name: mlp, hidden: 16}
    strategy: {name: distill, teacher: {from: teacher}, alpha: 0.5, epochs: 1}
  teacher:
    model: {name: mlp, hidden: 32}
"""

BAD_MATRICES = {
    "yaml-syntax": ("name: m\nexperiments: {e: [1, 2}\n", 2, r"invalid YAML"),
    "not-a-mapping": ("- 1\n- 2\n", None, r"expected a mapping with keys"),
    "empty-file": ("", None, r"expected a mapping with keys"),
    "unknown-top-key": (BASE + "colour: red\n", 8, r"colour: unknown key; accepted: name,"),
    "bad-name": (BASE.replace("name: m\n", "name: 'a b'\n"), 1, r"name: expected a name"),
    "no-experiments": ("name: m\nexperiments: {}\n", 2, r"experiments: expected a mapping"),
    "unknown-experiment-key": (
        BASE.replace("    model:", "    modle: x\n    model:"),
        7,
        r"e\.modle: unknown key",
    ),
    "unknown-model": (BASE.replace("name: mlp,", "name: mlpp,"), 7, r"did you mean 'mlp'"),
    "unknown-dataset": (
        BASE.replace("{name: digits}", "{name: mnst}"),
        3,
        r"unknown dataset 'mnst'; did you mean 'mnist'",
    ),
    "unknown-strategy": (
        BASE.replace("name: plain", "name: plian"),
        4,
        r"unknown strategy 'plian'",
    ),
    "unknown-executor": (
        "executor: slurmm\n" + BASE,
        1,
        r"unknown executor 'slurmm'; did you mean 'slurm'\? choices: local, ray, slurm",
    ),
    "unknown-param": (
        BASE.replace("depth: [2, 3]", "dept: 3"),
        7,
        r"unknown parameter 'dept' for model 'mlp'; did you mean 'depth'\? "
        r"accepted: activation, depth, hidden",
    ),
    "wrong-type": (
        BASE.replace("epochs: 1", "epochs: ten"),
        4,
        r"'epochs': expected an integer >= 1, got 'ten'",
    ),
    "zero-epochs": (BASE.replace("epochs: 1", "epochs: 0"), 4, r"expected an integer >= 1, got 0"),
    "negative-lr": (
        BASE.replace("epochs: 1", "epochs: 1, lr: -0.1"),
        4,
        r"'lr': expected a number > 0",
    ),
    "zero-batch": (BASE.replace("epochs: 1", "epochs: 1, batch_size: 0"), 4, r"'batch_size'"),
    "bad-choice": (
        BASE.replace("epochs: 1", "epochs: 1, optimizer: adagrad"),
        4,
        r"one of 'adam', 'adamw', 'sgd'",
    ),
    "bool-for-int": (BASE.replace("depth: [2, 3]", "depth: true"), 7, r"expected an integer"),
    "depth-too-small": (
        BASE.replace("depth: [2, 3]", "depth: 1"),
        7,
        r"expected an integer between 2 and 1000",
    ),
    "empty-axis": (BASE.replace("depth: [2, 3]", "depth: []"), 7, r"empty axis"),
    "empty-seeds": (BASE + "    seeds: []\n", 8, r"empty axis: give at least one seed"),
    "bad-seed": (BASE + "    seeds: [0, x]\n", 8, r"expected a seed between 0 and"),
    "no-model": (
        BASE.replace("    model: {name: mlp, depth: [2, 3]}\n", "    title: t\n"),
        6,
        r"no model given",
    ),
    "model-not-mapping": (
        BASE.replace("{name: mlp, depth: [2, 3]}", "[1, 2]"),
        7,
        r"expected a mapping with 'name'",
    ),
    "zip-unknown-axis": (
        BASE + "    zip: [[model.depth, strategy.lr]]\n",
        8,
        r"'strategy\.lr' is not an axis",
    ),
    "zip-length": (
        BASE.replace("{name: plain, epochs: 1}", "{name: plain, lr: [0.1, 0.2, 0.3]}")
        + "    zip: [[model.depth, strategy.lr]]\n",
        8,
        r"same length",
    ),
    "exclude-not-axis": (
        BASE + "    exclude: [{model.hidden: 3}]\n",
        8,
        r"not an axis of this experiment; axes: model\.depth",
    ),
    "exclude-everything": (
        BASE + "    exclude: [{model.depth: [2, 3]}]\n",
        8,
        r"excludes every combination",
    ),
    "table-unknown-axis": (
        BASE + "    tables: [{rows: model.width, metric: val_acc}]\n",
        8,
        r"rows: expected one of this experiment's axes \(model\.depth\) or a parameter key",
    ),
    "table-unknown-metric": (
        BASE + "    tables: [{rows: model.depth, metric: accuracy}]\n",
        8,
        r"metric: expected one of .*val_acc",
    ),
    "table-bad-interval": (
        BASE + "    tables: [{rows: model.depth, metric: val_acc, interval: ci99}]\n",
        8,
        r"interval: expected one of std, ci95",
    ),
    "table-bad-at": (
        BASE + "    tables: [{rows: model.depth, metric: val_acc, at: middle}]\n",
        8,
        r"at: expected one of best, last",
    ),
    "table-unknown-key": (
        BASE + "    tables: [{rows: model.depth, metric: val_acc, colour: red}]\n",
        8,
        r"colour: unknown key",
    ),
    "table-derived-unknown-column": (
        BASE.replace("{name: mlp,", "{name: [mlp, residual_mlp],")
        + "    tables: [{rows: model.depth, columns: model.name, metric: val_acc,\n"
        + "              derived: [{title: I, diff: [resnet, mlp]}]}]\n",
        9,
        r"'resnet' is not a column; columns: mlp, residual_mlp",
    ),
    "table-hides-cells": (
        BASE.replace("{name: mlp,", "{name: [mlp, residual_mlp],")
        + "    tables: [{rows: model.depth, metric: val_acc}]\n",
        8,
        r"differ in model\.name",
    ),
    "duplicate-key": (BASE + "    model: mlp\n", 8, r"duplicate key"),
    "tables-not-list": (
        BASE + "    tables: {rows: model.depth}\n",
        8,
        r"expected a list of tables",
    ),
    "title-not-string": (BASE + "    title: [1]\n", 8, r"title: expected a string"),
    "defaults-unknown-key": (
        BASE.replace("  dataset: {name: digits}", "  datset: {name: digits}"),
        3,
        r"defaults\.datset: unknown key",
    ),
}


BAD_REFERENCES = {
    "cycle": (
        REFERENCE_MATRIX.replace(
            "    model: {name: mlp, hidden: 32}",
            "    model: {name: mlp, hidden: 32}\n"
            "    strategy: {name: distill, teacher: {from: student}}",
        ),
        r"cycle: (student -> teacher -> student|teacher -> student -> teacher)",
    ),
    "self": (
        REFERENCE_MATRIX.replace("{from: teacher}", "{from: student}"),
        r"cycle: student -> student",
    ),
    "dangling": (
        REFERENCE_MATRIX.replace("{from: teacher}", "{from: teachr}"),
        r"student\.strategy\.teacher\.from: refers to unknown experiment 'teachr'; experiments: "
        r"student, teacher",
    ),
    "not-a-reference-param": (
        REFERENCE_MATRIX.replace(
            "model: {name: mlp, hidden: 16}", "model: {name: mlp, hidden: {from: teacher}}"
        ),
        r"model 'mlp' parameter 'hidden' does not take a reference",
    ),
    "where-no-match": (
        REFERENCE_MATRIX.replace("{from: teacher}", "{from: teacher, where: {model.hidden: 7}}"),
        r"matches no cell of experiment 'teacher'",
    ),
    "where-bad-key": (
        REFERENCE_MATRIX.replace("{from: teacher}", "{from: teacher, where: {model.width: 7}}"),
        r"'model\.width' is not a key of the referenced cells",
    ),
    "unknown-reference-key": (
        REFERENCE_MATRIX.replace("{from: teacher}", "{from: teacher, pick: 1}"),
        r"unknown key 'pick' in a reference",
    ),
    "missing-teacher": (
        REFERENCE_MATRIX.replace("teacher: {from: teacher}, ", ""),
        r"impossible cell: strategy 'distill' needs teacher",
    ),
    "plain-string-teacher": (
        REFERENCE_MATRIX.replace("{from: teacher}", "teacher.pt"),
        r"expected a reference \{from: EXPERIMENT\}",
    ),
}
