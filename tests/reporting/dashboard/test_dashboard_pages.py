"""Every page and its JSON twin on the seeded ledger: figures, filters, links, escaping."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from dashboard_helpers import HOSTILE, HOSTILE_PROJECT, TestClient, World, period

PAGES = ["/", "/runs", "/teams", "/teams/vision", "/models", "/jobs", "/decisions", "/grid"]
API = {
    "/": "/api/overview",
    "/runs": "/api/runs",
    "/teams": "/api/teams",
    "/teams/vision": "/api/teams/vision",
    "/models": "/api/models",
    "/jobs": "/api/jobs",
    "/decisions": "/api/decisions",
    "/grid": "/api/grid",
}


def by(rows: list[dict], key: str) -> dict:
    return {r[key]: r for r in rows}


def test_overview_figures_match_the_seeded_ledger(client: TestClient) -> None:
    page = client.get(f"/api/overview?{period()}").json()
    t = page["totals"]
    assert t["records"] == 7  # vision 4 (one corrected), nlp 2, hostile 1
    assert t["energy_kwh"] == pytest.approx(10.5)
    assert t["co2e_g"] == pytest.approx(2600 + 150 + 400)
    assert t["measured_kwh"] == pytest.approx(5.5)
    assert t["estimated_kwh"] == pytest.approx(5.0)
    teams = by(page["by_team"], "team")
    assert teams["vision"]["records"] == 4 and teams["vision"]["co2e_g"] == pytest.approx(2600)
    assert teams["nlp"]["measured_share"] == 0.0
    assert teams["nlp"]["all_records"] == 3  # its retrain decision counts as a record
    kinds = by(page["by_kind"], "kind")
    assert kinds["inference"]["energy_kwh"] == pytest.approx(0.5)
    assert kinds["correction"]["energy_kwh"] == pytest.approx(1.0)
    assert kinds["decision"]["records"] == 0 and kinds["decision"]["all_records"] == 2
    zones = by(page["by_zone"], "zone")
    assert zones["FR"]["co2e_g"] == pytest.approx(150)
    daily = {p["day"]: p for p in page["daily"]}
    assert len(daily) == 31 and daily["2024-01-03"]["co2e_g"] == pytest.approx(1200)
    # The corrected run stays in its own day's row minus the original; the correction counts
    # on the day it was appended.
    assert daily["2024-01-03"]["records"] == 1 and daily["2024-01-04"]["records"] == 1
    assert page["rollup"]["through_seq"] == 10  # every record of the ledger


def test_every_page_has_a_json_twin_with_the_same_content(client: TestClient) -> None:
    for path, api in API.items():
        html = client.get(f"{path}?{period()}")
        assert html.status_code == 200, (path, html.text[:300])
        assert html.headers["content-type"].startswith("text/html")
        twin = client.get(f"{path}?{period()}&format=json")
        direct = client.get(f"{api}?{period()}")
        assert twin.status_code == direct.status_code == 200, path
        assert twin.json() == direct.json(), path


def test_filters_change_the_figures(client: TestClient) -> None:
    everything = client.get(f"/api/overview?{period()}").json()["totals"]
    vision = client.get(f"/api/overview?{period()}&team=vision").json()["totals"]
    early = client.get(f"/api/overview?{period(5)}").json()["totals"]
    chat = client.get(f"/api/overview?{period()}&project=chat").json()["totals"]
    assert vision["co2e_g"] == pytest.approx(2600)
    assert vision["co2e_g"] < everything["co2e_g"]
    assert early["records"] == 2 and early["co2e_g"] == pytest.approx(1600)  # Jan 1-5
    assert chat["co2e_g"] == pytest.approx(150)
    # The HTML shows the filtered figure, and the form keeps the filter.
    html = client.get(f"/?{period()}&team=vision").text
    assert 'id="card-2"><a' in html and ">2.600</a>" in html
    assert '<option value="vision" selected>' in html


def test_every_figure_links_to_the_records_behind_it(client: TestClient) -> None:
    page = client.get(f"/api/overview?{period()}").json()
    vision = by(page["by_team"], "team")["vision"]
    runs = client.get(vision["links"]["records"].replace("/runs", "/api/runs", 1)).json()
    ids = {r["id"] for r in runs["records"]}
    assert len(ids) == 6  # 4 with energy, the corrected original, the gate decision
    day = next(p for p in page["daily"] if p["day"] == "2024-01-10")
    link = day["co2e_g_by_team"][0]["link"]
    params = parse_qs(urlsplit(link).query)
    assert params["since"] == ["2024-01-10"] and params["until"] == ["2024-01-11"]
    day_runs = client.get(link.replace("/runs", "/api/runs", 1)).json()["records"]
    assert {r["kind"] for r in day_runs} == {"run", "inference"}
    record = client.get(day_runs[0]["links"]["record"].replace("/records", "/api/records", 1))
    assert record.status_code == 200 and record.json()["record"]["id"] == day_runs[0]["id"]
    assert len(record.json()["record"]["hash"]) == 64
    kinds = by(page["by_kind"], "kind")
    assert "kind=inference" in kinds["inference"]["links"]["records"]
    models = by(page["by_model"], "model")
    assert "model=resnet" in models["resnet"]["links"]["records"]


def test_a_correction_links_to_the_record_it_corrects(client: TestClient, world: World) -> None:
    runs = client.get(f"/api/runs?{period()}&kind=correction").json()["records"]
    assert [r["corrects"] for r in runs] == [world.corrected_id]
    html = client.get(runs[0]["links"]["record"]).text
    assert f'href="/records/{world.corrected_id}"' in html


def test_runs_pages_back_with_a_cursor(client: TestClient) -> None:
    page = client.get(f"/api/runs?{period()}&limit=4").json()
    seqs, sizes = [], []
    while True:
        seqs += [r["seq"] for r in page["records"]]
        sizes.append(len(page["records"]))
        if page["links"]["next"] is None:
            break
        page = client.get(page["links"]["next"].replace("/runs", "/api/runs", 1)).json()
    assert sizes == [4, 4, 2]
    assert seqs == list(range(10, 0, -1))


def test_models_page_sums_training_and_inference_per_version(client: TestClient) -> None:
    models = client.get(f"/api/models?{period()}").json()["models"]
    v = {(m["model"], m["version"]): m for m in models}
    assert v[("resnet", "1")]["training"]["energy_kwh"] == pytest.approx(4.0)
    assert v[("resnet", "2")]["inference"]["energy_kwh"] == pytest.approx(0.5)
    assert v[("resnet", "2")]["inferences"] == 100_000
    assert v[("resnet", "2")]["energy_per_1k_j"] == pytest.approx(0.5 * 3.6e6 / 100)
    only = client.get(f"/api/models?{period()}&model=bert").json()["models"]
    assert [(m["model"], m["version"]) for m in only] == [("bert", "1")]


def test_jobs_show_planned_vs_now_intensity_and_state(client: TestClient) -> None:
    page = client.get(f"/api/jobs?{period()}").json()
    jobs = by(page["jobs"], "team")
    assert jobs["vision"]["planned_intensity_g_per_kwh"] == 200.0
    assert jobs["vision"]["now_intensity_g_per_kwh"] == 320.0
    assert jobs["vision"]["forecast_saving_pct"] == pytest.approx(37.5)
    assert jobs["vision"]["state"] == "queued" and page["states"] == {"queued": 2}
    html = client.get(f"/jobs?{period()}").text
    assert 'id="chart-jobs"' in html and "37.5%" in html


def test_decisions_are_read_like_the_report(client: TestClient) -> None:
    page = client.get(f"/api/decisions?{period()}").json()
    rows = {r["team"]: r for r in page["rows"]}
    assert rows["vision"]["type"] == "gate" and rows["vision"]["outcome"] == "reject"
    assert "energy +40%" in rows["vision"]["summary"]
    assert rows["nlp"]["type"] == "retrain" and rows["nlp"]["outcome"] == "retrain"
    assert rows["nlp"]["links"]["record"].startswith("/records/")


def test_grid_shows_history_and_forecast_per_zone(client: TestClient) -> None:
    page = client.get(f"/api/grid?{period()}").json()
    zones = by(page["zones"], "zone")
    assert set(zones) == {"DE", "FR"}  # where the period's records were priced
    de = zones["DE"]
    assert len(de["history"]) == 24 and len(de["forecast"]) == 24
    assert de["kind"] == "estimated" and de["source"]
    assert all(p["time"] < page["now"] for p in de["history"])
    assert de["forecast"][0]["time"] >= page["now"][:13]
    assert de["links"]["emissions"].startswith("/emissions/bylocation?location=DE")
    api = client.get(de["links"]["emissions"])
    assert api.status_code == 200 and len(api.json()) >= 24
    one = client.get("/api/grid?zone=aws:eu-west-3").json()
    assert [z["zone"] for z in one["zones"]] == ["FR"]


def test_pages_render_charts_from_the_apps_own_plotly(client: TestClient) -> None:
    html = client.get(f"/?{period()}").text
    src = re.search(r'<script src="(/static/plotly-[^"]+\.min\.js)"', html)
    assert src is not None and "cdn" not in html.lower() and "https://" not in html
    js = client.get(src.group(1))
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert b"plotly.js v" in js.content[:200]
    assert "immutable" in js.headers["cache-control"]
    assert client.get("/static/dashboard.js").status_code == 200
    charts = re.findall(r'<div class="chart" id="([^"]+)" data-figure="', html)
    assert charts == ["chart-daily", "chart-teams", "chart-provenance", "chart-projects"]
    assert "<script>" not in html  # no inline script: the CSP allows this origin's files only
    csp = client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp


def test_hostile_names_are_shown_as_text_never_as_html(client: TestClient) -> None:
    for path in ("/", "/teams", "/runs", "/models"):
        html = client.get(f"{path}?{period()}").text
        assert HOSTILE not in html and HOSTILE_PROJECT not in html, path
        assert "<img" not in html and "<script>alert" not in html, path
        assert unescape(html).count(HOSTILE) >= 1, path
    # In chart labels the name is entity-escaped again (Plotly renders <b>, <a> in labels).
    figure = re.search(r'id="chart-teams" data-figure="([^"]+)"', client.get("/").text)
    assert figure is not None and "&lt;img" in unescape(figure.group(1))
    team = client.get("/api/teams").json()["teams"]
    assert HOSTILE in {t["team"] for t in team}  # JSON carries the name as it is


def test_a_team_page_link_escapes_the_team_name(client: TestClient) -> None:
    page = client.get(f"/api/teams?{period()}").json()
    hostile = next(t for t in page["teams"] if t["team"] == HOSTILE)
    link = hostile["links"]["team"]
    assert link.startswith("/teams/%3Cimg%20src%3Dx")
    twin = client.get(link.replace("/teams/", "/api/teams/", 1)).json()
    assert twin["query"]["team"] == HOSTILE and twin["totals"]["co2e_g"] == pytest.approx(400)


def test_healthz_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/overview" in paths and "/emissions/bylocation" in paths
    assert "/" not in paths  # HTML pages are for browsers; their JSON twins are documented


def test_grid_over_a_trace_labels_its_source_and_reports_zones_without_data(
    world: World, make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    start = datetime(2024, 1, 10, tzinfo=UTC)
    lines = ["datetime_utc,DE,PL"]
    for h in range(24 * 24):
        t = start + timedelta(hours=h)
        lines.append(f"{t:%Y-%m-%d %H:%M:%S},{300 + h % 24},700")
    trace = tmp_path / "de_pl.csv"
    trace.write_text("\n".join(lines) + "\n", encoding="utf-8")
    c = make_client(world.url, trace=trace)
    page = c.get("/api/grid?zone=DE&zone=FR").json()
    de, fr = page["zones"]
    assert de["kind"] == "measured" and de["source"].startswith("trace:")
    # NOW is 2024-01-31 12:00: the last 24 hours are 2024-01-30 12:00 .. 2024-01-31 11:00.
    hours = [*range(12, 24), *range(12)]
    assert [p["intensity_g_per_kwh"] for p in de["history"]] == [300.0 + h for h in hours]
    assert len(de["forecast"]) == 24 and de["forecast_error"] is None
    assert de["forecast"][0]["time"] == "2024-01-31T12:00:00Z"
    assert fr["error"] and fr["history"] == []
    html = c.get("/grid?zone=DE&zone=FR").text
    assert "FR: " in html and 'id="chart-zone-0"' in html
