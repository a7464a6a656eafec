"""lowcarb.reporting.report: who emitted what, for a period, as HTML, Markdown, CSV or JSON.

- :class:`ReportQuery` (a period, optionally a team or project) and :func:`collect`, which asks
  the ledger's database for every figure (SQL ``GROUP BY``, one pass over the period) and
  returns a :class:`ReportData` of frozen dataclasses: totals, daily and weekly series, figures
  by team, project, model and kind, measured vs estimated energy, Scope 2 location- and
  market-based with factors and sources, model versions, scheduler savings, tuning fronts,
  decisions and an audit section. A dashboard reuses it.
- :func:`build_report` renders it: one self-contained HTML file (Plotly charts, plotly.js
  embedded once, no network), Markdown, CSV (one long table, see ``_csv``) or JSON.
- :func:`load_market_factors` reads contractual factors for market-based Scope 2.
"""

from lowcarb.reporting.report._build import (
    REPORT_FORMATS,
    ReportFormat,
    build_report,
    format_for_path,
)
from lowcarb.reporting.report._csv import CSV_COLUMNS
from lowcarb.reporting.report._data import collect
from lowcarb.reporting.report._figures import Figures, GroupRow, Scope2, SeriesPoint, ZoneFactor
from lowcarb.reporting.report._market import (
    MAX_MARKET_FACTOR_G_PER_KWH,
    MarketFactors,
    load_market_factors,
)
from lowcarb.reporting.report._query import DEFAULT_PERIOD, MAX_PERIOD, ReportQuery, query_from_text
from lowcarb.reporting.report._types import (
    Audit,
    BudgetRow,
    DecisionRow,
    Decisions,
    ModelRow,
    ParetoPoint,
    ReportData,
    SchedulerSavings,
    SourceRow,
    TuningStudy,
)

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_PERIOD",
    "MAX_MARKET_FACTOR_G_PER_KWH",
    "MAX_PERIOD",
    "REPORT_FORMATS",
    "Audit",
    "BudgetRow",
    "DecisionRow",
    "Decisions",
    "Figures",
    "GroupRow",
    "MarketFactors",
    "ModelRow",
    "ParetoPoint",
    "ReportData",
    "ReportFormat",
    "ReportQuery",
    "SchedulerSavings",
    "Scope2",
    "SeriesPoint",
    "SourceRow",
    "TuningStudy",
    "ZoneFactor",
    "build_report",
    "collect",
    "format_for_path",
    "load_market_factors",
    "query_from_text",
]
