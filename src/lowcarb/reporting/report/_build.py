"""``build_report``: one :class:`ReportData`, four formats."""

from __future__ import annotations

from typing import Literal, get_args

from lowcarb.errors import UsageError
from lowcarb.reporting.report._types import ReportData

__all__ = ["REPORT_FORMATS", "ReportFormat", "build_report", "format_for_path"]

ReportFormat = Literal["html", "md", "csv", "json"]
#: The formats :func:`build_report` writes.
REPORT_FORMATS: tuple[str, ...] = get_args(ReportFormat)
_SUFFIXES: dict[str, ReportFormat] = {
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".markdown": "md",
    ".csv": "csv",
    ".json": "json",
}


def build_report(data: ReportData, fmt: ReportFormat) -> str:
    """Render ``data`` as ``html`` (self-contained page), ``md``, ``csv`` or ``json`` text.

    Raises:
        UsageError: An unknown format.
        MissingDependencyError: ``html`` without Plotly or Jinja2 (extra ``report``).
    """
    if fmt == "html":
        from lowcarb.reporting.report._html import render_html

        return render_html(data)
    if fmt == "md":
        from lowcarb.reporting.report._markdown import render_markdown

        return render_markdown(data)
    if fmt == "csv":
        from lowcarb.reporting.report._csv import render_csv

        return render_csv(data)
    if fmt == "json":
        from lowcarb.reporting.report._json import render_json

        return render_json(data)
    raise UsageError(f"unknown report format {fmt!r}; choose one of {', '.join(REPORT_FORMATS)}")


def format_for_path(path: str) -> ReportFormat | None:
    """The format a file name's suffix implies (``report.html`` -> ``html``), or None."""
    lower = path.lower()
    for suffix, fmt in _SUFFIXES.items():
        if lower.endswith(suffix):
            return fmt
    return None
