"""The report as GitHub-flavoured Markdown (tables, one per group; charts are HTML-only).

Every cell is escaped: names from records may hold ``|``, backticks, brackets or HTML, and
must print as typed, never as a link, an image or markup.
"""

from __future__ import annotations

import re

from lowcarb._text import plain
from lowcarb.reporting.report._sections import Table, sections, title
from lowcarb.reporting.report._types import ReportData

__all__ = ["escape_md", "render_markdown"]

# Inline syntax anywhere on a line; ``(`` and ``!`` need no escape once ``[`` is escaped.
_INLINE = re.compile(r"([\\`*_\[\]|~])")
# Block syntax at the start of a line: heading, quote, list item, ordered list item.
_BLOCK = re.compile(r"^(\s*)([#+-]|\d{1,9})([.)]?)(?=\s|$)")
# What GitHub turns into a link by itself (extended autolinks).
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp)://|\bwww\.")


def escape_md(text: str) -> str:
    """``text`` as literal Markdown on one line: emphasis, links, code, table pipes, HTML and
    autolinks escaped, so a name prints as typed and never as markup or a link."""
    one_line = " ".join(plain(text).split())
    escaped = _INLINE.sub(r"\\\1", one_line)
    escaped = escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = _AUTOLINK.sub(lambda m: m.group().replace("/", "\\/").replace(".", "\\."), escaped)
    return _BLOCK.sub(_escape_block, escaped, count=1)


def _escape_block(m: re.Match[str]) -> str:
    lead, mark, dot = m.group(1), m.group(2), m.group(3)
    if mark.isdigit():  # "1. " starts a list; a digit itself cannot be backslash-escaped
        return lead + mark + ("\\" + dot if dot else "")
    return lead + "\\" + mark + dot


def _table(t: Table) -> list[str]:
    out = []
    if t.caption:
        out += [f"*{escape_md(t.caption)}*", ""]
    out.append("| " + " | ".join(escape_md(h) for h in t.headers) + " |")
    out.append("|" + "|".join("---:" if n else "---" for n in t.numeric) + "|")
    for row in t.rows:
        out.append("| " + " | ".join(escape_md(c) for c in row) + " |")
    if not t.rows:
        out.append("| " + " | ".join(["-"] * len(t.headers)) + " |")
    return [*out, ""]


def render_markdown(data: ReportData) -> str:
    """The report as Markdown text."""
    heading, scope = title(data)
    lines = [f"# {escape_md(heading)}", "", escape_md(scope), ""]
    for s in sections(data):
        lines += [f"## {escape_md(s.title)}", ""]
        for p in s.paragraphs:
            lines += [escape_md(p), ""]
        for t in s.tables:
            lines += _table(t)
        for label, items in s.bullets:
            lines += [f"**{escape_md(label)}**", ""]
            lines += [f"- {escape_md(i)}" for i in items]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
