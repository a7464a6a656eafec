"""Load the packaged dashboard and list its queries (what the Prometheus tests run)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

__all__ = ["SERVING_DASHBOARD", "dashboard_queries", "serving_dashboard"]

#: The file name of the serving dashboard inside this package.
SERVING_DASHBOARD = "lowcarb-serving.json"


def serving_dashboard() -> dict[str, Any]:
    """The serving dashboard, parsed (a fresh dict each call, safe to change)."""
    text = files(__package__).joinpath(SERVING_DASHBOARD).read_text("utf-8")
    dashboard: dict[str, Any] = json.loads(text)
    return dashboard


def dashboard_queries(dashboard: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Every PromQL query of a dashboard: ``(panel title, refId, expr)``, in panel order.

    Rows (panels nested under ``panels`` of a row panel) are included.
    """
    out: list[tuple[str, str, str]] = []
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if "expr" in target:
                out.append((str(panel.get("title", "")), str(target["refId"]), target["expr"]))
    return out


def _panels(panels: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    flat: list[Mapping[str, Any]] = []
    for panel in panels:
        flat.append(panel)
        flat.extend(_panels(panel.get("panels", [])))
    return flat
