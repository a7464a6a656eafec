"""Should the model be retrained now? A pure decision from a drift check and the policy.

:func:`decide_retrain` reads no clock, ledger or queue: the previous retrain is handed in as a
:class:`LastRetrain` (found in the ledger by ``find_last_retrain`` in ``_retrain_io``) and
``now`` is given, so the same inputs always give the same decision. The rules, in the order
they can block a retrain (every one evaluated is explained in :attr:`RetrainDecision.reasons`):

1. ``no-trigger``: neither the drift trigger nor the performance trigger fired.
2. ``cooldown``: the last retrain was submitted less than ``cooldown`` ago.
3. ``unknown-gain``: the policy sets ``min_gain_pts_per_kwh`` but the check has no performance
   figure, so the gain a retrain could bring is unknown.
4. ``insufficient-gain``: expected gain (points) / expected energy (kWh) is below
   ``min_gain_pts_per_kwh``.

Otherwise the status is ``retrain`` and :attr:`RetrainDecision.fire` is True.

A rule the check gives no input for (a performance trigger or a gain rule without a performance
figure, a gain rule without an energy figure) is not silently skipped: it is named in
:attr:`RetrainDecision.warnings` (recorded with the decision; ``lowcarb monitor`` prints it on
stderr), by :func:`unevaluated_rules`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from lowcarb.energy import Method
from lowcarb.errors import InvalidValueError
from lowcarb.monitoring._policy import RetrainPolicy
from lowcarb.monitoring._report import DriftReport, drift_share_exceeds

__all__ = [
    "LastRetrain",
    "RetrainDecision",
    "RetrainStatus",
    "decide_retrain",
    "iso_utc",
    "unevaluated_rules",
]

#: What a decision concluded: ``retrain``, or the first rule that blocked it.
RetrainStatus = Literal["retrain", "no-trigger", "cooldown", "unknown-gain", "insufficient-gain"]


def iso_utc(t: datetime | None) -> str | None:
    """``2025-05-20T12:00:00Z`` (None stays None)."""
    return None if t is None else t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class LastRetrain:
    """What the ledger knows of earlier retrains (see ``find_last_retrain``).

    Attributes:
        submitted_at: When the monitor last submitted a retrain job (for the cooldown), or None.
        job_id: That job's id, or None.
        energy_kwh: Facility energy of the newest retrain that ran, kWh (corrections applied),
            or None when no retrain has run.
        energy_method: ``measured`` when every record behind ``energy_kwh`` was measured by
            hardware counters, else ``estimated``; None without a figure.
        energy_source: Where ``energy_kwh`` comes from (ledger, job id, record count).
        records: Ledger records summed into ``energy_kwh``.
    """

    submitted_at: datetime | None = None
    job_id: str | None = None
    energy_kwh: float | None = None
    energy_method: Method | None = None
    energy_source: str | None = None
    records: int = 0

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON."""
        return {
            "submitted_at": iso_utc(self.submitted_at),
            "job_id": self.job_id,
            "energy_kwh": self.energy_kwh,
            "energy_method": self.energy_method,
            "energy_source": self.energy_source,
            "records": self.records,
        }


@dataclass(frozen=True, slots=True)
class RetrainDecision:
    """Whether to retrain now, and why.

    Attributes:
        fire: True when a retrain should be submitted.
        status: ``retrain`` or the rule that blocked it (see the module docstring).
        reasons: One sentence per rule evaluated, in order (recorded in the ledger).
        decided_at: The decision time (UTC).
        triggers: The triggers that fired (``drift``, ``performance``).
        drift_share: Share of watched features that drifted, 0..1, or None without a drift rule.
        drifted_features: Watched features that drifted.
        performance_drop_pts: Accuracy drop from the reference window, points, or None.
        performance_method: ``cbpe`` or ``realised`` (the figure's provenance), or None.
        expected_gain_pts: Accuracy points a retrain is expected to win back, or None.
        expected_energy_kwh: Energy a retrain is expected to use, kWh, or None when unknown.
        energy_method: ``measured`` or ``estimated`` (provenance of ``expected_energy_kwh``).
        energy_source: Where ``expected_energy_kwh`` comes from.
        gain_pts_per_kwh: ``expected_gain_pts / expected_energy_kwh`` where both are known and
            the energy is above zero, else None.
        min_gain_pts_per_kwh: The policy's limit, or None.
        cooldown_until: End of the cooldown when it is still running at ``decided_at``, or None.
        last_retrain: What was known of the previous retrain.
        warnings: One sentence per policy rule that could not be evaluated for lack of input
            (:func:`unevaluated_rules`).
    """

    fire: bool
    status: RetrainStatus
    reasons: tuple[str, ...]
    decided_at: datetime
    triggers: tuple[str, ...] = ()
    drift_share: float | None = None
    drifted_features: tuple[str, ...] = ()
    performance_drop_pts: float | None = None
    performance_method: str | None = None
    expected_gain_pts: float | None = None
    expected_energy_kwh: float | None = None
    energy_method: Method | None = None
    energy_source: str | None = None
    gain_pts_per_kwh: float | None = None
    min_gain_pts_per_kwh: float | None = None
    cooldown_until: datetime | None = None
    last_retrain: LastRetrain | None = None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON (the ``retrain`` metadata of the decision record)."""
        return {
            "fire": self.fire,
            "status": self.status,
            "reasons": list(self.reasons),
            "decided_at": iso_utc(self.decided_at),
            "triggers": list(self.triggers),
            "drift_share": self.drift_share,
            "drifted_features": list(self.drifted_features),
            "performance_drop_pts": self.performance_drop_pts,
            "performance_method": self.performance_method,
            "expected_gain_pts": self.expected_gain_pts,
            "expected_energy_kwh": self.expected_energy_kwh,
            "energy_method": self.energy_method,
            "energy_source": self.energy_source,
            "gain_pts_per_kwh": self.gain_pts_per_kwh,
            "min_gain_pts_per_kwh": self.min_gain_pts_per_kwh,
            "cooldown_until": iso_utc(self.cooldown_until),
            "last_retrain": None if self.last_retrain is None else self.last_retrain.to_dict(),
            "warnings": list(self.warnings),
        }


def _pct(share: float) -> str:
    return f"{share * 100:.0f} %"


def unevaluated_rules(
    report: DriftReport, policy: RetrainPolicy, *, last_retrain: LastRetrain | None = None
) -> tuple[str, ...]:
    """The policy's rules that ``report`` gives no input for, one sentence each.

    - ``performance``: a performance trigger, and the check has no performance figure (no
      scores or labels were given), no reference accuracy to measure a drop from, or a figure of
      another method than the trigger watches;
    - ``min_gain_pts_per_kwh``: a gain rule, and the expected gain is unknown (no performance
      figure with a reference accuracy), or the expected energy is (``last_retrain`` known to have
      no energy figure and the job declares no ``power_w``).

    A policy without a ``retrain:`` section has no such rule (an empty tuple).
    """
    rule = policy.retrain
    if rule is None:
        return ()
    out: list[str] = []
    perf = report.performance
    drop = None if perf is None else perf.drop_pts
    if rule.performance is not None:
        method = rule.performance.method
        if perf is None:
            out.append(
                "retrain.performance not evaluated: the check has no performance figure (give "
                "the model's scores with the reference's labels, or the current window's labels)"
            )
        elif drop is None:
            out.append(
                "retrain.performance not evaluated: no reference accuracy to measure a drop from "
                "(give the reference window's labels)"
            )
        elif method != "any" and perf.method != method:
            out.append(
                f"retrain.performance not evaluated: the figure is {perf.method}, the policy "
                f"watches {method}"
            )
    if rule.min_gain_pts_per_kwh is not None:
        if drop is None:
            out.append(
                "retrain.min_gain_pts_per_kwh not evaluated: the expected gain is unknown (no "
                "performance figure with a reference accuracy)"
            )
        elif (
            last_retrain is not None
            and last_retrain.energy_kwh is None
            and rule.job.power_w is None
        ):
            out.append(
                "retrain.min_gain_pts_per_kwh not evaluated: the expected energy is unknown (no "
                "earlier retrain in the ledger and no job.power_w)"
            )
    return tuple(out)


def decide_retrain(
    report: DriftReport,
    policy: RetrainPolicy,
    *,
    last_retrain: LastRetrain | None,
    now: datetime,
) -> RetrainDecision:
    """Decide whether ``report`` justifies a retrain under ``policy`` at ``now``.

    Args:
        report: The drift check (with a performance estimate where scores or labels were given).
        policy: A policy with a ``retrain:`` section.
        last_retrain: What the ledger knows of earlier retrains (None: nothing).
        now: The decision time, timezone-aware.

    Raises:
        UsageError: The policy has no ``retrain:`` section, or watches features the check did
            not cover (one line naming them and the covered ones).
        InvalidValueError: A naive ``now``.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidValueError(f"now must be timezone-aware (UTC), got {now.isoformat()!r}")
    rule = policy.require_retrain()
    policy.check_features([f.name for f in report.features])
    last = last_retrain or LastRetrain()
    reasons: list[str] = []
    triggers: list[str] = []

    drift_share: float | None = None
    drifted: tuple[str, ...] = ()
    if rule.drift is not None:
        watched_names = rule.drift.features
        watched = [f for f in report.features if watched_names is None or f.name in watched_names]
        drifted = tuple(f.name for f in watched if f.drift)
        drift_share = len(drifted) / len(watched) if watched else 0.0
        limit = rule.drift.max_drift_share
        summary = f"{len(drifted)} of {len(watched)} watched features drifted ({_pct(drift_share)})"
        if drifted:
            summary += ": " + ", ".join(drifted[:10]) + (", ..." if len(drifted) > 10 else "")
        if drift_share_exceeds(len(drifted), len(watched), limit):
            triggers.append("drift")
            reasons.append(f"drift: {summary}, above the {_pct(limit)} allowed")
        else:
            reasons.append(f"drift: {summary}, within the {_pct(limit)} allowed")

    perf = report.performance
    drop = None if perf is None else perf.drop_pts
    if rule.performance is not None:
        limit_pts = rule.performance.max_drop_pts
        method = rule.performance.method
        if perf is None or drop is None:
            what = "no performance figure" if perf is None else "no reference accuracy"
            reasons.append(
                f"performance: the check has {what} (give the model's scores or labels: "
                "--score-columns, --label-column); not evaluated"
            )
        elif method != "any" and perf.method != method:
            reasons.append(
                f"performance: the figure is {perf.method}, the policy watches {method}; "
                "not evaluated"
            )
        elif drop > limit_pts:
            triggers.append("performance")
            reasons.append(
                f"performance: {perf.method} accuracy dropped {drop:.2f} pts, above the "
                f"{limit_pts:g} pts allowed"
            )
        else:
            reasons.append(
                f"performance: {perf.method} accuracy dropped {drop:.2f} pts, within the "
                f"{limit_pts:g} pts allowed"
            )

    # What a retrain is expected to win back, and to cost.
    gain = None if drop is None else max(0.0, drop)
    energy, energy_method, energy_source = last.energy_kwh, last.energy_method, last.energy_source
    if energy is None and rule.job.power_w is not None:
        energy = rule.job.estimated_energy_kwh()
        energy_method = "estimated"
        energy_source = (
            f"policy: job.power_w {rule.job.power_w:g} W x job.duration {rule.job.duration_h:g} h "
            "(no earlier retrain in the ledger)"
        )
    ratio = None if gain is None or energy is None or energy <= 0 else gain / energy

    status: RetrainStatus = "retrain"
    if not triggers:
        status = "no-trigger"
        reasons.append("no trigger fired: no retrain")

    cooldown_until = None
    if rule.cooldown_s > 0 and last.submitted_at is not None:
        until = last.submitted_at + rule.cooldown
        if now < until:
            cooldown_until = until
            reasons.append(
                f"cooldown: the last retrain (job {last.job_id}) was submitted "
                f"{iso_utc(last.submitted_at)}; none before {iso_utc(until)}"
            )
            if status == "retrain":
                status = "cooldown"
        else:
            reasons.append(f"cooldown: over since {iso_utc(until)}")

    min_gain = rule.min_gain_pts_per_kwh
    if min_gain is not None:
        if gain is None:
            reasons.append(
                "energy: the expected gain is unknown (no performance figure), so a retrain "
                f"cannot be shown to reach {min_gain:g} pts/kWh; give the model's scores or labels "
                "(--score-columns, --label-column)"
            )
            if status == "retrain":
                status = "unknown-gain"
        elif energy is None:
            reasons.append(
                "energy: unknown (no earlier retrain in the ledger and no job.power_w); the gain "
                "rule cannot be applied to this first retrain"
            )
        elif ratio is None:  # an energy of 0 kWh: any gain justifies it, none does not
            verdict = "justifies it" if gain > 0 or min_gain == 0 else "does not justify it"
            reasons.append(
                f"energy: the expected energy is {energy:g} kWh ({energy_method}); an expected "
                f"gain of {gain:.2f} pts {verdict}"
            )
            if verdict != "justifies it" and status == "retrain":
                status = "insufficient-gain"
        elif ratio < min_gain:
            reasons.append(
                f"energy: expected gain {gain:.2f} pts for {energy:.4g} kWh ({energy_method}) is "
                f"{ratio:.3g} pts/kWh, below the {min_gain:g} pts/kWh required"
            )
            if status == "retrain":
                status = "insufficient-gain"
        else:
            reasons.append(
                f"energy: expected gain {gain:.2f} pts for {energy:.4g} kWh ({energy_method}) is "
                f"{ratio:.3g} pts/kWh, at least the {min_gain:g} pts/kWh required"
            )
    if status == "retrain":
        reasons.append(f"retrain: triggered by {' and '.join(triggers)}")

    return RetrainDecision(
        fire=status == "retrain",
        status=status,
        reasons=tuple(reasons),
        decided_at=now.astimezone(UTC),
        triggers=tuple(triggers),
        drift_share=drift_share,
        drifted_features=drifted,
        performance_drop_pts=drop,
        performance_method=None if perf is None else perf.method,
        expected_gain_pts=gain,
        expected_energy_kwh=energy,
        energy_method=energy_method,
        energy_source=energy_source,
        gain_pts_per_kwh=ratio if ratio is not None and math.isfinite(ratio) else None,
        min_gain_pts_per_kwh=min_gain,
        cooldown_until=cooldown_until,
        last_retrain=last,
        warnings=unevaluated_rules(report, policy, last_retrain=last),
    )
