"""Energy regressions: joules per 1,000 inferences of a model version against the champion's.

Figures come from efficiency profiles (the JSON ``lowcarb gate`` compares: ``energy_per_1k_j``
and ``energy_method``) or from a serving app's Prometheus metrics, where a model's figure is
``1000 x lowcarb_energy_joules_total / lowcarb_inferences_total`` summed over its stages and
methods (``model`` label), either since the app started or between two scrapes. A figure is
``measured`` only when every joule behind it was.

:func:`check_energy_regression` compares a candidate with its baseline under the policy's
``energy_regression`` rule; :func:`act_on_regression` records the check in the ledger and, on an
alert when the rule says ``rollback: true``, calls a :class:`Rollback` (the MLflow alias move in
:mod:`lowcarb.integrations.mlflow` is one) and records what it did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from lowcarb._text import plain
from lowcarb.energy import Method
from lowcarb.errors import (
    DataError,
    LowcarbError,
    MissingDependencyError,
    ProviderError,
    UsageError,
)
from lowcarb.ledger import Attribution, RecordDraft
from lowcarb.monitoring._policy import EnergyRegressionRule, RetrainPolicy
from lowcarb.profiling import Profile

if TYPE_CHECKING:
    from lowcarb.ledger import Ledger

__all__ = [
    "ENERGY_METRIC",
    "INFERENCES_METRIC",
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

#: The serving metrics read (as exposed; see :mod:`lowcarb.serving`).
ENERGY_METRIC = "lowcarb_energy_joules_total"
INFERENCES_METRIC = "lowcarb_inferences_total"
#: The largest metrics page read.
MAX_METRICS_BYTES = 16 << 20


@dataclass(frozen=True, slots=True)
class EnergyFigure:
    """Energy per 1,000 inferences of one model version, with its provenance.

    Attributes:
        model: Model name (a profile's ``model``, a metric's ``model`` label).
        version: Model version, or None where the source does not say.
        energy_per_1k_j: Joules per 1,000 inferences.
        method: ``measured`` (hardware counters) or ``estimated`` (a power model).
        source: Where it was read (a profile path, a metrics URL or file).
        inferences: Inferences behind a metrics figure, or None (profiles).
    """

    model: str
    version: str | None
    energy_per_1k_j: float
    method: Method
    source: str
    inferences: int | None = None

    @property
    def label(self) -> str:
        """``model@version`` (or the model alone)."""
        return self.model if self.version is None else f"{self.model}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON."""
        return {
            "model": self.model,
            "version": self.version,
            "energy_per_1k_j": self.energy_per_1k_j,
            "method": self.method,
            "source": self.source,
            "inferences": self.inferences,
        }


def energy_from_profile(profile: Profile, *, location: str = "profile") -> EnergyFigure:
    """The figure of an efficiency profile (``lowcarb profile``, the gate's input)."""
    return EnergyFigure(
        model=profile.model,
        version=profile.version,
        energy_per_1k_j=profile.energy_per_1k_j,
        method=profile.energy_method,
        source=location,
    )


def _sums(text: str | bytes, model: str, location: str) -> tuple[dict[str, float], float, bool]:
    """Joules by method, inferences, and whether any lowcarb serving metric was present."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        raise MissingDependencyError("prometheus_client", "monitor") from None
    if len(text) > MAX_METRICS_BYTES:
        raise DataError(f"{location}: larger than {MAX_METRICS_BYTES:,} bytes; is it /metrics?")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{location}: not UTF-8 text (bad byte at {exc.start})") from None
    joules: dict[str, float] = {}
    inferences = 0.0
    seen = False
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name not in (ENERGY_METRIC, INFERENCES_METRIC):
                    continue
                seen = True
                if s.labels.get("model") != model:
                    continue
                value = float(s.value)
                if not (math.isfinite(value) and value >= 0):
                    raise DataError(f"{location}: {s.name} for {model!r} is {value!r}, not a count")
                if s.name == ENERGY_METRIC:
                    method = s.labels.get("method", "estimated")
                    joules[method] = joules.get(method, 0.0) + value
                else:
                    inferences += value
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DataError(
            f"{location}: not Prometheus text exposition ({plain(reason)}); give a /metrics page"
        ) from None
    return joules, inferences, seen


def _models(text: str | bytes) -> list[str]:
    from prometheus_client.parser import text_string_to_metric_families

    names: set[str] = set()
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    for family in text_string_to_metric_families(decoded):
        names.update(
            s.labels["model"]
            for s in family.samples
            if s.name == INFERENCES_METRIC and "model" in s.labels
        )
    return sorted(names)


def energy_from_metrics(
    text: str | bytes,
    *,
    model: str,
    version: str | None = None,
    previous: str | bytes | None = None,
    location: str = "metrics",
) -> EnergyFigure:
    """The figure of ``model`` in a serving app's ``/metrics`` page.

    Args:
        text: The Prometheus text exposition.
        model: The ``model`` label (the name the model is served under).
        version: The version to report (the metrics do not carry one).
        previous: An earlier scrape of the same app: the figure is then over the window between
            the two scrapes (what changed), not since the app started.
        location: Where the page came from (for messages and provenance).

    Raises:
        DataError: Not Prometheus text, no lowcarb serving metrics, no energy or no inferences
            for ``model``, or counters that went down between the scrapes (a restart).
        MissingDependencyError: ``prometheus_client`` is not installed.
    """
    joules, inferences, seen = _sums(text, model, location)
    if not seen:
        raise DataError(
            f"{location}: has no {ENERGY_METRIC} or {INFERENCES_METRIC}; give the /metrics page "
            "of `lowcarb serve`"
        )
    if previous is not None:
        before_j, before_n, _ = _sums(previous, model, f"{location} (previous scrape)")
        for name, value in before_j.items():
            joules[name] = joules.get(name, 0.0) - value
        inferences -= before_n
        if inferences < 0 or any(v < -1e-9 for v in joules.values()):
            raise DataError(
                f"{location}: counters for {model!r} went down since the previous scrape (the "
                "server restarted?); scrape twice again"
            )
    if inferences <= 0:
        known = _models(text)
        hint = f"; models in it: {', '.join(repr(m) for m in known[:20])}" if known else ""
        window = " between the two scrapes" if previous is not None else ""
        raise DataError(f"{location}: no inferences for model {model!r}{window}{hint}")
    total_j = sum(max(0.0, v) for v in joules.values())
    if not total_j > 0:
        raise DataError(
            f"{location}: no {ENERGY_METRIC} for model {model!r} (served unmetered?); "
            "serve it with energy metering"
        )
    methods = {m for m, v in joules.items() if v > 0}
    method: Method = "measured" if methods == {"measured"} else "estimated"
    return EnergyFigure(
        model=model,
        version=version,
        energy_per_1k_j=1000.0 * total_j / inferences,
        method=method,
        source=location,
        inferences=round(inferences),
    )


def fetch_metrics(
    url: str, *, client: httpx.Client | None = None, timeout_s: float = 10.0
) -> bytes:
    """GET a ``/metrics`` page (bounded in size and time).

    Args:
        url: ``http://`` or ``https://`` URL of the page.
        client: The HTTP client (injected for tests: ``httpx.Client(transport=MockTransport)``).
        timeout_s: Per-request timeout, seconds.

    Raises:
        UsageError: Not an HTTP URL.
        ProviderError: Unreachable, an HTTP error status, or a page over the size limit.
    """
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"metrics URL {plain(url)[:200]!r} must start with http:// or https://")
    own = client is None
    http = client or httpx.Client(timeout=timeout_s, follow_redirects=True)
    try:
        with http.stream("GET", url, timeout=timeout_s) as response:
            if response.status_code != 200:
                raise ProviderError(f"GET {url} answered HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_METRICS_BYTES:
                    raise ProviderError(f"GET {url}: over {MAX_METRICS_BYTES:,} bytes; stopped")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise ProviderError(f"GET {url} failed: {plain(exc)[:200] or type(exc).__name__}") from None
    finally:
        if own:
            http.close()


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
