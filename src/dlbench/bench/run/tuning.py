"""The tuning planner: each arm of a tuned experiment gets the same number of trials, proposed by
Optuna (extra ``dlbench[tune]``), then final runs with its best trial's parameters.

Proposals are a pure function of the study's seed and the stored trials: the study is replayed
from the store on every call, asking a fixed number of trials at a time (``wave``) and telling
each wave's results once all of them are stored, so a rerun proposes the same trials without
training them, an interrupted study continues, and ``--jobs``, Ray or SLURM propose what one
process does. Final runs use seeds ``0, 1, ...``; trials use seeds from
``TRIAL_SEED_BASE``, so a final number never comes from a trial.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dlbench.bench.matrix.experiment import Experiment
from dlbench.bench.run.planners import DecisionPlanner, PlannedCells
from dlbench.registry.cell import COMPONENT_KINDS, Cell
from dlbench.registry.errors import DlbenchError, install_hint
from dlbench.registry.records import CellRecord
from dlbench.reports.decisions import comparisons
from dlbench.stats.tuning import TRIAL_SEED_BASE, TuneSpec, best_trial, trial_value


@dataclass(frozen=True)
class ArmStudy:
    """One arm's trials so far, and whether its budget is spent (every trial stored)."""

    trials: list[Cell]
    done: bool


@dataclass(frozen=True)
class TuningPlanner:
    """The trials, then the final runs, of tuned experiments."""

    experiments: Sequence[Experiment]

    def study(
        self, experiment: Experiment, arm: Cell, records: Mapping[str, CellRecord]
    ) -> ArmStudy:
        """Replay ``arm``'s study from ``records``: the trials proposed so far."""
        spec = _spec(experiment)
        optuna = _optuna()
        study = optuna.create_study(
            direction="maximize" if spec.maximize else "minimize", sampler=_sampler(optuna, spec)
        )
        distributions = {d.key: _distribution(optuna, d) for d in spec.space}
        trials: list[Cell] = []
        while len(trials) < spec.trials:
            wave = [
                study.ask(distributions) for _ in range(min(spec.wave, spec.trials - len(trials)))
            ]
            cells = [_trial_cell(arm, t.params, len(trials) + i) for i, t in enumerate(wave)]
            trials += cells
            if any(cell.id not in records for cell in cells):
                return ArmStudy(trials, done=False)
            for trial, cell in zip(wave, cells, strict=True):
                value = trial_value(records[cell.id], spec)
                if value is None:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, value)
        return ArmStudy(trials, done=True)

    def studies(self, experiment: Experiment, records: Mapping[str, CellRecord]) -> list[ArmStudy]:
        """Every arm's study, in the experiment's order."""
        return [self.study(experiment, arm, records) for arm in experiment.cells]

    def finals(
        self,
        experiment: Experiment,
        records: Mapping[str, CellRecord],
        studies: Sequence[ArmStudy],
    ) -> list[Cell]:
        """Each tuned arm's final runs planned now (none until its study is done)."""
        spec = _spec(experiment)
        templates = []
        for study in studies:
            best = best_trial(study.trials, records, spec) if study.done else None
            if best is not None:
                templates.append(replace(best, seed=0))
        decided = comparisons(templates, experiment.tables)
        if not decided:
            return [replace(t, seed=s) for t in templates for s in range(spec.final_runs)]
        # The tables decide: each arm's final runs are planned until its comparisons are.
        runs = max(c.spec.max_runs for c in decided)
        candidates = tuple(replace(t, seed=s) for t in templates for s in range(runs))
        return DecisionPlanner([replace(experiment, cells=candidates)]).wanted(records)

    def split(
        self, experiment: Experiment, records: Mapping[str, CellRecord]
    ) -> tuple[list[Cell], list[Cell]]:
        """The experiment's final runs and its trials, planned now."""
        studies = self.studies(experiment, records)
        trials = [cell for study in studies for cell in study.trials]
        return self.finals(experiment, records, studies), trials

    def planned(self, records: Mapping[str, CellRecord]) -> dict[str, PlannedCells]:
        """Each experiment's final runs and trials planned now."""
        found = {}
        for experiment in self.experiments:
            finals, trials = self.split(experiment, records)
            found[experiment.name] = (tuple(finals), tuple(trials))
        return found

    def wanted(self, records: Mapping[str, CellRecord]) -> list[Cell]:
        """Every arm's trials proposed so far, and the final runs of arms whose study is done."""
        cells = []
        for experiment in self.experiments:
            finals, trials = self.split(experiment, records)
            cells += trials + finals
        return cells

    def notes(
        self, records: Mapping[str, CellRecord], wave_seconds: float | None = None
    ) -> list[str]:
        """Each arm's budget spent so far."""
        lines = []
        for experiment in self.experiments:
            spec = _spec(experiment)
            for arm, study in zip(experiment.cells, self.studies(experiment, records), strict=True):
                stored = sum(1 for cell in study.trials if cell.id in records)
                state = "done" if study.done else f"{stored} of {spec.trials} trials stored"
                arm_text = arm.describe().rpartition(", seed ")[0]
                lines.append(f"{experiment.name}: tune {arm_text}: {state}")
        return lines


def _spec(experiment: Experiment) -> TuneSpec:
    assert experiment.tune is not None
    return experiment.tune


def _trial_cell(arm: Cell, params: Mapping[str, Any], number: int) -> Cell:
    """``arm`` with a trial's parameters, at the trial's own seed."""
    components = {kind: getattr(arm, kind) for kind in COMPONENT_KINDS}
    for key, value in params.items():
        kind, _, name = key.partition(".")
        component = components[kind]
        components[kind] = replace(component, params={**component.params, name: value})
    return replace(arm, **components, seed=TRIAL_SEED_BASE + number)


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise DlbenchError(f"a tune block needs Optuna: {install_hint('tune')}") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _sampler(optuna: Any, spec: TuneSpec) -> Any:
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    if spec.sampler == "quasi_random":
        with warnings.catch_warnings():
            # Optuna marks its QMC sampler experimental; what it draws is fixed by the seed.
            warnings.simplefilter("ignore")
            return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=spec.seed)
    # TPE models the trials once a third of the budget is random (at least two, at most ten).
    startup = min(10, max(2, spec.trials // 3))
    return optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=startup)


def _distribution(optuna: Any, dimension: Any) -> Any:
    distributions = optuna.distributions
    if dimension.distribution == "choice":
        return distributions.CategoricalDistribution(list(dimension.values))
    low, high = dimension.values
    if dimension.distribution == "int":
        return distributions.IntDistribution(int(low), int(high))
    return distributions.FloatDistribution(
        float(low), float(high), log=dimension.distribution == "log_uniform"
    )
