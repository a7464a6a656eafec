"""The retraining policy as code: when a retrain is worth its energy, and energy regressions.

A policy file (``lowcarb monitor watch --policy FILE``)::

    version: 1
    name: churn
    retrain:
      drift:
        max_drift_share: 0.3        # fire when more than 30 % of the watched features drifted
        features: [hour, lag_1]     # watched features (default: every feature checked)
        categorical: [region]       # compared as categories whatever their values (codes)
      performance:
        max_drop_pts: 2.0           # fire when accuracy fell by more than 2 percentage points
        method: any                 # cbpe (label-free estimate) | realised (labels) | any
      min_gain_pts_per_kwh: 5.0     # the expected gain must justify the retrain's energy
      cooldown: 7d                  # no new retrain within 7 days of the last one submitted
      deadline: 24h                 # the retrain must start within 24 h of the decision
      job:
        command: [python, train.py]
        duration: 1h                # expected run time
        zone: DE                    # or zones: [DE, FR] (the first is home)
        team: ml
        project: churn
        model: churn                # optional, attribution
        interruptible: false        # optional; min_chunk: 1h with it
        power_w: 300                # optional: estimates the first retrain's energy
        cwd: /srv/churn             # optional: where the command runs
    energy_regression:
      max_increase_pct: 10          # alert when joules per 1,000 inferences rise more than 10 %
      rollback: true                # and move the registry alias back to the previous champion
      alias: champion               # the alias (default champion)

At least one of ``retrain`` and ``energy_regression`` is required; ``retrain`` needs a trigger
(``drift`` and/or ``performance``) and a ``job``. Durations are parsed by
:func:`lowcarb.units.parse_duration` (``90m``, ``1h30m``, ``7d``, ``PT1H`` or hours).

Meaning of the rules (see :func:`lowcarb.monitoring._retrain.decide_retrain`):

- **Triggers.** ``drift``: the share of watched features that drifted is above
  ``max_drift_share`` (strictly: exactly the limit does not fire; the same rule decides the
  dataset verdict of ``lowcarb monitor check``, see
  :func:`~lowcarb.monitoring.drift_share_exceeds`). ``performance``: the drop of accuracy from
  the reference window (:attr:`PerformanceEstimate.drop_pts`) is above ``max_drop_pts``, for an
  estimate made by ``method``. Either trigger is enough.
- **Cooldown.** No retrain is submitted within ``cooldown`` of the last one the monitor
  submitted (read from the ledger).
- **Gain versus energy.** The expected gain is the accuracy drop a retrain is expected to win
  back (percentage points). The expected energy is that of the last retrain as the ledger
  recorded it (facility kWh, measured or estimated), else ``job.power_w x job.duration``
  (estimated). The retrain fires only when ``gain / energy >= min_gain_pts_per_kwh``. An
  unknown gain (no performance figure) does not fire; an unknown energy (no previous retrain
  and no ``power_w``) cannot be judged, which the decision records as such.
- **Deadline.** The job is queued for the lowest-carbon window that starts within ``deadline``
  (its finish deadline is ``now + deadline + duration``).

Validation is strict (see ``_policy_yaml``): unknown keys are named with the known ones, wrong
types and out-of-range values name the key; :meth:`RetrainPolicy.check_features` refuses watched
features the data does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from lowcarb.errors import UsageError, close_matches

__all__ = [
    "DriftTrigger",
    "EnergyRegressionRule",
    "JobTemplate",
    "PerformanceMethod",
    "PerformanceTrigger",
    "RetrainPolicy",
    "RetrainRule",
]

#: Which performance figures a trigger accepts.
PerformanceMethod = Literal["cbpe", "realised", "any"]
#: Columns named in a one-line error before the list is cut.
_SHOWN_COLUMNS = 20


@dataclass(frozen=True, slots=True)
class DriftTrigger:
    """Fire when too many watched features drifted.

    Attributes:
        max_drift_share: Largest share of watched features that may drift, 0..1 (fire above it).
        features: The watched features, or None for every feature the check covered.
        categorical: Features compared as categories whatever their values (integer codes).
    """

    max_drift_share: float
    features: tuple[str, ...] | None = None
    categorical: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PerformanceTrigger:
    """Fire when accuracy dropped too far from the reference window.

    Attributes:
        max_drop_pts: Largest drop allowed, percentage points (fire above it).
        method: ``cbpe`` (label-free estimate), ``realised`` (labels arrived) or ``any``.
    """

    max_drop_pts: float
    method: PerformanceMethod = "any"


@dataclass(frozen=True, slots=True)
class JobTemplate:
    """The retraining job the monitor submits to the job queue.

    Attributes:
        command: The program and its arguments.
        duration_s: Expected run time, seconds.
        zones: Candidate zone ids; the first is home.
        team: Team the runs are charged to (and the ledger records are found by).
        project: Project likewise.
        model: Model name for the ledger's attribution, or None.
        interruptible: Whether the job may be paused and resumed.
        min_chunk_s: Shortest run between pauses, seconds (interruptible jobs).
        power_w: Declared power, watts, or None: estimates energy where the ledger has none.
        cwd: Directory the command runs in, or None for the submitter's.
    """

    command: tuple[str, ...]
    duration_s: float
    zones: tuple[str, ...]
    team: str | None = None
    project: str | None = None
    model: str | None = None
    interruptible: bool = False
    min_chunk_s: float = 3600.0
    power_w: float | None = None
    cwd: str | None = None

    @property
    def duration_h(self) -> float:
        """Expected run time, hours."""
        return self.duration_s / 3600.0

    def estimated_energy_kwh(self) -> float | None:
        """``power_w x duration`` in kWh (an estimate), or None without a declared power."""
        if self.power_w is None:
            return None
        return self.power_w * self.duration_h / 1000.0

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON."""
        return {
            "command": list(self.command),
            "duration_s": self.duration_s,
            "zones": list(self.zones),
            "team": self.team,
            "project": self.project,
            "model": self.model,
            "interruptible": self.interruptible,
            "min_chunk_s": self.min_chunk_s,
            "power_w": self.power_w,
            "cwd": self.cwd,
        }


@dataclass(frozen=True, slots=True)
class RetrainRule:
    """When to retrain, and the job that does it (see the module docstring).

    Attributes:
        job: The retraining job.
        deadline_s: The retrain must start within this many seconds of the decision.
        drift: The drift trigger, or None.
        performance: The performance trigger, or None.
        min_gain_pts_per_kwh: Accuracy points the retrain must be expected to win per kWh it is
            expected to use, or None (no energy rule).
        cooldown_s: No new retrain within this many seconds of the last one submitted (0: none).
    """

    job: JobTemplate
    deadline_s: float
    drift: DriftTrigger | None = None
    performance: PerformanceTrigger | None = None
    min_gain_pts_per_kwh: float | None = None
    cooldown_s: float = 0.0

    @property
    def deadline(self) -> timedelta:
        """``deadline_s`` as a timedelta."""
        return timedelta(seconds=self.deadline_s)

    @property
    def cooldown(self) -> timedelta:
        """``cooldown_s`` as a timedelta."""
        return timedelta(seconds=self.cooldown_s)


@dataclass(frozen=True, slots=True)
class EnergyRegressionRule:
    """Alert when a model version's energy per 1,000 inferences rose too much.

    Attributes:
        max_increase_pct: Largest rise allowed over the previous version (champion), percent.
        rollback: Move the registry alias back to the previous champion on an alert.
        alias: The registry alias that names the champion.
    """

    max_increase_pct: float
    rollback: bool = False
    alias: str = "champion"


@dataclass(frozen=True, slots=True)
class RetrainPolicy:
    """A validated monitoring policy (build one with ``load_retrain_policy``).

    Attributes:
        retrain: The retraining rule, or None.
        energy_regression: The energy-regression rule, or None.
        name: Policy name (for reports and the ledger).
        description: Free text.
        source: Where it was read (a path, or ``policy``), quoted in errors.
        sha256: SHA-256 of the exact text it was parsed from (recorded with every decision).
    """

    retrain: RetrainRule | None = None
    energy_regression: EnergyRegressionRule | None = None
    name: str = "policy"
    description: str = ""
    source: str = "policy"
    sha256: str = ""

    def require_retrain(self) -> RetrainRule:
        """The retraining rule.

        Raises:
            UsageError: The policy has no ``retrain:`` section.
        """
        if self.retrain is None:
            raise UsageError(
                f"{self.source}: has no `retrain:` section; add one (drift or performance "
                "triggers and a job) to decide retrains"
            )
        return self.retrain

    def require_energy_regression(self) -> EnergyRegressionRule:
        """The energy-regression rule.

        Raises:
            UsageError: The policy has no ``energy_regression:`` section.
        """
        if self.energy_regression is None:
            raise UsageError(
                f"{self.source}: has no `energy_regression:` section; add one with "
                "max_increase_pct to check energy regressions"
            )
        return self.energy_regression

    def check_features(self, columns: Any) -> None:
        """Refuse watched or categorical features that are not among ``columns`` (the data's).

        Raises:
            UsageError: One line naming the unknown features and the known columns.
        """
        rule = self.retrain
        if rule is None or rule.drift is None:
            return
        known = [str(c) for c in columns]
        have = set(known)
        for key, names in (
            ("features", rule.drift.features or ()),
            ("categorical", rule.drift.categorical),
        ):
            unknown = [f for f in names if f not in have]
            if unknown:
                self._refuse_unknown(key, unknown, known)

    def _refuse_unknown(self, key: str, unknown: list[str], known: list[str]) -> None:
        hints = close_matches(unknown[0], known)
        hint = f" (did you mean {hints[0]!r}?)" if hints else ""
        shown = ", ".join(known[:_SHOWN_COLUMNS])
        if len(known) > _SHOWN_COLUMNS:
            shown += f", ... ({len(known) - _SHOWN_COLUMNS} more)"
        raise UsageError(
            f"{self.source}: retrain.drift.{key} names unknown feature(s) "
            f"{', '.join(repr(f) for f in unknown)}{hint}; the data has columns: "
            f"{shown or '(none)'}; fix the policy's feature list or the data"
        )

    def to_dict(self) -> dict[str, Any]:
        """Name, source and hash (what decision records carry to identify the policy)."""
        return {"name": self.name, "location": self.source, "sha256": self.sha256}
