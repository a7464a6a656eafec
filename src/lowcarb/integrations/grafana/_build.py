"""The serving dashboard, built with Grafana's foundation SDK: what ``lowcarb-serving.json`` holds.

The SDK (``grafana-foundation-sdk``, Grafana Labs' types and builders generated from Grafana's own
dashboard schema) is a development dependency, imported only when a dashboard is built: serving and
loading the shipped JSON never need it. ``scripts/build_grafana_dashboard.py`` writes the file, and
a test asserts that the committed file is exactly :func:`render_dashboard` of
:func:`build_serving_dashboard`.

What the panels show is data (:data:`PANELS`); how they are laid out and encoded is the SDK's: its
dashboard builder places panels left to right on Grafana's 24-column grid, and its JSON encoder
writes each model's fields under their schema names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from string import ascii_uppercase
from typing import TYPE_CHECKING, Any, Literal

from lowcarb.errors import MissingDependencyError

if TYPE_CHECKING:
    from grafana_foundation_sdk.builders import statetimeline, timeseries

__all__ = ["PANELS", "PanelSpec", "Query", "build_serving_dashboard", "render_dashboard"]

#: The dashboard variable every panel and query takes its Prometheus data source from.
DATASOURCE_VARIABLE = "datasource"
PANEL_HEIGHT = 8
PANEL_WIDTH = 12  # half of Grafana's 24-column grid: two panels a row


@dataclass(frozen=True)
class Query:
    """One PromQL target of a panel: the expression and its series name template."""

    expr: str
    legend: str


@dataclass(frozen=True)
class PanelSpec:
    """One panel: what it shows, in which Grafana unit id, with which visualisation."""

    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    kind: Literal["timeseries", "state-timeline"] = "timeseries"


_ROWS_RATE = "rate(lowcarb_inferences_total[5m])"

#: The panels, in grid order (left to right, top to bottom).
PANELS: tuple[PanelSpec, ...] = (
    PanelSpec(
        "Energy rate by model",
        "Energy used by inference, joules per second (watts), measured or estimated.",
        "watt",
        (Query("sum by (model) (rate(lowcarb_energy_joules_total[5m]))", "{{model}}"),),
    ),
    PanelSpec(
        "CO2e rate by model",
        "CO2e of inference energy at the grid intensity in use, grams per hour.",
        "g/h",  # not a Grafana unit id: Grafana shows an unknown id as a suffix
        (Query("sum by (model) (rate(lowcarb_co2e_grams_total[5m])) * 3600", "{{model}}"),),
    ),
    PanelSpec(
        "Joules per request (p50, p95)",
        "Energy attributed to one request, from the per-request histogram.",
        "joule",
        tuple(
            Query(
                f"histogram_quantile({q}, sum by (le, model) "
                "(rate(lowcarb_request_energy_joules_bucket[5m])))",
                f"{{{{model}}}} {name}",
            )
            for q, name in (("0.5", "p50"), ("0.95", "p95"))
        ),
    ),
    PanelSpec(
        "kWh per million inferences",
        "Energy per million rows predicted: J/s over 3.6e6 J/kWh, divided by rows/s over a "
        "million.",
        "kwatth",
        (
            Query(
                "(sum by (model) (rate(lowcarb_energy_joules_total[5m])) / 3.6e6) / "
                "(sum by (model) (rate(lowcarb_inferences_total[5m])) / 1e6)",
                "{{model}}",
            ),
        ),
    ),
    PanelSpec(
        "Share of inferences answered by each stage",
        "Rows answered by each cascade stage, as a share of each model's rows (a request's rows "
        "may end at different stages; a single model's one stage is 'model').",
        "percentunit",
        (
            Query(
                f"sum by (model, stage) ({_ROWS_RATE}) / ignoring (stage) group_left () "
                f"sum by (model) ({_ROWS_RATE})",
                "{{model}} {{stage}}",
            ),
        ),
    ),
    PanelSpec(
        "Grid intensity in use",
        "Grid carbon intensity pricing the energy, gCO2e/kWh, by zone and source.",
        "none",
        (
            Query(
                "max by (zone, source) (lowcarb_grid_intensity_grams_per_kwh)",
                "{{zone}} ({{source}})",
            ),
        ),
    ),
    PanelSpec(
        "Cascade operating point",
        "1 for the operating point in use by each model ('default' for a single model).",
        "none",
        (Query("max by (model, point) (lowcarb_cascade_operating_point)", "{{model}} {{point}}"),),
        kind="state-timeline",
    ),
    PanelSpec(
        "Requests per second by status code",
        "Prediction requests answered, by HTTP status code.",
        "reqps",
        (Query("sum by (model, code) (rate(lowcarb_requests_total[5m]))", "{{model}} {{code}}"),),
    ),
)


def build_serving_dashboard() -> dict[str, Any]:
    """The serving dashboard, built with Grafana's foundation SDK and encoded as plain JSON data.

    Raises:
        MissingDependencyError: ``grafana-foundation-sdk`` is not installed (it comes with the
            ``dev`` extra).
    """
    try:
        from grafana_foundation_sdk.builders import dashboard
        from grafana_foundation_sdk.cog.encoder import JSONEncoder
        from grafana_foundation_sdk.models.dashboard import DashboardCursorSync, VariableHide
    except ImportError:
        raise MissingDependencyError("grafana-foundation-sdk", "dev") from None

    builder = (
        dashboard.Dashboard("lowcarb serving")
        .uid("lowcarb-serving")
        .description(
            "Energy, CO2e and cascade behaviour of `lowcarb serve`, from its Prometheus metrics."
        )
        .tags(["lowcarb", "energy", "carbon"])
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .version(1)
        .time("now-6h", "now")
        .timezone("browser")
        .refresh("30s")
        .annotations([])
        .links([])
        .with_variable(
            dashboard.DatasourceVariable(DATASOURCE_VARIABLE)
            .label("Prometheus")
            .type("prometheus")
            .hide(VariableHide.DONT_HIDE)
            .regex("")
        )
    )
    for panel_id, spec in enumerate(PANELS, start=1):
        builder = builder.with_panel(_panel(spec, panel_id=panel_id))
    # The encoder turns the SDK's models into JSON types; loading its output back gives plain data.
    data: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return data


def render_dashboard(dashboard: Mapping[str, Any]) -> str:
    """The dashboard as the text of its JSON file (two-space indent, a final newline)."""
    return json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"


def _panel(spec: PanelSpec, *, panel_id: int) -> timeseries.Panel | statetimeline.Panel:
    from grafana_foundation_sdk.builders import common, prometheus, statetimeline, timeseries
    from grafana_foundation_sdk.models.common import (
        LegendDisplayMode,
        LegendPlacement,
        SortOrder,
        TooltipDisplayMode,
    )
    from grafana_foundation_sdk.models.dashboard import DataSourceRef

    source = DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
    panel = timeseries.Panel() if spec.kind == "timeseries" else statetimeline.Panel()
    panel = (
        panel.id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .datasource(source)
        .height(PANEL_HEIGHT)
        .span(PANEL_WIDTH)
        .unit(spec.unit)
        .legend(
            common.VizLegendOptions()
            .display_mode(LegendDisplayMode.LIST)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        # Grafana's own default tooltip; the SDK's model would otherwise sort ascending.
        .tooltip(common.VizTooltipOptions().mode(TooltipDisplayMode.SINGLE).sort(SortOrder.NONE))
    )
    for index, query in enumerate(spec.queries):
        panel = panel.with_target(
            prometheus.Dataquery()
            .ref_id(ascii_uppercase[index])  # Grafana's own refIds: A, B, ...
            .datasource(source)
            .expr(query.expr)
            .legend_format(query.legend)
            .range()
        )
    return panel
