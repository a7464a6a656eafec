"""The HTML report opened in a real browser, offline, from a ``file://`` URL.

``lowcarb report --output report.html`` over the small ledger of ``conftest.py``, opened in
Debian's Chromium (the ``browser`` fixture of ``tests/reporting/conftest.py``) with the network
switched off: every section is there, every Plotly chart is drawn (its SVG exists and holds
marks), the figures are the report's, and the page logs no error and asks for nothing beyond the
file itself (no CDN, no fonts, no images).
"""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from lowcarb import cli
from lowcarb.cli._common import CliContext

SECTIONS = [
    "Summary",
    "Emissions over time",
    "By team, project, model and kind",
    "Scope 2: location-based and market-based",
    "Model versions",
    "Scheduler savings",
    "Tuning: trials and Pareto fronts",
    "Gate, budget and retrain decisions",
    "Audit",
]
#: Each chart's div id and the section it belongs to (``_charts.charts``): the time series, one
#: bar chart per grouping (team, project, model), provenance, Scope 2, scheduler, tuning.
CHARTS = {
    "chart-time": "time",
    "chart-group-0": "breakdown",
    "chart-group-1": "breakdown",
    "chart-group-2": "breakdown",
    "chart-provenance": "breakdown",
    "chart-scope2": "scope2",
    "chart-scheduler": "scheduler",
    "chart-tuning": "tuning",
}
_DRAWN = """() => [...document.querySelectorAll('div.plotly-graph-div')].map(d => ({
    id: d.id,
    section: d.closest('section').id,
    svgs: d.querySelectorAll('svg.main-svg').length,
    marks: d.querySelectorAll('g.point, g.trace path, g.scatterlayer path').length,
}))"""


@pytest.fixture
def report_html(world: Any, tmp_path: Path) -> Path:
    """The report of the first quarter of 2024, written as the command writes it."""
    target = tmp_path / "report.html"
    out, err = StringIO(), StringIO()
    code = cli.main(
        [
            "report",
            "--ledger",
            world.url,
            "--since",
            "2024-01-01",
            "--until",
            "2024-04-01",
            "--output",
            str(target),
        ],
        ctx=CliContext(stdout=out, stderr=err, environ={}),
    )
    assert (code, err.getvalue()) == (0, ""), out.getvalue()
    return target


@pytest.fixture
def offline_page(browser: Any) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A page in a context with no network, and what it logged and asked for."""
    context = browser.new_context(offline=True)
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    try:
        yield page, errors, requests
    finally:
        context.close()


def test_the_html_report_opens_offline_with_its_sections_and_charts(
    report_html: Path, offline_page: tuple[Any, list[str], list[str]]
) -> None:
    page, errors, requests = offline_page
    url = report_html.resolve().as_uri()
    page.goto(url)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "() => { const d = [...document.querySelectorAll('div.plotly-graph-div')];"
            " return d.length > 0 && d.every(x => x.querySelector('svg.main-svg')); }",
            timeout=20_000,
        )
    except PlaywrightTimeout:
        pytest.fail(f"the charts were not drawn in 20 s; errors {errors}, requests {requests}")
    assert page.title() == page.inner_text("h1")
    assert page.locator("section > h2").all_inner_texts() == SECTIONS
    assert page.locator("nav a").all_inner_texts() == SECTIONS

    drawn = page.evaluate(_DRAWN)
    assert {c["id"]: c["section"] for c in drawn} == CHARTS
    for chart in drawn:
        assert chart["svgs"] >= 1 and chart["marks"] >= 1, chart  # drawn, with data in it

    summary = page.inner_text("#summary table")
    assert "CO2e, Scope 2 location-based (kg)" in summary and "3.365" in summary
    audit = page.inner_text("#audit")
    assert "head hash" in audit.lower()

    assert errors == []
    elsewhere = [u for u in requests if urlsplit(u).scheme not in ("file", "data", "blob")]
    assert elsewhere == []  # nothing but the file itself
    assert [u for u in requests if urlsplit(u).scheme == "file"] == [url]
