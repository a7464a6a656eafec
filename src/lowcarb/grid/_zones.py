"""The zone catalogue: Electricity Maps zone ids, and cloud regions mapped to them.

Both tables ship in ``lowcarb/grid/data/`` (``zones.csv``, ``cloud_regions.csv``). The cloud-region
map is lowcarb's own, made from each provider's published data-centre location and the Electricity
Maps zone (country, grid region or US balancing area) that serves that location.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources
from typing import Literal, cast

from lowcarb.errors import UnknownZoneError

__all__ = [
    "CloudProvider",
    "CloudRegion",
    "Zone",
    "ZoneKind",
    "cloud_regions",
    "lookup_region",
    "lookup_zone",
    "resolve_name",
    "zones",
]

#: ``world`` (the WORLD pseudo-zone), ``country``, ``region`` (a grid region or bidding zone inside
#: a country) or ``balancing-area`` (a US balancing authority).
ZoneKind = Literal["world", "country", "region", "balancing-area"]
CloudProvider = Literal["aws", "gcp", "azure"]
_PROVIDERS: tuple[CloudProvider, ...] = ("aws", "gcp", "azure")

#: Provenance tag of the cloud-region map (``data/cloud_regions.csv``: each provider's published
#: data-centre location -> the zone serving it), quoted in every figure priced through it.
REGION_MAP_SOURCE = "lowcarb-region-map"


@dataclass(frozen=True, slots=True)
class Zone:
    """One Electricity Maps zone.

    Attributes:
        zone_id: Electricity Maps zone id (``"DE"``, ``"US-CAL-CISO"``) or ``"WORLD"``.
        name: Human-readable name.
        country: ISO 3166-1 alpha-2 country code ("" for WORLD).
        kind: ``world``, ``country``, ``region`` or ``balancing-area``.
    """

    zone_id: str
    name: str
    country: str
    kind: ZoneKind


@dataclass(frozen=True, slots=True)
class CloudRegion:
    """A cloud provider's region and the grid zone it draws power from.

    Attributes:
        provider: ``aws``, ``gcp`` or ``azure``.
        region: The provider's region name (``"us-east-1"``, ``"europe-west4"``, ``"westeurope"``).
        location: Where the data centres are.
        zone_id: The Electricity Maps zone serving that location.
    """

    provider: CloudProvider
    region: str
    location: str
    zone_id: str

    @property
    def key(self) -> str:
        """``provider:region``, e.g. ``"aws:us-east-1"``."""
        return f"{self.provider}:{self.region}"


def _read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("lowcarb.grid").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@functools.cache
def _zone_table() -> dict[str, Zone]:
    # Immutable packaged data: caching it is not mutable global state.
    table: dict[str, Zone] = {}
    for row in _read_csv("zones.csv"):
        kind = row["kind"]
        if kind not in ("world", "country", "region", "balancing-area"):
            raise RuntimeError(f"zones.csv: bad kind {kind!r} for {row['zone_id']!r}")
        # cast: mypy does not narrow a str to a Literal through `in`; checked just above.
        table[row["zone_id"]] = Zone(
            row["zone_id"], row["name"], row["country"], cast(ZoneKind, kind)
        )
    return table


@functools.cache
def _region_table() -> dict[str, CloudRegion]:
    table: dict[str, CloudRegion] = {}
    zone_ids = _zone_table()
    for row in _read_csv("cloud_regions.csv"):
        provider = row["provider"]
        if provider not in _PROVIDERS or row["zone_id"] not in zone_ids:
            raise RuntimeError(f"cloud_regions.csv: bad row {row!r}")
        region = CloudRegion(provider, row["region"], row["location"], row["zone_id"])
        table[region.key] = region
    return table


def zones() -> tuple[Zone, ...]:
    """Every known zone, sorted by id (WORLD first)."""
    table = _zone_table()
    return tuple(sorted(table.values(), key=lambda z: (z.kind != "world", z.zone_id)))


def cloud_regions() -> tuple[CloudRegion, ...]:
    """Every mapped cloud region, in provider then region order."""
    return tuple(
        sorted(_region_table().values(), key=lambda r: (_PROVIDERS.index(r.provider), r.region))
    )


def _known_names() -> list[str]:
    return [*_zone_table(), *_region_table(), *(r.region for r in _region_table().values())]


def lookup_zone(name: str) -> Zone:
    """Find a zone by id (case-insensitive) or by a cloud region mapped to it.

    Args:
        name: An Electricity Maps zone id (``"DE"``, ``"us-cal-ciso"``), ``"WORLD"``,
            ``provider:region`` (``"aws:us-east-1"``) or a bare, unambiguous region name.

    Raises:
        UnknownZoneError: Neither a zone nor a cloud region; the message lists the closest known
            names and, for a country split into grid regions (``"SE"``, ``"US"``), its regions.
    """
    return resolve_name(name)[0]


def _unknown(name: str) -> UnknownZoneError:
    key = name.strip().upper()
    subzones = sorted(z for z in _zone_table() if z.startswith(key + "-"))
    hint = None
    if subzones:
        shown = ", ".join(subzones[:8]) + (", ..." if len(subzones) > 8 else "")
        hint = f"{key} is split into grid regions: {shown}; run `lowcarb zones --search {key}`"
    by_name = [z.zone_id for z in _zone_table().values() if z.name.lower() == name.strip().lower()]
    if by_name:
        hint = f"{name.strip()} is zone {by_name[0]!r}; zones are given by id"
    return UnknownZoneError(name, _known_names(), hint=hint)


def lookup_region(name: str) -> CloudRegion | None:
    """Find a cloud region by ``provider:region`` or by a bare region name.

    Args:
        name: ``"aws:us-east-1"``, ``"gcp:europe-west4"``, ``"azure:westeurope"``, or a bare
            ``"us-east-1"`` when exactly one provider has a region of that name.

    Returns:
        The region, or None when ``name`` is not a known cloud region.

    Raises:
        UnknownZoneError: ``provider:region`` with a known provider but an unknown region, or a
            bare name that several providers use.
    """
    table = _region_table()
    text = name.strip().lower()
    provider, sep, _ = text.partition(":")
    if sep:
        if provider not in _PROVIDERS:
            return None
        if text in table:
            return table[text]
        known = [k for k in table if k.startswith(provider + ":")]
        raise UnknownZoneError(
            name, known, hint=f"run `lowcarb zones --search {provider}:` to list mapped regions"
        )
    hits = [r for r in table.values() if r.region == text]
    if len(hits) > 1:
        keys = ", ".join(r.key for r in hits)
        raise UnknownZoneError(name, [], hint=f"ambiguous cloud region; write one of {keys}")
    return hits[0] if hits else None


def resolve_name(name: str) -> tuple[Zone, CloudRegion | None]:
    """Resolve a zone id or a cloud region to its zone.

    Args:
        name: A zone id (``"DE"``), ``provider:region`` (``"aws:us-east-1"``) or a bare region.

    Returns:
        The zone, and the cloud region it was reached through (None for a zone id).

    Raises:
        UnknownZoneError: Neither a zone nor a cloud region; lists close matches.
    """
    table = _zone_table()
    key = name.strip().upper()
    if key in table:
        return table[key], None
    region = lookup_region(name)
    if region is not None:
        return table[region.zone_id], region
    raise _unknown(name)
