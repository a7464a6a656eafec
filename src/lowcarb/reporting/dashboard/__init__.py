"""lowcarb.reporting.dashboard: a web dashboard over the live ledger (``lowcarb dashboard``).

* :func:`create_dashboard_app`: a FastAPI app with HTML pages and their JSON twins (overview,
  records, teams, models and versions, jobs, decisions, the grid view, tokens), filters by
  period, team and project, links from every figure to the records behind it, Plotly charts
  drawn with the plotly.js the app serves itself (no CDN), and the Carbon Aware SDK-compatible
  API (``/emissions/...``) over the same grid data.
* Access: API tokens (:class:`lowcarb.ledger.TokenStore`, ``lowcarb tokens``) sent as
  ``Authorization: Bearer``; a team token reads its own team only; anonymous access only on
  loopback and only while the ledger has no token (:class:`Principal`, ``_auth``).
* :class:`DailyRollup`: the ledger's figures per UTC day and attribution, kept up to date from
  the ledger's sequence, which makes an overview over a million records answer in milliseconds
  (``benchmarks/dashboard.py``).
* :func:`run_dashboard`: serve it with uvicorn.

Needs the ``report`` extra (FastAPI, Jinja2, plotly): ``pip install 'lowcarb[report]'``.
"""

from __future__ import annotations

from lowcarb.errors import MissingDependencyError as _MissingDependencyError

try:
    import fastapi  # noqa: F401
    import jinja2  # noqa: F401
except ImportError as _exc:  # pragma: no cover - the report extra is part of dev installs
    raise _MissingDependencyError(str(_exc.name), "report") from None

from lowcarb.reporting.dashboard._app import create_dashboard_app
from lowcarb.reporting.dashboard._auth import Principal, is_loopback
from lowcarb.reporting.dashboard._errors import DashboardError
from lowcarb.reporting.dashboard._query import DEFAULT_DAYS, MAX_DAYS, DashboardQuery, parse_query
from lowcarb.reporting.dashboard._rollup import DailyRollup, RollupRow, RollupStatus
from lowcarb.reporting.dashboard._server import run_dashboard

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "DailyRollup",
    "DashboardError",
    "DashboardQuery",
    "Principal",
    "RollupRow",
    "RollupStatus",
    "create_dashboard_app",
    "is_loopback",
    "parse_query",
    "run_dashboard",
]
