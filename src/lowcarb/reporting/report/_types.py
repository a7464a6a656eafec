"""What a report holds beyond the emission figures: model versions, scheduler savings, tuning
fronts, decisions, the audit section, and :class:`ReportData` that gathers them all.

Frozen dataclasses with units in every field name; ``to_dict`` gives plain JSON types (the JSON
and CSV reports are made from it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lowcarb.reporting.report._figures import Figures, GroupRow, Scope2, SeriesPoint
from lowcarb.reporting.report._query import ReportQuery

__all__ = [
    "Audit",
    "BudgetRow",
    "DecisionRow",
    "Decisions",
    "ModelRow",
    "ParetoPoint",
    "ReportData",
    "SchedulerSavings",
    "SourceRow",
    "TuningStudy",
]


@dataclass(frozen=True, slots=True)
class ModelRow:
    """One model version: ledger figures of the period, plus its profile when one was given.

    Attributes:
        model, version: As attributed in the ledger (or the profile).
        training: Training records (kind ``run``/``correction``, stage unset or training).
        inference: Inference records.
        inferences: Inferences the inference records report (``metadata.inferences``), or 0.
        energy_per_1k_j_ledger: Facility joules per 1,000 inferences from the ledger, or None.
        profile: The profile JSON (size, FLOPs, latency, J per 1k, accuracy, ...), or None.
        gate: The latest gate decision in the period (``promote``/``reject``), or None.
    """

    model: str | None
    version: str | None
    training: Figures
    inference: Figures
    inferences: float
    energy_per_1k_j_ledger: float | None
    profile: dict[str, Any] | None
    gate: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        p = self.profile or {}
        return {
            "model": self.model,
            "version": self.version,
            "size_bytes": p.get("size_bytes"),
            "flops": p.get("flops"),
            "latency_p95_ms": p.get("latency_p95_ms"),
            "energy_per_1k_j": p.get("energy_per_1k_j"),
            "energy_method": p.get("energy_method"),
            "accuracy": p.get("accuracy"),
            "profile_training_co2e_kg": p.get("training_co2e_kg"),
            "training_records": self.training.records,
            "training_energy_kwh": self.training.energy_kwh,
            "training_co2e_g": self.training.co2e_g,
            "training_measured_share": self.training.measured_share,
            "inference_records": self.inference.records,
            "inference_energy_kwh": self.inference.energy_kwh,
            "inference_co2e_g": self.inference.co2e_g,
            "inferences": self.inferences,
            "energy_per_1k_j_ledger": self.energy_per_1k_j_ledger,
            "gate": self.gate,
            "has_profile": self.profile is not None,
        }


@dataclass(frozen=True, slots=True)
class SchedulerSavings:
    """Planned vs immediate intensity of the jobs the scheduler planned in the period.

    Intensities are weighted by job run time (``duration_h``). ``planned`` is the plan's
    forecast intensity at its chosen start, ``immediate`` the same forecast for starting at once
    in the first candidate zone; ``realised`` is what the hours the job ran actually had (only
    jobs that ran and whose intensity history was available).

    Attributes:
        available: False when the ledger has no job table (then ``reason`` says why).
        reason: Why nothing is reported, else None.
        jobs: Planned jobs whose planned start is in the period.
        hours: Their run time, hours.
        planned_intensity_g_per_kwh: Weighted mean planned intensity.
        immediate_intensity_g_per_kwh: Weighted mean immediate intensity.
        savings_pct: ``1 - planned / immediate``, percent (forecast).
        forecast_saved_co2e_g: Sum of ``now_co2e_g - expected_co2e_g`` of the plans that know
            the job's power; None when none does.
        realised_jobs: Jobs with a realised intensity.
        realised_intensity_g_per_kwh: Their weighted mean realised intensity.
        realised_savings_pct: ``1 - realised / immediate`` over those jobs, percent.
        by_team: ``(team, jobs, planned, immediate, savings_pct)`` per team.
    """

    available: bool
    reason: str | None = None
    jobs: int = 0
    hours: float = 0.0
    planned_intensity_g_per_kwh: float | None = None
    immediate_intensity_g_per_kwh: float | None = None
    savings_pct: float | None = None
    forecast_saved_co2e_g: float | None = None
    realised_jobs: int = 0
    realised_intensity_g_per_kwh: float | None = None
    realised_savings_pct: float | None = None
    by_team: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "available": self.available,
            "reason": self.reason,
            "jobs": self.jobs,
            "hours": self.hours,
            "planned_intensity_g_per_kwh": self.planned_intensity_g_per_kwh,
            "immediate_intensity_g_per_kwh": self.immediate_intensity_g_per_kwh,
            "savings_pct": self.savings_pct,
            "forecast_saved_co2e_g": self.forecast_saved_co2e_g,
            "realised_jobs": self.realised_jobs,
            "realised_intensity_g_per_kwh": self.realised_intensity_g_per_kwh,
            "realised_savings_pct": self.realised_savings_pct,
            "by_team": [dict(t) for t in self.by_team],
        }


@dataclass(frozen=True, slots=True)
class ParetoPoint:
    """A trial on the (metric up, energy down) Pareto front of its study."""

    trial: int | None
    metric: float
    energy_kwh: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {"trial": self.trial, "metric": self.metric, "energy_kwh": self.energy_kwh}


@dataclass(frozen=True, slots=True)
class TuningStudy:
    """The trials of one tuning study recorded in the ledger (kind ``trial``).

    Attributes:
        study: Study name (``metadata.study``).
        figures: Their energy and CO2e.
        with_metric: Trials whose record carries an objective value.
        front: Pareto front over (metric, energy), from trials that carry a metric.
        front_reason: Why there is no front, else None.
    """

    study: str | None
    figures: Figures
    with_metric: int
    front: tuple[ParetoPoint, ...]
    front_reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "study": self.study,
            **self.figures.to_dict(),
            "trials": self.figures.records,
            "with_metric": self.with_metric,
            "front": [p.to_dict() for p in self.front],
            "front_reason": self.front_reason,
        }


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """One decision record (a gate verdict, a retrain decision, ...), read generically.

    Attributes:
        time: When it was appended, ISO 8601 UTC.
        record_id: Its ledger id.
        type: ``gate``, the record's stage (e.g. ``retrain``), or the key of its metadata that
            holds a ``decision``; else its kind.
        outcome: The decision (``promote``, ``reject``, ``retrain``, ...) or None if unstated.
        team, project, model, version: Attribution.
        summary: Why, in one line (violations, reason), possibly shortened.
    """

    time: str
    record_id: str
    type: str
    outcome: str | None
    team: str | None
    project: str | None
    model: str | None
    version: str | None
    summary: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "time": self.time,
            "record_id": self.record_id,
            "type": self.type,
            "outcome": self.outcome,
            "team": self.team,
            "project": self.project,
            "model": self.model,
            "version": self.version,
            "summary": self.summary,
        }


@dataclass(frozen=True, slots=True)
class BudgetRow:
    """The latest status of one carbon budget a gate saw in the period."""

    scope: str
    period: str
    period_start: str
    limit_co2e_kg: float | None
    spent_co2e_kg: float | None
    used_pct: float | None
    state: str | None
    seen_at: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "scope": self.scope,
            "period": self.period,
            "period_start": self.period_start,
            "limit_co2e_kg": self.limit_co2e_kg,
            "spent_co2e_kg": self.spent_co2e_kg,
            "used_pct": self.used_pct,
            "state": self.state,
            "seen_at": self.seen_at,
        }


@dataclass(frozen=True, slots=True)
class Decisions:
    """Gate, budget and retrain decisions of the period.

    Attributes:
        total: Decision records in the period.
        rows: The latest of them, newest first (at most the read limit).
        truncated: True when ``rows`` holds only the latest ``len(rows)``; counts then cover
            only those.
        counts: ``(type, outcome, records)``, over ``rows``.
        budgets: Latest budget status per budget, from the gates' records.
    """

    total: int
    rows: tuple[DecisionRow, ...]
    truncated: bool
    counts: tuple[tuple[str, str | None, int], ...]
    budgets: tuple[BudgetRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "total": self.total,
            "truncated": self.truncated,
            "counts": [{"type": t, "outcome": o, "records": n} for t, o, n in self.counts],
            "rows": [r.to_dict() for r in self.rows],
            "budgets": [b.to_dict() for b in self.budgets],
        }


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One intensity source used in the period, with its provider and licence."""

    source: str | None
    records: int
    energy_kwh: float
    provider: str
    licence: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "source": self.source,
            "records": self.records,
            "energy_kwh": self.energy_kwh,
            "provider": self.provider,
            "licence": self.licence,
        }


@dataclass(frozen=True, slots=True)
class Audit:
    """What an auditor needs to trust the figures.

    Attributes:
        ledger: The ledger (URL, password hidden).
        ledger_id: Its id.
        entries: Records in the whole ledger when the report was made.
        head_hash: Hash of the last record (what a published checkpoint pins).
        verified: The chain was verified for this report (False: not asked for).
        verify: ``lowcarb ledger verify --json`` of that verification, or None.
        proves: What the verification rules out and what it cannot (``ruled_out``,
            ``not_ruled_out``).
        sources: Intensity sources behind the location-based figures, with licences.
        methodology: How each figure was computed, one sentence each.
        superseded: Records in the period left out because a correction replaces them.
    """

    ledger: str
    ledger_id: str | None
    entries: int
    head_hash: str
    verified: bool
    verify: dict[str, Any] | None
    proves: dict[str, list[str]]
    sources: tuple[SourceRow, ...]
    methodology: tuple[str, ...]
    superseded: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "ledger": self.ledger,
            "ledger_id": self.ledger_id,
            "entries": self.entries,
            "head_hash": self.head_hash,
            "verified": self.verified,
            "verify": self.verify,
            "proves": self.proves,
            "sources": [s.to_dict() for s in self.sources],
            "methodology": list(self.methodology),
            "superseded": self.superseded,
        }


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything a report shows, for one :class:`ReportQuery`.

    Attributes:
        query: The period and filters.
        generated_at: When it was collected, ISO 8601 UTC.
        totals: All records of the period.
        daily, weekly: Series by UTC day and ISO week (every day/week of the period, zeros
            included).
        by_team, by_project, by_model, by_kind: Figures per group, largest CO2e first.
        scope2: Location- and market-based Scope 2.
        models: Model versions (ledger figures and profiles).
        scheduler: Scheduler savings.
        tuning: Tuning studies.
        decisions: Gate, budget and retrain decisions.
        audit: Ledger head, verification, sources, methodology.
        notes: Caveats a reader must see.
    """

    query: ReportQuery
    generated_at: str
    totals: Figures
    daily: tuple[SeriesPoint, ...]
    weekly: tuple[SeriesPoint, ...]
    by_team: tuple[GroupRow, ...]
    by_project: tuple[GroupRow, ...]
    by_model: tuple[GroupRow, ...]
    by_kind: tuple[GroupRow, ...]
    scope2: Scope2
    models: tuple[ModelRow, ...]
    scheduler: SchedulerSavings
    tuning: tuple[TuningStudy, ...]
    decisions: Decisions
    audit: Audit
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``lowcarb report --format json`` (plain JSON types)."""
        return {
            "report": "lowcarb.report/1",
            "query": self.query.to_dict(),
            "generated_at": self.generated_at,
            "totals": self.totals.to_dict(),
            "daily": [p.to_dict() for p in self.daily],
            "weekly": [p.to_dict() for p in self.weekly],
            "by_team": [r.to_dict() for r in self.by_team],
            "by_project": [r.to_dict() for r in self.by_project],
            "by_model": [r.to_dict() for r in self.by_model],
            "by_kind": [r.to_dict() for r in self.by_kind],
            "scope2": self.scope2.to_dict(),
            "models": [m.to_dict() for m in self.models],
            "scheduler": self.scheduler.to_dict(),
            "tuning": [t.to_dict() for t in self.tuning],
            "decisions": self.decisions.to_dict(),
            "audit": self.audit.to_dict(),
            "notes": list(self.notes),
        }
