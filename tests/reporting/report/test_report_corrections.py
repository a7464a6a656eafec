"""Records replaced by corrections are left out of a report however the corrections fall.

The report reads the period newest first and learns the replaced ids on the way (a correction
comes after the record it replaces); these cases check it against the ledger's own totals where
that order does not hold or does not show: a correction older than its record (a clock set
back), one appended after the period, one charged to another team, and a correction corrected
in turn.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lowcarb.energy import ComponentEnergy, Measurement
from lowcarb.grid import Intensity, price
from lowcarb.ledger import Attribution, RecordDraft, RecordFilter, draft_from_footprint, open_ledger
from lowcarb.reporting.report import ReportQuery, collect

SINCE = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = datetime(2024, 2, 1, tzinfo=UTC)
J = 3_600_000.0


def at(day: int, month: int = 1) -> datetime:
    return datetime(2024, month, day, 12, tzinfo=UTC)


def draft(kwh: float, team: str = "vision") -> RecordDraft:
    m = Measurement("run", at(1), 60.0, (ComponentEnergy("cpu", kwh * J, "measured", "rapl"),))
    fp = price(m, intensity=Intensity("DE", 400.0, "static:test"), pue=1.0)
    return draft_from_footprint(fp, kind="run", attribution=Attribution(team=team))


def append(url: str, when: datetime, *drafts: RecordDraft) -> list[Any]:
    with open_ledger(url, clock=lambda: when, environ={}) as ledger:
        return ledger.append_many(list(drafts))


def correct(url: str, when: datetime, record_id: str, replacement: RecordDraft | None) -> Any:
    with open_ledger(url, clock=lambda: when, environ={}) as ledger:
        return ledger.correct(record_id, replacement, reason="test")


def report(url: str, **filters: str) -> Any:
    with open_ledger(url, create=False, environ={}) as ledger:
        return collect(ledger, ReportQuery(SINCE, UNTIL, **filters), verify=False)


def ledger_totals(url: str, team: str | None = None) -> Any:
    with open_ledger(url, create=False, environ={}) as ledger:
        return ledger.totals("team", RecordFilter(since=SINCE, until=UNTIL, team=team)).total


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def _same(url: str, **filters: str) -> Any:
    data = report(url, **filters)
    ref = ledger_totals(url, filters.get("team"))
    assert data.totals.records == ref.records
    assert data.totals.energy_kwh == pytest.approx(ref.energy_kwh, rel=1e-12)
    return data


def test_a_correction_older_than_its_record_still_replaces_it(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    append(url, at(3), draft(1.0))
    (original,) = append(url, at(20), draft(10.0))
    correct(url, at(10), original.id, draft(2.0))  # the clock was set back
    with caplog.at_level(logging.INFO, logger="lowcarb.reporting.report._scan"):
        data = _same(url)
    assert "reading the report again" in caplog.text  # the newest-first pass saw it too late
    assert (data.totals.records, data.audit.superseded) == (2, 1)
    assert data.totals.energy_kwh == pytest.approx(3.0)


def test_a_correction_after_the_period_replaces_the_periods_record(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    (original,) = append(url, at(20), draft(10.0))
    append(url, at(25), draft(1.0))
    correct(url, at(5, month=2), original.id, draft(2.0))  # the correction is in February
    with caplog.at_level(logging.INFO, logger="lowcarb.reporting.report._scan"):
        data = _same(url)
    assert "again" not in caplog.text  # one pass was enough
    assert (data.totals.records, data.audit.superseded) == (1, 1)
    assert data.totals.energy_kwh == pytest.approx(1.0)


def test_a_correction_charged_to_another_team_replaces_the_record_in_a_team_report(
    url: str,
) -> None:
    (original,) = append(url, at(10), draft(10.0, team="vision"))
    append(url, at(11), draft(1.0, team="vision"))
    correct(url, at(12), original.id, draft(10.0, team="nlp"))  # it was nlp's run
    vision = _same(url, team="vision")
    assert (vision.totals.records, vision.audit.superseded) == (1, 1)
    nlp = _same(url, team="nlp")
    assert nlp.totals.energy_kwh == pytest.approx(10.0)
    everyone = _same(url)
    assert everyone.totals.energy_kwh == pytest.approx(11.0)


def test_a_corrected_correction_leaves_out_both_before_it(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    (original,) = append(url, at(10), draft(10.0))
    first = correct(url, at(11), original.id, draft(5.0))
    correct(url, at(12), first.id, draft(3.0))
    with caplog.at_level(logging.INFO, logger="lowcarb.reporting.report._scan"):
        data = _same(url)
    assert "again" not in caplog.text
    assert (data.totals.records, data.audit.superseded) == (1, 2)
    assert data.totals.energy_kwh == pytest.approx(3.0)


def test_a_voided_record_counts_for_nothing(url: str) -> None:
    (original,) = append(url, at(10), draft(10.0))
    append(url, at(11), draft(1.0))
    correct(url, at(12), original.id, None)
    data = _same(url)
    assert data.totals.energy_kwh == pytest.approx(1.0) and data.audit.superseded == 1
