"""lowcarb.integrations.grafana: the Grafana dashboard of ``lowcarb serve``'s Prometheus metrics.

The dashboard ships as package data (``lowcarb-serving.json``, Grafana dashboard JSON with a
``datasource`` variable of type prometheus): import it in Grafana, or load it here to provision it.
The file is built with Grafana's foundation SDK (``grafana-foundation-sdk``, generated from
Grafana's own dashboard schema) by ``scripts/build_grafana_dashboard.py``; loading it never needs
the SDK.

- :func:`serving_dashboard`: the shipped dashboard as a dict (a fresh copy each call).
- :func:`dashboard_queries`: every panel's PromQL, as ``(panel title, refId, expr)``.
- :func:`build_serving_dashboard`: the dashboard as the SDK builds it (needs the SDK).
- :func:`render_dashboard`: a dashboard as the text of its JSON file.
"""

from lowcarb.integrations.grafana._build import build_serving_dashboard, render_dashboard
from lowcarb.integrations.grafana._dashboard import (
    SERVING_DASHBOARD,
    dashboard_queries,
    serving_dashboard,
)

__all__ = [
    "SERVING_DASHBOARD",
    "build_serving_dashboard",
    "dashboard_queries",
    "render_dashboard",
    "serving_dashboard",
]
