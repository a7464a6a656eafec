"""lowcarb.integrations.grafana: the Grafana dashboard of ``lowcarb serve``'s Prometheus metrics.

The dashboard ships as package data (``lowcarb-serving.json``, Grafana dashboard JSON with
``schemaVersion`` 39 and a ``datasource`` variable of type prometheus): import it in Grafana, or
load it here to provision it.

- :func:`serving_dashboard`: the dashboard as a dict (a fresh copy each call).
- :func:`dashboard_queries`: every panel's PromQL, as ``(panel title, refId, expr)``.
"""

from lowcarb.integrations.grafana._dashboard import (
    SERVING_DASHBOARD,
    dashboard_queries,
    serving_dashboard,
)

__all__ = ["SERVING_DASHBOARD", "dashboard_queries", "serving_dashboard"]
