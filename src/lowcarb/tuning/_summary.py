"""The result of a budgeted search: spend, trials, best, Pareto front, why it stopped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lowcarb.tuning._budget import BudgetState, EnergyBudget
from lowcarb.tuning._study_config import StudyConfig

__all__ = ["TuneResult", "pareto_front", "summarize_study"]


@dataclass(frozen=True)
class TuneResult:
    """What a budgeted search did.

    Attributes:
        study_name: The study.
        budget: The budget.
        spent: What the study spent, in the budget's unit (from the budget store: settled and
            reclaimed reservations, all workers).
        energy_kwh: Facility energy of all trials (measured or estimated, see ``energy_methods``).
        co2e_g: Their CO2e.
        energy_methods: Methods of the trials' energy figures (``measured``/``estimated``).
        trials: Trials by state (``complete``, ``pruned``, ``fail``).
        objectives: The study's objectives.
        best: The best trial (single objective) or the best metric on the Pareto front.
        pareto: The Pareto front over the objectives (multi-objective), else over
            (metric, energy).
        stopped_reason: ``budget``, ``n_trials``, ``timeout`` or ``deadline``.
        stops: Trials stopped from inside, with the reason.
        co2e_saved_g: With pacing: CO2e saved against starting each trial at once (forecast).
    """

    study_name: str
    budget: EnergyBudget
    spent: float
    energy_kwh: float
    co2e_g: float
    energy_methods: tuple[str, ...]
    trials: dict[str, int]
    objectives: tuple[str, ...]
    best: dict[str, Any] | None
    pareto: list[dict[str, Any]]
    stopped_reason: str
    stops: list[dict[str, Any]]
    co2e_saved_g: float | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``lowcarb tune --json`` (DESIGN.md)."""
        return {
            "study": self.study_name,
            "energy_kwh": self.energy_kwh,
            "co2e_g": self.co2e_g,
            "energy_methods": list(self.energy_methods),
            "budget_kwh": self.budget.limit if self.budget.unit == "kwh" else None,
            "budget_co2e_kg": self.budget.limit if self.budget.unit == "co2e_kg" else None,
            "spent": self.spent,
            "spent_unit": self.budget.unit,
            "trials": self.trials,
            "objectives": list(self.objectives),
            "best": self.best,
            "pareto": self.pareto,
            "stopped_reason": self.stopped_reason,
            "stops": self.stops,
            "co2e_saved_g": self.co2e_saved_g,
        }


def pareto_front(points: Sequence[tuple[float, ...]], maximize: Sequence[bool]) -> list[int]:
    """Indices of the points no other point dominates (ties kept)."""
    signed = [tuple(v if up else -v for v, up in zip(p, maximize, strict=True)) for p in points]
    front = []
    for i, p in enumerate(signed):
        dominated = any(
            all(q_k >= p_k for q_k, p_k in zip(q, p, strict=True)) and q != p
            for j, q in enumerate(signed)
            if j != i
        )
        if not dominated:
            front.append(i)
    return front


def _entry(trial: Any, names: tuple[str, ...], values: tuple[float, ...]) -> dict[str, Any]:
    attrs = trial.user_attrs
    return {
        "trial": trial.number,
        "params": dict(trial.params),
        "values": dict(zip(names, values, strict=True)),
        "energy_kwh": attrs.get("energy_kwh"),
        "energy_method": attrs.get("energy_method"),
        "test_metric": attrs.get("result.test_metric"),
        "inference_energy_j_per_1k": attrs.get("result.inference_energy"),
        "precision": attrs.get("result.precision"),
    }


def summarize_study(config: StudyConfig, study: Any, state: BudgetState, reason: str) -> TuneResult:
    """Read the study's trials and budget into a :class:`TuneResult`."""
    trials = study.get_trials(deepcopy=False)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    complete = [t for t in trials if t.state.name == "COMPLETE" and t.values is not None]
    names = config.objectives
    maximize = [d == "maximize" for d in config.directions]
    if len(names) == 1:
        # One objective: the front is over (metric, energy) so the trade-off is still shown.
        front_names: tuple[str, ...] = ("metric", "energy")
        points: list[tuple[float, ...]] = [
            (
                float(t.user_attrs.get("result.metric", t.values[0])),
                float(t.user_attrs["energy_kwh"]),
            )
            for t in complete
        ]
        front_max = [True, False]
    else:
        front_names, front_max = names, maximize
        points = [tuple(float(v) for v in t.values) for t in complete]
    front = sorted(
        (_entry(complete[i], front_names, points[i]) for i in pareto_front(points, front_max)),
        key=lambda e: e["trial"],
    )
    best = None
    if complete:
        key = 0  # the first objective is the metric (or the reward): the best is the best of it
        pick = max if maximize[key] else min
        chosen = pick(complete, key=lambda t: t.values[key])
        best = {
            "trial": chosen.number,
            "params": dict(chosen.params),
            "value": chosen.values[key],
            "values": dict(zip(names, chosen.values, strict=True)),
            "test_metric": chosen.user_attrs.get("result.test_metric"),
        }
    stops = [
        {"trial": t.number, "reason": t.user_attrs["stop_reason"]}
        for t in trials
        if t.user_attrs.get("stop_reason")
    ]
    saved = [
        t.user_attrs["paced_saved_co2e_g"] for t in trials if "paced_saved_co2e_g" in t.user_attrs
    ]
    return TuneResult(
        study_name=config.study_name,
        budget=config.budget,
        spent=state.spent,
        energy_kwh=sum(float(t.user_attrs.get("energy_kwh", 0.0)) for t in trials),
        co2e_g=sum(float(t.user_attrs.get("co2e_g", 0.0)) for t in trials),
        energy_methods=tuple(
            sorted(
                {
                    str(t.user_attrs["energy_method"])
                    for t in trials
                    if "energy_method" in t.user_attrs
                }
            )
        ),
        trials=counts,
        objectives=names,
        best=best,
        pareto=front,
        stopped_reason=reason,
        stops=stops,
        co2e_saved_g=sum(saved) if saved else None,
    )
