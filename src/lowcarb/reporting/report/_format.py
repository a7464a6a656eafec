"""Numbers and names as the Markdown and HTML reports print them (one rounding for both).

CSV and JSON carry full precision; these are for reading. CO2e is shown in kilograms, energy in
kilowatt-hours, both to three decimals, so a figure in the Markdown and the HTML report is the
same text and the JSON's grams divided by 1,000.
"""

from __future__ import annotations

import math

from lowcarb._text import plain

__all__ = ["NONE", "count", "kg", "kwh", "name", "num", "pct", "share"]

#: How a missing figure prints.
NONE = "n/a"
#: How a record without that attribution prints.
UNATTRIBUTED = "(none)"


def _fixed_or_significant(value: float) -> str:
    """Three decimals (``1,234.568``), or three significant digits when that would show zero
    (``0.000123``): a small run must not print as ``0.000``."""
    if value == 0 or abs(value) >= 0.0005:
        return f"{value:,.3f}"
    return f"{value:.3g}"


def kg(grams: float | None) -> str:
    """CO2e grams as kilograms: ``1,234.568`` (``0.000123`` for small figures)."""
    return NONE if grams is None else _fixed_or_significant(grams / 1000.0)


def kwh(value: float | None) -> str:
    """Energy in kWh: ``1,234.568`` (``0.000123`` for small figures)."""
    return NONE if value is None else _fixed_or_significant(value)


def num(value: float | None, digits: int = 1) -> str:
    """A number with ``digits`` decimals and thousands separators."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return NONE
    return f"{value:,.{digits}f}"


def count(value: float | None) -> str:
    """A whole number with thousands separators."""
    return NONE if value is None else f"{int(value):,}"


def share(value: float | None) -> str:
    """A 0..1 share as a percentage: ``58.4%``."""
    return NONE if value is None else f"{value * 100:.1f}%"


def pct(value: float | None) -> str:
    """A percentage: ``12.3%``."""
    return NONE if value is None else f"{value:.1f}%"


def name(value: object) -> str:
    """A name from a record (control characters made harmless); ``(none)`` when unset."""
    return UNATTRIBUTED if value is None else plain(value)
