"""build_report(): four formats, the same numbers; HTML self-contained; hostile names inert."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lowcarb.energy import ComponentEnergy, Measurement
from lowcarb.grid import Intensity, price
from lowcarb.ledger import Attribution, RecordDraft, draft_from_footprint, open_ledger
from lowcarb.reporting.report import CSV_COLUMNS, ReportData, ReportQuery, build_report, collect

SINCE = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = datetime(2024, 4, 1, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script>|*[pwn](https://e.vil)* =cmd'
FIXED = datetime(2024, 4, 2, tzinfo=UTC)


def _data(url: str) -> ReportData:
    with open_ledger(url, create=False, environ={}) as ledger:
        return collect(ledger, ReportQuery(SINCE, UNTIL), clock=lambda: FIXED)


@pytest.fixture
def data(world) -> ReportData:
    return _data(world.url)


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _csv_value(rows: list[dict[str, str]], section: str, metric: str, key: str = "") -> str:
    (hit,) = [r for r in rows if (r["section"], r["key"], r["metric"]) == (section, key, metric)]
    return hit["value"]


class _Attrs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts = 0
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "script":
            self.scripts += 1
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "action", "data")]


def test_the_four_formats_hold_the_same_numbers(data: ReportData) -> None:
    doc = json.loads(build_report(data, "json"))
    rows = _csv_rows(build_report(data, "csv"))
    md = build_report(data, "md")
    html = build_report(data, "html")
    assert list(rows[0]) == list(CSV_COLUMNS)
    for metric in ("records", "energy_kwh", "co2e_g", "measured_kwh", "estimated_kwh"):
        assert float(_csv_value(rows, "totals", metric)) == doc["totals"][metric]
    assert doc["totals"]["co2e_g"] == pytest.approx(3365)
    assert float(_csv_value(rows, "by_team", "co2e_g", "vision")) == next(
        g["co2e_g"] for g in doc["by_team"] if g["key"] == "vision"
    )
    # Markdown and HTML print the same rounding of the same figures.
    for text in ("| CO2e, Scope 2 location-based (kg) | 3.365 |", "| vision | 4 | 8.000 | 2.850 |"):
        assert text in md
    for cells in (
        ("CO2e, Scope 2 location-based (kg)", "3.365"),
        ("vision", "4", "8.000", "2.850"),
    ):
        pattern = r"</td><td[^>]*>".join(re.escape(c) for c in cells)
        assert re.search(pattern, html), cells
    assert (
        len(doc["daily"]) == 91
        and len([r for r in rows if r["section"] == "daily" and r["metric"] == "co2e_g"]) == 91
    )
    assert doc["scope2"]["market_available"] is False
    assert _csv_value(rows, "scope2", "market_co2e_g") == ""
    assert "Market-based: not available: no contractual factor" in md


def test_html_is_self_contained_with_plotly_embedded_once(data: ReportData) -> None:
    html = build_report(data, "html")
    parser = _Attrs()
    parser.feed(html)
    assert not [u for u in parser.urls if re.match(r"\s*(https?:)?//", u, re.I)]
    assert all(u.startswith("#") for u in parser.urls)  # in-page navigation only
    big_scripts = [
        s for s in re.findall(r"<script[^>]*>(.*?)</script>", html, re.S) if len(s) > 100_000
    ]
    assert len(big_scripts) == 1  # plotly.js, once; the charts' own scripts are small
    assert html.count("Plotly.newPlot(") >= 5
    assert "cdn.plot.ly" not in re.sub(r"<script>.{100000,}?</script>", "", html, flags=re.S)


def test_same_data_gives_the_same_documents(world) -> None:
    a, b = _data(world.url), _data(world.url)
    for fmt in ("md", "csv", "json", "html"):
        assert build_report(a, fmt) == build_report(b, fmt), fmt  # type: ignore[arg-type]


def _hostile_ledger(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'hostile.db'}"
    when = datetime(2024, 2, 1, tzinfo=UTC)
    m = Measurement("run", when, 1.0, (ComponentEnergy("cpu", 3.6e6, "measured", "rapl"),))
    fp = price(m, intensity=Intensity("DE", 400.0, "static:electricitymaps-2022-lca"))
    who = Attribution(team=HOSTILE, project=HOSTILE, model=HOSTILE, model_version=HOSTILE)
    with open_ledger(url, clock=lambda: when, environ={}) as ledger:
        ledger.append_many(
            [
                draft_from_footprint(fp, attribution=who, metadata={"study": HOSTILE}),
                RecordDraft(
                    kind="decision",
                    attribution=Attribution(team=HOSTILE, model=HOSTILE, stage="gate"),
                    metadata={
                        "gate": {
                            "decision": HOSTILE,
                            "violations": [{"rule": HOSTILE, "message": HOSTILE}],
                        }
                    },
                ),
            ]
        )
    return url


def test_hostile_names_are_printed_as_text_in_every_format(tmp_path: Path) -> None:
    data = _data(_hostile_ledger(tmp_path))
    html = build_report(data, "html")
    page_without_js = re.sub(r"<script>.*?</script>", "", html, flags=re.S)
    assert "<script>alert" not in page_without_js
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page_without_js
    charts = "".join(
        s for s in re.findall(r"<script[^>]*>(.*?)</script>", html, re.S) if len(s) < 100_000
    )
    assert "</script" not in charts.replace("</script>", "") and "<script>alert" not in charts
    assert "&lt;script&gt;alert" in charts  # Plotly labels: entities, not its HTML-like markup
    parser = _Attrs()
    parser.feed(html)
    assert parser.tags.count("script") == parser.scripts and not [
        u for u in parser.urls if not u.startswith("#")
    ]
    md = build_report(data, "md")
    assert "<script>" not in md and "](https://" not in md and "| =cmd" not in md
    assert '&lt;script&gt;alert("x")&lt;/script&gt;\\|\\*\\[pwn\\](https:\\/\\/e.vil)\\* =cmd' in md
    rows = _csv_rows(build_report(data, "csv"))
    team_rows = [r for r in rows if r["section"] == "by_team"]
    assert team_rows and all(r["key"] == HOSTILE for r in team_rows)
    decision = [r for r in rows if r["section"] == "decisions" and r["metric"] == "outcome"]
    assert decision[0]["value"] == HOSTILE  # starts with '<', not a formula: kept as typed


def test_csv_neutralises_formulas(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    when = datetime(2024, 2, 1, tzinfo=UTC)
    m = Measurement("run", when, 1.0, (ComponentEnergy("cpu", 3.6e6, "measured", "rapl"),))
    fp = price(m, intensity=Intensity("DE", 400.0, "static:x"))
    with open_ledger(url, clock=lambda: when, environ={}) as ledger:
        ledger.append(draft_from_footprint(fp, attribution=Attribution(team='=HYPERLINK("x")')))
    rows = _csv_rows(build_report(_data(url), "csv"))
    assert {r["key"] for r in rows if r["section"] == "by_team"} == {'\'=HYPERLINK("x")'}


def test_an_empty_period_renders_in_every_format(world) -> None:
    with open_ledger(world.url, create=False, environ={}) as ledger:
        data = collect(
            ledger, ReportQuery(datetime(2022, 1, 1, tzinfo=UTC), datetime(2022, 1, 2, tzinfo=UTC))
        )
    assert data.totals.records == 0 and "no record with energy in this period" in data.notes
    for fmt in ("md", "csv", "json", "html"):
        assert build_report(data, fmt)  # type: ignore[arg-type]
