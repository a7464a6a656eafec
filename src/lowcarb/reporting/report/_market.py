"""Contractual emission factors for market-based Scope 2, read from a file a person supplies.

The GHG Protocol Scope 2 Guidance (WRI/WBCSD, 2015, ch. 6, table 6.3) ranks the factors a
market-based figure may use: energy attribute certificates and PPAs, then supplier-specific
rates, then the residual mix; a grid average only where none of these exists, disclosed as such.
Records that carry their own instrument (:class:`lowcarb.ledger.MarketFactor`) use it; this file
gives the factor for the rest, per grid zone. lowcarb never invents one: a zone with energy and
no factor makes the market-based total "not available", with the zones named.

YAML::

    factors:
      DE: {intensity_g_per_kwh: 536.0, source: "AIB European Residual Mixes 2023, DE"}
      FR: {intensity_g_per_kwh: 0, source: "supplier: green tariff 2024 (GO-backed)"}

CSV (a header, then one zone per line)::

    zone,intensity_g_per_kwh,source
    DE,536.0,"AIB European Residual Mixes 2023, DE"
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lowcarb._files import read_text_file
from lowcarb._formats import load_yaml
from lowcarb._text import MAX_NAME_CHARS, plain
from lowcarb.errors import DataError
from lowcarb.ledger import MarketFactor

__all__ = ["MAX_MARKET_FACTOR_G_PER_KWH", "MarketFactors", "load_market_factors"]

#: The highest factor accepted, gCO2e/kWh: above any grid (lignite is ~1,100); a larger number
#: is a unit mistake (g/MWh, lb/MWh).
MAX_MARKET_FACTOR_G_PER_KWH = 2000.0
_MAX_BYTES = 1 << 20
_MAX_ZONES = 10_000
_HELP = "see `lowcarb report --help` for the YAML and CSV layouts"


class MarketFactors(Mapping[str, MarketFactor]):
    """Zone id -> contractual factor (read-only), and the file it came from."""

    def __init__(self, factors: Mapping[str, MarketFactor], *, source: str) -> None:
        self._factors = dict(factors)
        self.source = source

    def __getitem__(self, zone: str) -> MarketFactor:
        return self._factors[zone]

    def __iter__(self) -> Any:
        return iter(self._factors)

    def __len__(self) -> int:
        return len(self._factors)

    def __repr__(self) -> str:
        return f"MarketFactors({len(self)} zones from {self.source!r})"


def _factor(zone: Any, value: Any, source: Any, where: str) -> tuple[str, MarketFactor]:
    if not isinstance(zone, str) or not zone.strip() or len(zone) > MAX_NAME_CHARS:
        raise DataError(f"{where}: zone {plain(zone)[:80]!r} must be a zone id such as DE; {_HELP}")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise DataError(
                f"{where}: intensity_g_per_kwh {plain(value)[:40]!r} for zone {zone!r} is not a "
                "number; give gCO2e/kWh"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataError(
            f"{where}: zone {zone!r} needs intensity_g_per_kwh as a number of gCO2e/kWh, "
            f"got {plain(value)[:40]!r}"
        )
    if not 0 <= value <= MAX_MARKET_FACTOR_G_PER_KWH:
        raise DataError(
            f"{where}: zone {zone!r} factor {value:g} gCO2e/kWh is outside 0.."
            f"{MAX_MARKET_FACTOR_G_PER_KWH:g}; is it in g/MWh or lb/MWh? convert to gCO2e/kWh"
        )
    if not isinstance(source, str) or not source.strip():
        raise DataError(
            f"{where}: zone {zone!r} needs a source (the instrument, supplier or residual mix "
            "the factor comes from); market-based factors are never anonymous"
        )
    return zone, MarketFactor(float(value), plain(source.strip())[:MAX_NAME_CHARS])


def _rows_from_yaml(text: str, where: str) -> list[tuple[Any, Any, Any]]:
    data = load_yaml(text, source=where)
    factors = data.get("factors") if isinstance(data, dict) else None
    if not isinstance(factors, dict) or not factors:
        raise DataError(
            f"{where}: expected a `factors:` mapping of zone -> {{intensity_g_per_kwh, source}}; "
            f"{_HELP}"
        )
    rows = []
    for zone, entry in factors.items():
        if not isinstance(entry, dict):
            raise DataError(
                f"{where}: zone {plain(zone)[:80]!r} must map to {{intensity_g_per_kwh, source}}"
            )
        unknown = sorted(set(entry) - {"intensity_g_per_kwh", "source"})
        if unknown:
            raise DataError(
                f"{where}: zone {plain(zone)[:80]!r} has unknown key(s) "
                f"{', '.join(repr(plain(k)) for k in unknown)}; use intensity_g_per_kwh and source"
            )
        rows.append((zone, entry.get("intensity_g_per_kwh"), entry.get("source")))
    return rows


def _rows_from_csv(text: str, where: str) -> list[tuple[Any, Any, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    need = {"zone", "intensity_g_per_kwh", "source"}
    if reader.fieldnames is None or not need <= {h.strip() for h in reader.fieldnames}:
        raise DataError(f"{where}: the header must be zone,intensity_g_per_kwh,source; {_HELP}")
    rows = []
    for line in reader:
        clean = {(k or "").strip(): (v or "").strip() for k, v in line.items() if k is not None}
        rows.append((clean["zone"], clean["intensity_g_per_kwh"], clean["source"]))
    return rows


def load_market_factors(path: str | Path) -> MarketFactors:
    """Read a market factor file (YAML, or CSV when the name ends in ``.csv``).

    Raises:
        UsageError: The file is missing or not a regular file.
        DataError: Malformed: a missing or negative factor, one above
            :data:`MAX_MARKET_FACTOR_G_PER_KWH`, a missing source, a zone given twice.
    """
    p = Path(path)
    where = f"market factor file {str(p)!r}"
    text = read_text_file(p, what="market factor file", max_bytes=_MAX_BYTES)
    rows = (
        _rows_from_csv(text, where) if p.suffix.lower() == ".csv" else _rows_from_yaml(text, where)
    )
    if len(rows) > _MAX_ZONES:
        raise DataError(f"{where}: {len(rows):,} zones, more than the {_MAX_ZONES:,} allowed")
    factors: dict[str, MarketFactor] = {}
    for i, (zone, value, source) in enumerate(rows, start=1):
        name, factor = _factor(zone, value, source, f"{where} entry {i}")
        if name in factors:
            raise DataError(f"{where}: zone {name!r} is given twice; keep one factor per zone")
        factors[name] = factor
    if not factors:
        raise DataError(f"{where}: no factors; {_HELP}")
    return MarketFactors(factors, source=str(p))
