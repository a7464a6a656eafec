"""Energy per 1,000 inferences of one model version, from a profile or serving metrics.

Figures come from efficiency profiles (the JSON ``lowcarb gate`` compares: ``energy_per_1k_j``
and ``energy_method``) or from a serving app's Prometheus metrics, where a model's figure is
``1000 x lowcarb_energy_joules_total / lowcarb_inferences_total`` summed over its stages and
methods (``model`` label), either since the app started or between two scrapes. A figure is
``measured`` only when every joule behind it was. ``_regression`` compares two of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx

from lowcarb._text import plain
from lowcarb.energy import Method
from lowcarb.errors import DataError, MissingDependencyError, ProviderError, UsageError
from lowcarb.profiling import Profile

__all__ = [
    "ENERGY_METRIC",
    "INFERENCES_METRIC",
    "MAX_METRICS_BYTES",
    "EnergyFigure",
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
