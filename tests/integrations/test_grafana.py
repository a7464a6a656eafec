"""The serving dashboard: Grafana dashboard JSON with the expected panels, each query on the
server's metric names, and valid PromQL according to ``promtool check rules`` (Prometheus's own
parser, offline). That the queries return data from a real Prometheus is test_prometheus.py's job.
Grafana publishes its dashboard schema as CUE, not JSON Schema, so the structure is checked here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lowcarb.integrations.grafana import SERVING_DASHBOARD, dashboard_queries, serving_dashboard
from lowcarb.serving import METRIC_NAMES

EXPECTED = {
    "Energy rate by model": ["sum by (model) (rate(lowcarb_energy_joules_total[5m]))"],
    "CO2e rate by model": ["sum by (model) (rate(lowcarb_co2e_grams_total[5m])) * 3600"],
    "Joules per request (p50, p95)": [
        "histogram_quantile(0.5, sum by (le, model) "
        "(rate(lowcarb_request_energy_joules_bucket[5m])))",
        "histogram_quantile(0.95, sum by (le, model) "
        "(rate(lowcarb_request_energy_joules_bucket[5m])))",
    ],
    "kWh per million inferences": [
        "(sum by (model) (rate(lowcarb_energy_joules_total[5m])) / 3.6e6) / "
        "(sum by (model) (rate(lowcarb_inferences_total[5m])) / 1e6)"
    ],
    "Share of requests answered by each stage": [
        'sum by (model, stage) (rate(lowcarb_requests_total{code=~"2.."}[5m])) / ignoring '
        '(stage) group_left () sum by (model) (rate(lowcarb_requests_total{code=~"2.."}[5m]))'
    ],
    "Grid intensity in use": ["max by (zone, source) (lowcarb_grid_intensity_grams_per_kwh)"],
    "Cascade operating point": ["max by (model, point) (lowcarb_cascade_operating_point)"],
    "Requests per second by status code": [
        "sum by (model, code) (rate(lowcarb_requests_total[5m]))"
    ],
}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("LOWCARB_REQUIRE_PROMETHEUS") == "1":
            pytest.fail(f"{name} is not on PATH and LOWCARB_REQUIRE_PROMETHEUS=1")
        pytest.skip(f"{name} is not on PATH (apt-get install prometheus)")
    return path


def test_dashboard_is_grafana_json_with_a_prometheus_datasource_variable() -> None:
    d = serving_dashboard()
    assert isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 36
    assert d["uid"] == "lowcarb-serving" and d["title"]
    (var,) = d["templating"]["list"]
    assert (var["name"], var["type"], var["query"]) == ("datasource", "datasource", "prometheus")
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    for panel in d["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24  # Grafana's grid is 24 wide
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))
    cells = [
        (p["gridPos"]["x"] + dx, p["gridPos"]["y"] + dy)
        for p in d["panels"]
        for dx in range(p["gridPos"]["w"])
        for dy in range(p["gridPos"]["h"])
    ]
    assert len(cells) == len(set(cells))  # no panel overlaps another


def test_dashboard_has_the_expected_panels_and_queries() -> None:
    got: dict[str, list[str]] = {}
    for title, _, expr in dashboard_queries(serving_dashboard()):
        got.setdefault(title, []).append(expr)
    assert got == EXPECTED


def test_every_query_uses_only_the_servers_metric_names() -> None:
    served = set(METRIC_NAMES) | {
        f"{n}_{suffix}" for n in METRIC_NAMES for suffix in ("bucket", "sum", "count")
    }
    for _, _, expr in dashboard_queries(serving_dashboard()):
        names = set(re.findall(r"\blowcarb_[a-z0-9_]+", expr))
        assert names and names <= served, (expr, names - served)


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    promtool = _tool("promtool")
    rules = [
        {"record": f"lowcarb:dashboard:{i}", "expr": expr}
        for i, (_, _, expr) in enumerate(dashboard_queries(serving_dashboard()))
    ]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    proc = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(rules)} rules found" in proc.stdout
    # The check is real: a broken expression fails it.
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "a:b", "expr": "sum(x"}]}]})
    )
    bad = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, timeout=60)
    assert bad.returncode != 0


def test_dashboard_ships_as_package_data() -> None:
    import lowcarb.integrations.grafana as grafana

    assert (Path(grafana.__file__).parent / SERVING_DASHBOARD).is_file()
    assert serving_dashboard() is not serving_dashboard()  # a fresh copy each call


def test_exports() -> None:
    import lowcarb.integrations.grafana as grafana

    public = {n for n in vars(grafana) if not n.startswith("_") and n != "annotations"}
    modules = {n for n in public if hasattr(getattr(grafana, n), "__file__")}
    assert public - modules == set(grafana.__all__)
