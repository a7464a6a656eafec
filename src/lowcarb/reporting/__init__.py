"""Reports of who emitted what, and the HTTP APIs that show it.

- Footprint tables (:func:`print_footprint`; CodeCarbon-compatible CSV is a tracking sink).
- Reports (:func:`collect`, :func:`build_report`, ``lowcarb report``): who emitted what over a
  period, in HTML (Plotly, offline), Markdown, CSV and JSON, with an audit section
  (:mod:`lowcarb.reporting.report`).
- The Carbon Aware SDK-compatible API (:func:`carbon_aware_router`,
  :func:`create_carbon_aware_app`): the Green Software Foundation SDK's ``/emissions/...`` paths
  served from lowcarb's sources, forecasts and planner (:mod:`lowcarb.reporting.carbonaware`).

- The dashboard (:func:`create_dashboard_app`, ``lowcarb dashboard``): the live ledger as web
  pages and JSON, team tokens, a daily rollup, and the Carbon Aware API in one app
  (:mod:`lowcarb.reporting.dashboard`).

Importing the package is cheap: the names that need FastAPI load on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lowcarb._lazy import lazy_attributes as _lazy_attributes
from lowcarb.reporting._table import format_energy, print_footprint

if TYPE_CHECKING:
    from lowcarb.reporting.carbonaware import (
        CarbonAwareLimits,
        carbon_aware_router,
        carbon_aware_source,
        create_carbon_aware_app,
    )
    from lowcarb.reporting.report import (
        ReportData,
        ReportQuery,
        build_report,
        collect,
        load_market_factors,
    )

_LAZY: dict[str, str] = {
    name: "lowcarb.reporting.carbonaware"
    for name in (
        "CarbonAwareLimits",
        "carbon_aware_router",
        "carbon_aware_source",
        "create_carbon_aware_app",
    )
}
_LAZY.update({n: "lowcarb.reporting.dashboard" for n in ("create_dashboard_app", "run_dashboard")})
_LAZY.update(
    {
        name: "lowcarb.reporting.report"
        for name in ("ReportData", "ReportQuery", "build_report", "collect", "load_market_factors")
    }
)

__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY, globals())

__all__ = [
    "CarbonAwareLimits",
    "ReportData",
    "ReportQuery",
    "build_report",
    "carbon_aware_router",
    "carbon_aware_source",
    "collect",
    "create_carbon_aware_app",
    "format_energy",
    "load_market_factors",
    "print_footprint",
    "run_dashboard",
]
