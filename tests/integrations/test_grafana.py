"""The serving dashboard: Grafana dashboard JSON with the expected panels, each query on the
server's metric names, and valid PromQL according to ``promtool check rules`` (Prometheus's own
parser, offline). That the queries return data from a real Prometheus is test_prometheus.py's job.

No Grafana server runs here, so the schema is Grafana's foundation SDK (``grafana-foundation-sdk``,
types generated from Grafana's own dashboard schema): the committed JSON is exactly what the SDK's
builders make, and it decodes through the SDK's models and encodes back without losing a field.
Those tests skip only when the SDK is not installed (it is in the ``dev`` extra).
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from lowcarb.errors import MissingDependencyError
from lowcarb.integrations.grafana import (
    SERVING_DASHBOARD,
    build_serving_dashboard,
    dashboard_queries,
    render_dashboard,
    serving_dashboard,
)
from lowcarb.serving import METRIC_NAMES

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build_grafana_dashboard.py"

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
    "Share of inferences answered by each stage": [
        "sum by (model, stage) (rate(lowcarb_inferences_total[5m])) / ignoring "
        "(stage) group_left () sum by (model) (rate(lowcarb_inferences_total[5m]))"
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


def _sdk() -> None:
    pytest.importorskip(
        "grafana_foundation_sdk",
        reason="grafana-foundation-sdk is not installed (pip install 'lowcarb[dev]')",
    )


def _shipped_text() -> str:
    import lowcarb.integrations.grafana as grafana

    return (Path(grafana.__file__).parent / SERVING_DASHBOARD).read_text("utf-8")


def _round_trip(dashboard: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The SDK's model of a dashboard, and that model encoded back to JSON data."""
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.cog.plugins import register_default_plugins
    from grafana_foundation_sdk.models.dashboard import Dashboard

    # Without the plugins' decoders, targets and options would stay untyped bags of JSON.
    register_default_plugins()
    model = Dashboard.from_json(dashboard)
    encoded: dict[str, Any] = json.loads(json.dumps(model, cls=JSONEncoder))
    return model, encoded


def _compare(original: Any, encoded: Any, path: str = "") -> tuple[list[str], list[str]]:
    """Paths of ``original`` that ``encoded`` lost or changed, and paths ``encoded`` added."""
    if isinstance(original, dict) and isinstance(encoded, dict):
        lost: list[str] = []
        added = [f"{path}/{key}" for key in encoded if key not in original]
        for key, value in original.items():
            if key not in encoded:
                lost.append(f"{path}/{key}")
            else:
                more_lost, more_added = _compare(value, encoded[key], f"{path}/{key}")
                lost += more_lost
                added += more_added
        return lost, added
    if isinstance(original, list) and isinstance(encoded, list) and len(original) == len(encoded):
        lost, added = [], []
        for index, (a, b) in enumerate(zip(original, encoded, strict=True)):
            more_lost, more_added = _compare(a, b, f"{path}[{index}]")
            lost += more_lost
            added += more_added
        return lost, added
    same = original == encoded and type(original) is type(encoded)
    return ([] if same else [path]), []


def test_committed_json_is_the_sdk_builders_output() -> None:
    _sdk()
    built = build_serving_dashboard()
    assert _shipped_text() == render_dashboard(built), (
        "lowcarb-serving.json is out of date: run scripts/build_grafana_dashboard.py"
    )
    assert built == serving_dashboard()
    assert build_serving_dashboard() == built  # deterministic


def test_committed_json_decodes_through_the_sdk_model_without_loss() -> None:
    _sdk()
    from grafana_foundation_sdk.models import prometheus, statetimeline, timeseries
    from grafana_foundation_sdk.models.dashboard import Panel

    shipped = serving_dashboard()
    model, encoded = _round_trip(shipped)
    lost, added = _compare(shipped, encoded)
    assert lost == []  # every field is one the schema knows, with a value it keeps
    # Decoding fills in each panel plugin's field defaults (state-timeline's line width and fill
    # opacity); Grafana applies the same defaults to a panel that leaves them out.
    assert {re.sub(r"\[\d+\]", "[]", path) for path in added} <= {
        "/panels[]/fieldConfig/defaults/custom"
    }, added
    assert model.uid == "lowcarb-serving" and model.schema_version == shipped["schemaVersion"]
    (variable,) = model.templating.list_val
    assert (variable.name, variable.type_val, variable.query) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    options = {"timeseries": timeseries.Options, "state-timeline": statetimeline.Options}
    queries: list[tuple[str, str, str]] = []
    assert model.panels is not None and len(model.panels) == len(EXPECTED)
    for panel in model.panels:
        assert isinstance(panel, Panel)
        assert isinstance(panel.options, options[panel.type_val]), panel.title
        assert panel.field_config is not None and panel.field_config.defaults.unit
        assert panel.datasource is not None and panel.datasource.uid == "${datasource}"
        assert panel.targets
        for target in panel.targets:
            assert isinstance(target, prometheus.Dataquery), (panel.title, target)
            assert target.range_val and target.legend_format
            queries.append((str(panel.title), target.ref_id, str(target.expr)))
    assert queries == dashboard_queries(shipped)


def test_the_sdk_model_check_is_real() -> None:
    _sdk()
    # A field Grafana's schema does not have is dropped by the model, so the round trip fails.
    # (The models check names, not value types: the builders' typed signatures, under mypy, do.)
    broken = serving_dashboard()
    broken["panels"][0]["targets"][0]["expression"] = broken["panels"][0]["targets"][0]["expr"]
    broken["panels"][1]["fieldconfig"] = broken["panels"][1]["fieldConfig"]
    _, encoded = _round_trip(broken)
    lost, _ = _compare(broken, encoded)
    assert lost == [
        "/panels[0]/targets[0]/expression",
        "/panels[1]/fieldconfig",
    ]


def test_the_build_script_writes_and_checks_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sdk()
    main = runpy.run_path(str(SCRIPT))["main"]
    assert main(["--check"]) == 0  # the committed file is up to date
    out = tmp_path / SERVING_DASHBOARD
    assert main(["--check", "--out", str(out)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["--out", str(out)]) == 0
    assert out.read_text("utf-8") == _shipped_text()
    out.write_text(out.read_text("utf-8").replace('"30s"', '"1m"'), "utf-8")
    assert main(["--check", "--out", str(out)]) == 1


def test_building_without_the_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "grafana_foundation_sdk.builders", None)
    with pytest.raises(MissingDependencyError, match=r"grafana-foundation-sdk.*lowcarb\[dev\]"):
        build_serving_dashboard()
    assert serving_dashboard()["uid"] == "lowcarb-serving"  # loading never needs the SDK
