"""What a page's view is made of (cells, tables, charts) and how a figure is written in a cell.

The views (``_views`` and the ``_*_views`` modules) fill a :class:`View` from a page's JSON; one
template (``_html``) draws it. Values are plain text (Jinja escapes them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lowcarb.reporting.dashboard._charts import UNATTRIBUTED

__all__ = ["Cell", "Table", "View", "charts_json", "name", "num", "num_cell", "pct"]


@dataclass(frozen=True, slots=True)
class Cell:
    """A table cell: text, optionally a link, or a button posting to ``post``."""

    text: str
    href: str | None = None
    numeric: bool = False
    post: str | None = None


@dataclass
class Table:
    """A table: caption, headers and rows of cells."""

    caption: str
    headers: list[str]
    rows: list[list[Cell]]
    id: str = ""


@dataclass
class View:
    """What the page template shows."""

    title: str
    cards: list[Cell] = field(default_factory=list)
    card_labels: list[str] = field(default_factory=list)
    charts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    paragraphs: list[Cell] = field(default_factory=list)
    filters: bool = True


def num(value: float | None, unit: str = "") -> str:
    """A figure for people: three significant digits when small, never "0.000" for a non-zero."""
    if value is None:
        return "n/a"
    if value == 0:
        text = "0"
    elif abs(value) >= 100:
        text = f"{value:,.1f}"
    elif abs(value) >= 0.01:
        text = f"{value:,.3f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def pct(share: float | None) -> str:
    """A 0..1 share as a percentage."""
    return "n/a" if share is None else f"{share * 100:.1f}%"


def name(value: object) -> str:
    """A name, or how missing ones are shown."""
    return UNATTRIBUTED if value is None else str(value)


def num_cell(value: float | None, unit: str = "") -> Cell:
    """A figure in a right-aligned cell."""
    return Cell(num(value, unit), numeric=True)


def charts_json(charts: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str]]:
    """Each chart as ``(id, figure JSON)`` for its ``data-figure`` attribute."""
    return [(cid, json.dumps(fig, separators=(",", ":"), allow_nan=False)) for cid, fig in charts]
