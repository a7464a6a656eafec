"""Untrusted text is data, never markup: one place to make names safe to show, store and export.

Names and fields come from records, files and flags that anyone may have written. Before Rich
renders them they are stripped of control characters (raw ANSI escapes would reach the terminal)
and their markup is escaped (``[bold red]APPROVED`` must print as typed, ``[/]`` must not raise).
Names are validated when written; CSV cells are neutralised against formula injection as OWASP
recommends (a leading ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a ``'`` prefix).
"""

from __future__ import annotations

import re

from rich.markup import escape

from lowcarb.errors import InvalidValueError

__all__ = ["MAX_NAME_CHARS", "check_name", "csv_cell", "plain", "safe"]

#: The longest team, project, model, version or user name a record may carry.
MAX_NAME_CHARS = 200
# C0 and C1 control characters and DEL; tab and newline become spaces on display.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def plain(value: object) -> str:
    """``value`` as text with every control character (ANSI escapes included) made harmless."""
    text = "" if value is None else str(value)
    return _CONTROL.sub(lambda m: " " if m.group() in "\t\n\r" else "\ufffd", text)


def safe(value: object) -> str:
    """``value`` ready for Rich: control characters removed and markup escaped."""
    return escape(plain(value))


def check_name(value: str | None, *, what: str) -> str | None:
    """Validate a name before it is written anywhere (None passes).

    Raises:
        InvalidValueError: Longer than :data:`MAX_NAME_CHARS`, empty, or with control characters.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValueError(f"{what} must be text, got {type(value).__name__}")
    if len(value) > MAX_NAME_CHARS:
        raise InvalidValueError(
            f"{what} is {len(value)} characters long; the limit is {MAX_NAME_CHARS}"
        )
    if _CONTROL.search(value):
        raise InvalidValueError(
            f"{what} {plain(value)!r} contains control characters; use printable text"
        )
    if not value.strip():
        raise InvalidValueError(f"{what} is empty; give a name or leave it out")
    return value


def csv_cell(value: object) -> object:
    """A cell that spreadsheets will not evaluate: text starting like a formula gets a ``'``.

    Numbers pass unchanged (a negative number is data, not a formula).
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value
