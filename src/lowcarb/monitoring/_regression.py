"""Energy regressions: joules per 1,000 inferences of a model version against the champion's.

The figures (:class:`EnergyFigure`, from profiles or serving metrics) are made in
``_energy_figures``. :func:`check_energy_regression` compares a candidate with its baseline under
the policy's ``energy_regression`` rule; :func:`act_on_regression` records the check in the
ledger and, on an alert when the rule says ``rollback: true``, calls a :class:`Rollback` (the
MLflow alias move in :mod:`lowcarb.integrations.mlflow` is one) and records what it did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from lowcarb._text import plain
from lowcarb.errors import DataError, LowcarbError, UsageError
from lowcarb.ledger import Attribution, RecordDraft

# The figures are re-exported here for callers of the module before the split (the MLflow
# rollback integration test imports them from ``_regression``).
from lowcarb.monitoring._energy_figures import (
    EnergyFigure,
    energy_from_metrics,
    energy_from_profile,
    fetch_metrics,
)
from lowcarb.monitoring._policy import EnergyRegressionRule, RetrainPolicy

if TYPE_CHECKING:
    from lowcarb.ledger import Ledger

__all__ = [
    "EnergyFigure",
    "EnergyRegression",
    "RegressionOutcome",
    "Rollback",
    "RollbackOutcome",
    "act_on_regression",
    "check_energy_regression",
    "energy_from_metrics",
    "energy_from_profile",
    "fetch_metrics",
]


@dataclass(frozen=True, slots=True)
class EnergyRegression:
    """A candidate's energy per 1,000 inferences against its baseline (the champion).

    Attributes:
        candidate: The new version's figure.
        baseline: The previous version's (champion's) figure.
        increase_pct: Rise over the baseline, percent (negative: it uses less).
        max_increase_pct: The rule's limit, percent.
        alert: Whether the rise is above the limit.
        notes: Caveats (e.g. the two figures were obtained by different methods).
    """

    candidate: EnergyFigure
    baseline: EnergyFigure
    increase_pct: float
    max_increase_pct: float
    alert: bool
    notes: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        """One line saying what was found."""
        verb = "above" if self.alert else "within"
        return (
            f"{self.candidate.label}: {self.candidate.energy_per_1k_j:.4g} J per 1k inferences "
            f"({self.candidate.method}) vs {self.baseline.label}: "
            f"{self.baseline.energy_per_1k_j:.4g} J ({self.baseline.method}), "
            f"{self.increase_pct:+.1f} %, {verb} the {self.max_increase_pct:g} % allowed"
        )

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON (the ``energy_regression`` metadata of the ledger record)."""
        return {
            "alert": self.alert,
            "increase_pct": self.increase_pct,
            "max_increase_pct": self.max_increase_pct,
            "candidate": self.candidate.to_dict(),
            "baseline": self.baseline.to_dict(),
            "message": self.message,
            "notes": list(self.notes),
        }


def check_energy_regression(
    candidate: EnergyFigure, baseline: EnergyFigure, rule: EnergyRegressionRule
) -> EnergyRegression:
    """Compare ``candidate`` with ``baseline`` under ``rule`` (alert above its limit).

    Raises:
        DataError: A baseline of 0 J per 1,000 inferences (nothing to compare a rise with).
    """
    base = baseline.energy_per_1k_j
    if not (math.isfinite(base) and base > 0):
        raise DataError(
            f"the baseline {baseline.label} ({baseline.source}) uses {base!r} J per 1k "
            "inferences; a rise cannot be measured from it: give a metered baseline"
        )
    increase = 100.0 * (candidate.energy_per_1k_j - base) / base
    notes: list[str] = []
    if candidate.method != baseline.method:
        notes.append(
            f"the candidate's figure is {candidate.method} and the baseline's {baseline.method}: "
            "compare like with like where you can"
        )
    if candidate.model != baseline.model:
        notes.append(f"different models: {candidate.model!r} and {baseline.model!r}")
    return EnergyRegression(
        candidate=candidate,
        baseline=baseline,
        increase_pct=increase,
        max_increase_pct=rule.max_increase_pct,
        alert=increase > rule.max_increase_pct,
        notes=tuple(notes),
    )


class RollbackOutcome(Protocol):
    """What a rollback did (e.g. ``AliasRollback`` of :mod:`lowcarb.integrations.mlflow`)."""

    @property
    def applied(self) -> bool:
        """Whether the registry changed."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON (finite numbers, string keys): recorded in the ledger as is."""
        ...


class Rollback(Protocol):
    """Puts the previous champion back in place of a regressed version.

    Contract: ``model`` and ``version`` name the regressed candidate; an implementation moves
    whatever names the champion (a registry alias) back to the version before it, or does
    nothing (``applied`` False) when the candidate no longer holds it. Failures raise a
    :class:`~lowcarb.errors.LowcarbError` of one line; nothing else is raised.
    """

    def __call__(self, *, model: str, version: str | None, reason: str) -> RollbackOutcome:
        """Roll back ``model@version``; ``reason`` is stored with the rollback."""
        ...


@dataclass(frozen=True, slots=True)
class RegressionOutcome:
    """A regression check as acted on.

    Attributes:
        regression: The comparison.
        rollback: What the rollback did (its ``to_dict()``), or None when none was attempted.
        record_ids: The ledger records appended (the check, then the rollback's).
        ledger: The ledger (password hidden).
    """

    regression: EnergyRegression
    rollback: dict[str, Any] | None
    record_ids: tuple[str, ...]
    ledger: str

    def to_dict(self) -> dict[str, Any]:
        """The ``lowcarb monitor energy --json`` object."""
        out = self.regression.to_dict()
        out["rollback"] = self.rollback
        out["record_ids"] = list(self.record_ids)
        out["ledger"] = self.ledger
        return out


def _attribution(
    figure: EnergyFigure, stage: str, team: str | None, project: str | None
) -> Attribution:
    return Attribution(
        team=team, project=project, model=figure.model, model_version=figure.version, stage=stage
    )


def act_on_regression(
    regression: EnergyRegression,
    policy: RetrainPolicy,
    *,
    ledger: Ledger,
    rollback: Rollback | None = None,
    team: str | None = None,
    project: str | None = None,
) -> RegressionOutcome:
    """Record the check; on an alert with ``rollback: true``, roll back and record that too.

    The check is appended first (kind ``decision``, stage ``energy-regression``, metadata
    ``{"energy_regression": ..., "policy": ..., "rollback": "requested" | null}``), so the
    registry never changes unrecorded; the rollback's result, or its error, follows as a second
    ``decision`` record (stage ``rollback``, metadata ``{"rollback": ..., "error": ...,
    "regression_record": <id>}``).

    Raises:
        UsageError: The rule asks for a rollback but none was given (checked before anything is
            recorded), or the policy has no ``energy_regression:`` section.
        LowcarbError: The rollback failed (after its failure was recorded).
        LedgerError: The ledger refused.
    """
    rule = policy.require_energy_regression()
    if rule.rollback and rollback is None:
        raise UsageError(
            f"{policy.source}: energy_regression.rollback is true but no registry was given to "
            "roll back; name the registered model (e.g. --mlflow-model NAME) or set rollback: false"
        )
    wanted = regression.alert and rule.rollback
    cand = regression.candidate
    (check,) = ledger.append_many(
        [
            RecordDraft(
                kind="decision",
                attribution=_attribution(cand, "energy-regression", team, project),
                metadata={
                    "energy_regression": regression.to_dict(),
                    "policy": policy.to_dict(),
                    "rollback": "requested" if wanted else None,
                },
            )
        ]
    )
    if not wanted or rollback is None:
        return RegressionOutcome(regression, None, (check.id,), ledger.url)
    done: dict[str, Any] | None = None
    error: LowcarbError | None = None
    try:
        done = dict(
            rollback(model=cand.model, version=cand.version, reason=regression.message).to_dict()
        )
    except LowcarbError as exc:
        error = exc
    message = None if error is None else plain(error)[:1000]
    (rolled,) = ledger.append_many(
        [
            RecordDraft(
                kind="decision",
                attribution=_attribution(cand, "rollback", team, project),
                metadata={"rollback": done, "error": message, "regression_record": check.id},
            )
        ]
    )
    if error is not None:
        raise error
    return RegressionOutcome(regression, done, (check.id, rolled.id), ledger.url)
