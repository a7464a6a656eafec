"""The report as one JSON object (:meth:`ReportData.to_dict`): every figure at full precision."""

from __future__ import annotations

import json

from lowcarb.reporting.report._types import ReportData

__all__ = ["render_json"]


def render_json(data: ReportData) -> str:
    """The report as indented JSON text (no NaN or infinity: every figure is finite)."""
    return json.dumps(data.to_dict(), indent=2, allow_nan=False) + "\n"
