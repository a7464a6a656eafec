"""The building blocks of a report's text: sections of paragraphs, tables and bullet lists.

Text here is plain; each renderer (``_markdown``, ``_html``) escapes it for its own syntax.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Section", "Table", "make_table"]


@dataclass(frozen=True, slots=True)
class Table:
    """A table of text cells; ``numeric`` marks right-aligned columns."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Section:
    """A titled part of the report: paragraphs, then tables, then bullet lists."""

    id: str
    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    bullets: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())


def make_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: Sequence[bool],
    caption: str = "",
) -> Table:
    return Table(tuple(headers), tuple(tuple(r) for r in rows), tuple(numeric), caption)
