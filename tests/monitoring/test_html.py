"""The HTML drift report: self-contained, every name escaped, the verdict and the numbers shown."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lowcarb.monitoring import (
    PerformanceEstimate,
    detect_drift,
    drift_fragment,
    drift_html,
)

HOSTILE = '<script>alert("x")</script>'
HOSTILE_CATEGORY = '"><img src=x onerror=alert(1)>'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def windows() -> tuple[Any, Any]:
    rng = np.random.default_rng(11)
    n = 600
    reference = pd.DataFrame(
        {
            HOSTILE: rng.normal(0.0, 1.0, n),
            "plan": rng.choice(["free", "pro"], n),
        }
    )
    current = pd.DataFrame(
        {
            HOSTILE: rng.normal(1.0, 1.0, n),
            "plan": rng.choice(["free", "pro", HOSTILE_CATEGORY], n),
        }
    )
    current.loc[:59, "plan"] = None
    return reference, current


def test_hostile_names_and_categories_are_text_not_markup(windows: tuple[Any, Any]) -> None:
    reference, current = windows
    report = detect_drift(reference, current)
    page = drift_html(report, title=HOSTILE, reference=reference, current=current)
    parsed = _parse(page)
    assert "script" not in parsed.tags
    assert "img" not in parsed.tags
    assert all(name != "onerror" for name, _ in parsed.attrs)
    assert HOSTILE not in page and HOSTILE_CATEGORY not in page
    text = "".join(parsed.text)
    assert HOSTILE in text  # shown, as text
    assert HOSTILE_CATEGORY in text


def test_the_page_is_self_contained(windows: tuple[Any, Any]) -> None:
    reference, current = windows
    page = drift_html(detect_drift(reference, current), reference=reference, current=current)
    parsed = _parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert not {"script", "link", "iframe", "img", "object", "embed"} & set(parsed.tags)
    assert "url(" not in page and "@import" not in page
    for name, value in parsed.attrs:
        assert name not in {"src", "href"}, (name, value)
    assert parsed.tags.count("svg") == 2  # a histogram per feature
    assert "<title>below " in page and "<title>above " in page  # the open outer bins


def test_the_fragment_embeds_verdict_table_and_details(windows: tuple[Any, Any]) -> None:
    reference, current = windows
    report = detect_drift(reference, current)
    performance = PerformanceEstimate("accuracy", 0.81, "cbpe", 0.87, len(current))
    report_with_estimate = detect_drift(reference, current, performance=performance)
    fragment = drift_fragment(report_with_estimate)
    parsed = _parse(fragment)
    assert fragment.startswith('<section class="lowcarb-drift">')
    assert fragment.endswith("</section>")
    assert "html" not in parsed.tags and "body" not in parsed.tags
    assert "svg" not in parsed.tags  # no windows given, no histograms
    text = " ".join(parsed.text)
    assert "Dataset: drift" in text.replace("\u2014", "").replace("  ", " ")
    assert f"{len(report.drifted)} of 2 features drifted" in text
    assert "estimated without labels (CBPE)" in text
    assert "a drop of 6.0 percentage points" in text
    assert "10.0%" in text  # plan: 60 of 600 current rows missing
    assert parsed.tags.count("details") == 2
    # One row per feature plus the header in the summary table.
    first_table = fragment.split("</table>", 1)[0]
    assert first_table.count("<tr>") == 3


def test_no_drift_reads_as_no_drift() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng.normal(size=400)})
    report = detect_drift(frame, frame.sample(frac=1.0, random_state=1))  # same values
    assert not report.drift
    assert '<strong class="stable">no drift</strong>' in drift_fragment(report)
