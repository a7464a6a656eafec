"""Static annual carbon-intensity factors and the zone-setting precedence.

The table ``lowcarb/grid/data/annual_intensity.csv`` is built by ``scripts/build_profiles.py``:

* zones: Electricity Maps 2022 yearly means, average consumption-based lifecycle (LCA) intensity,
  from ``mean_stats_2020_2022.csv`` as compiled for Sukprasert et al., EuroSys 2024 (BR and NO from
  the Electricity Maps data-portal files of 2022). Electricity Maps data, ODbL 1.0.
* ``WORLD``: Ember, "Global Electricity Review 2024": 480 gCO2e/kWh for 2023 (lifecycle).
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import cast

from lowcarb.errors import InvalidValueError, UnknownZoneError
from lowcarb.grid._types import Intensity, Scope, Signal
from lowcarb.grid._zones import REGION_MAP_SOURCE, resolve_name

__all__ = ["AnnualFactor", "annual_factors", "resolve_zone", "static_intensity"]

#: Environment variable naming the zone when ``--zone`` is not given.
ZONE_ENV = "LOWCARB_ZONE"
WORLD = "WORLD"
NO_ZONE_NOTE = (
    "no zone configured, using world average; set --zone, LOWCARB_ZONE or `zone` in lowcarb.toml"
)

#: Long citations for the short source tags of the table.
CITATIONS: Mapping[str, str] = {
    "electricitymaps-2022-lca": (
        "Electricity Maps, 2022 yearly mean, average consumption-based lifecycle intensity "
        "(ODbL 1.0), as compiled for Sukprasert et al., EuroSys 2024"
    ),
    "ember-ger-2024": (
        "Ember, Global Electricity Review 2024: world electricity 480 gCO2e/kWh in 2023 (lifecycle)"
    ),
}


@dataclass(frozen=True, slots=True)
class AnnualFactor:
    """One row of the static table.

    Attributes:
        zone_id: Electricity Maps zone id or ``"WORLD"``.
        intensity_g_per_kwh: Annual mean, gCO2e/kWh.
        year: The year the mean covers.
        signal: ``average`` (all rows today).
        scope: ``lifecycle`` (all rows today).
        source: Short source tag, a key of :data:`CITATIONS`.
    """

    zone_id: str
    intensity_g_per_kwh: float
    year: int
    signal: Signal
    scope: Scope
    source: str


@functools.cache
def _table() -> dict[str, AnnualFactor]:
    # Immutable packaged data: caching it is not mutable global state.
    text = (
        resources.files("lowcarb.grid")
        .joinpath("data", "annual_intensity.csv")
        .read_text(encoding="utf-8")
    )
    table: dict[str, AnnualFactor] = {}
    for row in csv.DictReader(io.StringIO(text)):
        signal, scope = row["signal"], row["scope"]
        if signal not in ("average", "marginal") or scope not in ("lifecycle", "direct"):
            raise RuntimeError(f"annual_intensity.csv: bad row {row!r}")
        # cast below: mypy does not narrow a str to a Literal through `in`; checked just above.
        table[row["zone_id"]] = AnnualFactor(
            zone_id=row["zone_id"],
            intensity_g_per_kwh=float(row["intensity_g_per_kwh"]),
            year=int(row["year"]),
            signal=cast(Signal, signal),
            scope=cast(Scope, scope),
            source=row["source"],
        )
    return table


def annual_factors() -> tuple[AnnualFactor, ...]:
    """Every row of the static table, sorted by zone id (WORLD first)."""
    return tuple(sorted(_table().values(), key=lambda f: (f.zone_id != WORLD, f.zone_id)))


def static_intensity(zone: str | None) -> Intensity:
    """The static annual-average intensity of a zone or cloud region.

    Args:
        zone: An Electricity Maps zone id (``"DE"``), a cloud region (``"aws:us-east-1"`` or a bare,
            unambiguous ``"us-east-1"``), ``"WORLD"``, or None when no zone is configured.

    Returns:
        An ``estimated`` :class:`Intensity` with ``year`` set. Its ``source`` is
        ``"static:<source tag>"`` and, for a cloud region, also names the mapping used. With
        ``zone=None`` it is the world average and ``note`` says that no zone was configured.

    Raises:
        UnknownZoneError: An unknown zone or region (with close-match suggestions).
    """
    table = _table()
    if zone is None or not zone.strip():
        return _to_intensity(table[WORLD], source_suffix="", note=NO_ZONE_NOTE)
    found, region = resolve_name(zone)
    factor = table.get(found.zone_id)
    if factor is None:  # a catalogue zone without an annual figure: a packaging bug
        raise UnknownZoneError(
            zone, list(table), hint=f"zone {found.zone_id!r} has no static annual figure"
        )
    if region is None:
        return _to_intensity(factor, source_suffix="", note="")
    return _to_intensity(
        factor,
        source_suffix=f" via {REGION_MAP_SOURCE}:{region.key}->{found.zone_id}",
        note=f"cloud region {region.key} ({region.location}) mapped to zone {found.zone_id}",
    )


def _to_intensity(factor: AnnualFactor, *, source_suffix: str, note: str) -> Intensity:
    return Intensity(
        zone=factor.zone_id,
        intensity_g_per_kwh=factor.intensity_g_per_kwh,
        source=f"static:{factor.source}{source_suffix}",
        signal=factor.signal,
        scope=factor.scope,
        kind="estimated",
        time=None,
        year=factor.year,
        note=note,
    )


def resolve_zone(
    cli_zone: str | None, *, environ: Mapping[str, str], config_zone: str | None
) -> str | None:
    """Pick the configured zone: ``--zone``, then ``LOWCARB_ZONE``, then the config file.

    lowcarb never guesses a location over the network: with none of the three set, the answer is
    None (and :func:`static_intensity` then says so and uses the world average). Blank values count
    as unset. The name is returned as given (stripped), not validated: pass it to
    :func:`static_intensity` or :func:`lookup_zone`, which raise :class:`UnknownZoneError`.

    Args:
        cli_zone: The ``--zone`` flag, or None.
        environ: The environment (injected; ``os.environ`` in production).
        config_zone: ``zone`` from ``lowcarb.toml`` as loaded by the caller, or None.
    """
    if cli_zone is not None and not cli_zone.strip():
        raise InvalidValueError(
            "--zone is empty; give a zone id such as DE or aws:eu-west-1, or leave the flag out"
        )
    for candidate in (cli_zone, environ.get(ZONE_ENV), config_zone):
        if candidate is not None and candidate.strip():
            return candidate.strip()
    return None
