"""``tune``: search a space under a hard budget, in three lines.

    from lowcarb.tuning import EnergyBudget, load_space, tune

    result = tune(load_space("space.yaml"), budget=EnergyBudget.of(kwh=0.01))
    print(result.best, result.pareto)

A :class:`~lowcarb.tuning.SearchSpace` (scikit-learn estimators on bundled data or a CSV) or any
:class:`FunctionPlan` (your own ``sample(trial)`` and ``train(params, report)``) can be searched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lowcarb.errors import UsageError
from lowcarb.tuning._budget import BudgetState, EnergyBudget
from lowcarb.tuning._pruning import EnergyHalvingPruner
from lowcarb.tuning._runner import StepReporter, TrialOutcome
from lowcarb.tuning._space import SearchSpace, suggest
from lowcarb.tuning._storage import close_study, open_budget_store, open_study
from lowcarb.tuning._study import run_worker, start_workers
from lowcarb.tuning._study_config import DIRECTIONS, StudyConfig
from lowcarb.tuning._summary import TuneResult, summarize_study

__all__ = ["FunctionPlan", "SpacePlan", "tune"]


@dataclass(frozen=True)
class FunctionPlan:
    """A search given as two functions (module-level, so worker processes can import them).

    Attributes:
        sample: ``sample(trial) -> params``: the Optuna suggestions.
        train: ``train(params, report) -> {"metric": ..., ...}`` or a number (the metric); call
            ``report(step, value)`` after each step so the budget and the pruner can stop it.
    """

    sample_fn: Callable[[Any], dict[str, Any]]
    train_fn: Callable[[Mapping[str, Any], StepReporter], Any]

    def sample(self, trial: Any) -> dict[str, Any]:
        return self.sample_fn(trial)

    def work(self, params: Mapping[str, Any]) -> Callable[[StepReporter], dict[str, Any]]:
        train = self.train_fn

        def run(report: StepReporter) -> dict[str, Any]:
            out = train(params, report)
            return dict(out) if isinstance(out, Mapping) else {"metric": float(out)}

        return run


@dataclass
class SpacePlan:
    """A :class:`SearchSpace` as a plan: scikit-learn fit step by step, then inference knobs
    (structured pruning, ONNX FP32/INT8) scored by measured inference energy."""

    space: SearchSpace
    _split: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {"space": self.space, "_split": None}  # each worker loads its own data

    def split(self) -> Any:
        if self._split is None:
            from lowcarb.tuning._datasets import load_data

            s = self.space
            self._split = load_data(
                s.dataset, test_size=s.test_size, validation_size=s.validation_size, seed=s.seed
            )
        return self._split

    def sample(self, trial: Any) -> dict[str, Any]:
        return suggest(trial, self.space)

    def work(self, params: Mapping[str, Any]) -> Callable[[StepReporter], dict[str, Any]]:
        split = self.split()  # loaded in the worker, inherited by the forked trial
        space = self.space

        def run(report: StepReporter) -> dict[str, Any]:
            return _fit_and_score(space, split, dict(params), report)

        return run


def _fit_and_score(
    space: SearchSpace, split: Any, params: dict[str, Any], report: StepReporter
) -> dict[str, Any]:
    from lowcarb.compression import export, inference_energy, prune
    from lowcarb.profiling import count_complexity
    from lowcarb.tuning._fitting import fit
    from lowcarb.tuning._metrics import score_predictions

    precision = params.pop("quantize", "fp32")
    ratio = params.pop("prune_ratio", None)
    fitted = fit(
        space.estimator,
        params,
        split,
        on_step=report,
        max_steps=space.max_steps,
        patience=space.patience,
        metric=space.metric,  # type: ignore[arg-type]  # checked by the space parser
        seed=space.seed,
    )
    model = prune(fitted.model, float(ratio)) if ratio else fitted.model
    notes: list[str] = []
    try:
        served = export(model, split.x_train[:64], quantize=precision)
        predict, size_bytes = served.predict, served.size_bytes
        notes.extend(served.notes)
    except UsageError as exc:  # not exportable: the scikit-learn model is scored, as fp32
        predict, size_bytes, precision = model.predict, None, "fp32"
        notes.append(str(exc))
    metric = score_predictions(split.y_val, predict(split.x_val), space.metric)  # type: ignore[arg-type]
    test = score_predictions(split.y_test, predict(split.x_test), space.metric)  # type: ignore[arg-type]
    stats = inference_energy(predict, split.x_val)
    return {
        "metric": metric,
        "test_metric": test,
        "inference_energy": stats.energy_per_1k_j,
        "inference_energy_method": stats.method,
        "flops": count_complexity(model).flops,
        "precision": precision,
        "size_bytes": size_bytes,
        "steps": fitted.steps,
        "stopped_early": fitted.stopped_early,
        "notes": "; ".join(notes)[:500],
    }


def tune(
    plan: SearchSpace | Any,
    *,
    budget: EnergyBudget,
    study_name: str = "lowcarb-tune",
    storage: str | None = None,
    workers: int = 1,
    objectives: tuple[str, ...] | None = None,
    n_trials: int | None = None,
    timeout_s: float | None = None,
    zone: str | None = None,
    pue: float | None = None,
    ledger: str | None = "",
    deadline: datetime | None = None,
    seed: int | None = None,
    pruner: EnergyHalvingPruner | None = None,
    first_cost: float | None = None,
    reclaim_after_s: float = 60.0,
    environ: Mapping[str, str] | None = None,
    on_trial: Callable[[Any, TrialOutcome, BudgetState], None] | None = None,
    on_start: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> TuneResult:
    """Search ``plan`` until ``budget`` (or ``n_trials``, ``timeout_s``, ``deadline``) stops it.

    Args:
        plan: A :class:`SearchSpace` or a plan such as :class:`FunctionPlan`.
        budget: The hard budget for the whole study, across all workers.
        study_name: Optuna study name; an existing study in ``storage`` is resumed.
        storage: Optuna RDB storage URL (SQLite, PostgreSQL); None for in-memory.
        workers: Worker processes (needs ``storage`` above 1).
        objectives: Defaults to the space's (``metric`` and ``energy``).
        n_trials, timeout_s: Other limits.
        zone, pue, ledger: Where the work runs and where trials are recorded (``""``: nowhere).
        deadline: With ``zone``, pace trials into the cleanest windows before it.
        seed: Sampler seed.
        pruner: Successive halving on joules (multi-objective too); None for no pruning.
        first_cost: The first trial's reservation (default a twentieth of the budget).
        reclaim_after_s: A reservation whose worker has not reported for this long is
            reclaimed (its trial failed), charging the spend last reported.
        environ: Environment for settings (default: empty, so tests are hermetic).
        on_trial: Called in this process after each of its trials.
        on_start: Called once the study and its budget are open, before the first trial (a
            progress display starts there, after every check of the input has passed).
        sleep: How pacing waits (injected in tests).
        clock: Wall clock in seconds since the epoch (``time.time``): pacing plans from it and a
            deadline must lie after it (injected in tests, so a plan does not depend on the hour
            they run at).

    Raises:
        UsageError: Bad storage, ``workers`` < 1, more than one worker without a storage, an
            objective that is not known.
    """
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if isinstance(plan, SearchSpace):
        space = plan
        plan = SpacePlan(space)
        objectives = objectives or space.objectives
        reward = (
            (space.reward.alpha, space.reward.beta, space.reward.gamma) if space.reward else None
        )
    else:
        objectives = objectives or ("metric", "energy")
        reward = None
    unknown = [o for o in objectives if o not in DIRECTIONS]
    if unknown:
        raise UsageError(f"unknown objective {unknown[0]!r}; choose from {', '.join(DIRECTIONS)}")
    config = StudyConfig(
        study_name=study_name,
        budget=budget,
        storage=storage,
        objectives=tuple(objectives),
        reward=reward,
        n_trials=n_trials,
        timeout_s=timeout_s,
        zone=zone,
        pue=pue,
        ledger=ledger,
        seed=seed,
        pruner=pruner,
        deadline=deadline,
        first_cost=first_cost,
        reclaim_after_s=reclaim_after_s,
        environ=dict(environ or {}),
    )
    if deadline is not None:
        if not zone:
            raise UsageError("a deadline paces trials in a zone: give --zone (or LOWCARB_ZONE)")
        if deadline.tzinfo is None:
            raise UsageError(
                f"--deadline {deadline.isoformat()} has no time zone; give one such as "
                f"{deadline.isoformat()}+00:00"
            )
        if deadline <= datetime.fromtimestamp(clock(), UTC):
            raise UsageError(
                f"--deadline {deadline.isoformat()} is not in the future; give a later one"
            )
    if workers > 1 and storage is None:
        raise UsageError(
            "--workers above 1 needs a shared storage (an in-memory study lives in one process); "
            "give --storage sqlite:///study.db or a PostgreSQL URL"
        )
    study = open_study(config)
    store = open_budget_store(config)
    try:
        store.open(study_name, budget)
        if on_start is not None:
            on_start()
        procs = start_workers(config, plan, workers - 1)
        try:
            reason = run_worker(
                config, plan, study=study, store=store, on_trial=on_trial, sleep=sleep, clock=clock
            )
        finally:
            for p in procs:
                p.join()
        return summarize_study(config, study, store.state(study_name), reason)
    finally:
        close_study(study, store)
