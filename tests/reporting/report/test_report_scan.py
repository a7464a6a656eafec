"""The report's one pass (``_scan``): what it keeps of decisions and trials when there are more
than it shows, and free metadata it must not trip on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import lowcarb.reporting.report._scan as scan_module
from lowcarb.energy import ComponentEnergy, Measurement
from lowcarb.grid import Intensity, price
from lowcarb.ledger import Attribution, RecordDraft, draft_from_footprint, open_ledger
from lowcarb.reporting.report import ReportQuery, collect

SINCE = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = datetime(2024, 2, 1, tzinfo=UTC)


def trial(study: Any, n: int, metric: float) -> RecordDraft:
    m = Measurement("run", SINCE, 1.0, (ComponentEnergy("cpu", 3600.0 * (n + 1), "measured", "r"),))
    fp = price(m, intensity=Intensity("DE", 400.0, "static:test"), pue=1.0)
    meta = {"study": study, "trial": n, "metric": metric}
    return draft_from_footprint(fp, kind="trial", attribution=Attribution(team="t"), metadata=meta)


def decision(n: int) -> RecordDraft:
    meta = {"retrain": {"decision": "wait", "reason": f"check {n}"}}
    return RecordDraft(
        kind="decision", attribution=Attribution(team="t", stage="retrain"), metadata=meta
    )


def build(url: str, drafts: list[RecordDraft]) -> None:
    for i, d in enumerate(drafts):
        when = SINCE + timedelta(hours=i + 1)
        with open_ledger(url, clock=lambda when=when: when, environ={}) as ledger:
            ledger.append_many([d])


def report(url: str) -> Any:
    with open_ledger(url, create=False, environ={}) as ledger:
        return collect(ledger, ReportQuery(SINCE, UNTIL), verify=False)


def test_the_newest_decisions_and_the_first_trials_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    build(url, [x for n in range(6) for x in (decision(n), trial("s", n, 0.5 + n / 100))])
    monkeypatch.setattr(scan_module, "MAX_DECISIONS", 4)
    monkeypatch.setattr(scan_module, "MAX_TRIAL_POINTS", 3)
    data = report(url)
    d = data.decisions
    assert (d.total, d.truncated) == (6, True)
    assert [r.summary for r in d.rows] == ["check 5", "check 4", "check 3", "check 2"]
    (study,) = data.tuning
    assert study.with_metric == 3 and [p.trial for p in study.front] == [0, 1, 2]
    assert study.figures.records == 6  # the figures count every trial
    assert any("first trials only" in n for n in data.notes)


def test_a_study_named_by_an_object_is_a_study_like_any_other(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    build(url, [trial({"b": 1, "a": [2]}, 0, 0.7), trial({"a": [2], "b": 1}, 1, 0.8)])
    (study,) = report(url).tuning
    assert study.study == '{"a":[2],"b":1}'
    assert study.figures.records == 2 and [p.trial for p in study.front] == [0, 1]
