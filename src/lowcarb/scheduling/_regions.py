"""Where to run: cloud regions ranked by the carbon intensity of the grid that powers them.

:func:`rank_regions` takes the regions a workload may run in (``aws:eu-west-1``, as
``lowcarb zones`` lists them), finds each one's grid zone in lowcarb's region map, and ranks them
by that zone's intensity from an :class:`~lowcarb.grid.IntensitySource`: the latest value at
``now``, or the mean of its forecast over the next ``window_h`` hours (for work that starts now
and runs that long). The cleanest comes first; regions with equal figures (two regions on one
grid) keep the order they were given in, so the caller's first preference wins a tie.

:meth:`RegionRanking.to_flat_dict` is the result as a flat mapping of strings: the shape
Terraform's ``external`` data source requires of its program (``lowcarb regions rank --json``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from lowcarb._text import plain
from lowcarb.errors import InvalidValueError, LowcarbError, UnknownZoneError, UsageError
from lowcarb.grid import CloudRegion, IntensitySource, cloud_regions, lookup_region, lookup_zone

__all__ = [
    "MAX_CANDIDATES",
    "MAX_WINDOW_H",
    "RegionIntensity",
    "RegionRanking",
    "parse_regions",
    "rank_regions",
]

#: The most candidate regions one ranking takes (the three providers map fewer than 100).
MAX_CANDIDATES = 200
#: The longest forecast window, hours (a week: forecasts further out are guesses).
MAX_WINDOW_H = 168


@dataclass(frozen=True, slots=True)
class RegionIntensity:
    """One candidate region and the intensity it was ranked by.

    Attributes:
        region: The cloud region.
        intensity_g_per_kwh: gCO2e/kWh of its zone: the latest value, or a forecast mean.
        source: Where the figure comes from (``trace:...``, ``profile:...``, a provider).
        kind: ``measured``, ``estimated`` or ``forecast``.
        note: Caveats (a stale reading, how many forecast hours were averaged).
    """

    region: CloudRegion
    intensity_g_per_kwh: float
    source: str
    kind: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class RegionRanking:
    """Candidate regions, cleanest first.

    Attributes:
        ranked: Every candidate, by intensity (ties in the order given).
        now: The decision time (UTC).
        window_h: 0: ranked by the latest value at ``now``; else by the mean forecast over the
            ``window_h`` hours from ``now``.
    """

    ranked: tuple[RegionIntensity, ...]
    now: datetime
    window_h: int = 0

    @property
    def chosen(self) -> RegionIntensity:
        """The cleanest candidate."""
        return self.ranked[0]

    @property
    def basis(self) -> str:
        """What the regions were ranked by, in words."""
        if self.window_h == 0:
            return "latest intensity"
        return f"mean forecast intensity over the next {self.window_h} h"

    @property
    def reason(self) -> str:
        """Why the chosen region won, in one line."""
        best = self.chosen
        text = (
            f"{best.region.key} ({best.region.zone_id}) has the lowest {self.basis} of "
            f"{len(self.ranked)} candidate region(s): {best.intensity_g_per_kwh:.1f} gCO2e/kWh"
        )
        if len(self.ranked) > 1:
            nxt = self.ranked[1]
            same = f"{nxt.intensity_g_per_kwh:.1f}" == f"{best.intensity_g_per_kwh:.1f}"
            tie = " (a tie: the first listed wins)" if same else ""
            text += (
                f" vs {nxt.intensity_g_per_kwh:.1f} for the next, {nxt.region.key} "
                f"({nxt.region.zone_id}){tie}"
            )
        text += f"; source {best.source} ({best.kind})"
        return f"{text}; {best.note}" if best.note else text

    def to_flat_dict(self) -> dict[str, str]:
        """The ranking as a flat mapping of strings (Terraform's ``external`` data source).

        Keys: ``region`` (the provider's name for it, e.g. ``eu-north-1``), ``provider``,
        ``candidate`` (``provider:region``), ``location``, ``zone``, ``intensity_g_per_kwh``,
        ``source``, ``kind``, ``basis``, ``window_h``, ``now``, ``reason``, ``ranked`` (every
        candidate, cleanest first, comma-joined) and ``ranked_intensities_g_per_kwh`` (theirs).
        """
        best = self.chosen
        return {
            "region": best.region.region,
            "provider": best.region.provider,
            "candidate": best.region.key,
            "location": best.region.location,
            "zone": best.region.zone_id,
            "intensity_g_per_kwh": f"{best.intensity_g_per_kwh:.1f}",
            "source": best.source,
            "kind": best.kind,
            "basis": self.basis,
            "window_h": str(self.window_h),
            "now": self.now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "reason": self.reason,
            "ranked": ",".join(r.region.key for r in self.ranked),
            "ranked_intensities_g_per_kwh": ",".join(
                f"{r.intensity_g_per_kwh:.1f}" for r in self.ranked
            ),
        }


def parse_regions(items: str | Iterable[str]) -> tuple[CloudRegion, ...]:
    """Cloud regions from ``"aws:eu-west-1,aws:eu-north-1"`` (or a list of such strings).

    Blank items are skipped and repeats dropped (the first occurrence keeps its place).

    Raises:
        UsageError: No region given.
        InvalidValueError: More than :data:`MAX_CANDIDATES`, or a grid zone id (a region is
            needed, to run in: the message lists the zone's regions).
        UnknownZoneError: A name that is no mapped cloud region; the message lists close ones.
    """
    texts = [items] if isinstance(items, str) else list(items)
    names = [part.strip() for text in texts for part in text.split(",") if part.strip()]
    if not names:
        raise UsageError(
            "no candidate region given; give --candidates provider:region,... "
            "(e.g. aws:eu-west-1,aws:eu-north-1; `lowcarb zones` lists them)"
        )
    if len(names) > MAX_CANDIDATES:
        raise InvalidValueError(
            f"{len(names)} candidate regions given; give at most {MAX_CANDIDATES}"
        )
    out: dict[str, CloudRegion] = {}
    for name in names:
        region = lookup_region(name)
        if region is None:
            raise _not_a_region(name)
        out.setdefault(region.key, region)
    return tuple(out.values())


def _not_a_region(name: str) -> LowcarbError:
    known = [r.key for r in cloud_regions()]
    try:
        zone = lookup_zone(name)
    except UnknownZoneError:
        return UnknownZoneError(
            name, known, hint="give provider:region; run `lowcarb zones` to list the regions"
        )
    mapped = [r.key for r in cloud_regions() if r.zone_id == zone.zone_id]
    where = f": its regions are {', '.join(mapped)}" if mapped else ""
    return InvalidValueError(
        f"{plain(name)!r} is a grid zone, not a cloud region; give provider:region{where}"
    )


def rank_regions(
    candidates: str | Iterable[str | CloudRegion],
    source: IntensitySource,
    *,
    now: datetime,
    window_h: int = 0,
) -> RegionRanking:
    """Rank ``candidates`` by their grid's intensity, cleanest first (see the module docstring).

    Args:
        candidates: Regions (``"aws:eu-west-1"``, a comma-joined string of them, or
            :class:`~lowcarb.grid.CloudRegion` values).
        source: Where intensities come from (a trace replayed at ``now`` uses only its hours
            before ``now``).
        now: The decision time (timezone-aware).
        window_h: 0 ranks by the latest value at ``now``; 1 to :data:`MAX_WINDOW_H` ranks by
            the mean forecast over that many hours from ``now``.

    Raises:
        UsageError: No candidate.
        InvalidValueError: A window outside 0..168 hours, too many candidates, a zone id.
        UnknownZoneError: A candidate that is no mapped cloud region.
        LowcarbError: The source has no figure for a candidate's zone (nothing is left out
            silently: the caller drops the region or gives data for it).
    """
    if not 0 <= window_h <= MAX_WINDOW_H:
        raise InvalidValueError(
            f"the ranking window must be 0 (now) to {MAX_WINDOW_H} hours, got {window_h!r}"
        )
    names = [candidates] if isinstance(candidates, str) else candidates
    regions = parse_regions(c.key if isinstance(c, CloudRegion) else c for c in names)
    now = now.astimezone(UTC)
    by_zone: dict[str, tuple[float, str, str, str]] = {}
    scored = []
    for region in regions:
        if region.zone_id not in by_zone:
            by_zone[region.zone_id] = _figure(source, region.zone_id, now, window_h)
        value, src, kind, note = by_zone[region.zone_id]
        scored.append(RegionIntensity(region, value, src, kind, note))
    ranked = sorted(scored, key=lambda r: r.intensity_g_per_kwh)  # stable: ties keep their order
    return RegionRanking(ranked=tuple(ranked), now=now, window_h=window_h)


def _figure(
    source: IntensitySource, zone: str, now: datetime, window_h: int
) -> tuple[float, str, str, str]:
    if window_h == 0:
        latest = source.latest(zone, now=now)
        return latest.intensity_g_per_kwh, latest.source, latest.kind, latest.note
    series = source.forecast(zone, now=now, horizon_h=window_h)
    if not len(series):
        raise InvalidValueError(
            f"no forecast for {zone} over the {window_h} h after {now:%Y-%m-%dT%H:%MZ}"
        )
    note = f"mean of {len(series)} hourly values from {series.start:%Y-%m-%dT%H:%MZ}"
    return series.mean_g_per_kwh(), series.source, series.kind, note
