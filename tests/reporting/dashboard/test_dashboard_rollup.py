"""The daily rollup agrees with the report's direct SQL aggregate, on SQLite and PostgreSQL.

``collect`` (``lowcarb report``) sums the period's records themselves in one SQL pass; the
rollup sums them once, as they are appended. Both must give the same figures for every
grouping, after corrections, after more appends, however the refresh is chunked, when two
refreshers race, and after a rebuild.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dashboard_helpers import J, at, build_world
from sqlalchemy import text

from lowcarb.energy import ComponentEnergy, Measurement
from lowcarb.grid import Intensity, price
from lowcarb.ledger import Attribution, draft_from_footprint, open_ledger
from lowcarb.reporting.dashboard import DailyRollup, RollupRow
from lowcarb.reporting.report import Figures, ReportQuery, collect

SINCE = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = datetime(2024, 2, 1, tzinfo=UTC)
FIELDS = (
    "records",
    "energy_kwh",
    "co2e_g",
    "measured_kwh",
    "estimated_kwh",
    "market_records",
    "market_energy_kwh",
    "market_co2e_g",
)


def _same(a: Figures, b: Figures) -> None:
    for name in FIELDS:
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-12, abs=1e-9), name


def _by(rows: list[RollupRow]) -> dict[str | None, Figures]:
    return {r.keys[0]: r.figures for r in rows if r.figures.records}


def assert_agrees(url: str, rollup: DailyRollup) -> None:
    """Every grouping the report shows equals the rollup's, for the period and one team."""
    with open_ledger(url, environ={}, create=False) as ledger:
        for team in (None, "vision"):
            data = collect(ledger, ReportQuery(SINCE, UNTIL, team=team), verify=False)
            span = {"since": SINCE.date(), "until": UNTIL.date(), "team": team}
            (total,) = rollup.groups((), **span)
            _same(total.figures, data.totals)
            for by, groups in (
                ("team", data.by_team),
                ("project", data.by_project),
                ("model", data.by_model),
                ("kind", data.by_kind),
            ):
                mine = _by(rollup.groups((by,), **span))
                theirs = {g.key: g.figures for g in groups}
                assert set(mine) == set(theirs), by
                for key, fig in theirs.items():
                    _same(mine[key], fig)
            days = {r.keys[0]: r.figures for r in rollup.groups(("day",), **span)}
            for point in data.daily:
                _same(days.get(point.start.isoformat(), Figures()), point.figures)


def _more(url: str, corrected: str) -> None:
    """A day later: more runs, a correction of a correction's original, a void correction."""
    m = Measurement("run", at(20), 60.0, (ComponentEnergy("cpu", 3 * J, "measured", "rapl"),))
    fp = price(m, intensity=Intensity("PL", 700.0, "static:test-PL"), pue=1.1)
    draft = draft_from_footprint(fp, attribution=Attribution(team="vision", project="detector"))
    with open_ledger(url, clock=lambda: at(20), environ={}) as ledger:
        first = ledger.append_many([draft, draft])
        ledger.correct(first[0].id, None, reason="duplicate")  # voided: counts for nothing
        ledger.correct(corrected, None, reason="corrected twice: only one take-out")


@pytest.mark.parametrize("chunk", [100_000, 3])
def test_rollup_agrees_with_the_reports_sql_on_sqlite(tmp_path: Path, chunk: int) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    w = build_world(url, tmp_path)
    with open_ledger(url, environ={}) as ledger:
        rollup = DailyRollup(ledger.engine, chunk=chunk)
        status = rollup.refresh()
        assert status.through_seq == ledger.count() and status.rolled == ledger.count()
        assert_agrees(url, rollup)
        again = rollup.refresh()
        assert again.rolled == 0 and again.through_hash == status.through_hash
        _more(url, w.corrected_id)
        assert rollup.refresh().rolled == 4
        assert_agrees(url, rollup)


@pytest.mark.postgres
def test_rollup_agrees_with_the_reports_sql_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    w = build_world(postgres_url, tmp_path)
    with open_ledger(postgres_url, environ={}) as ledger:
        rollup = DailyRollup(ledger.engine, chunk=4)
        rollup.refresh()
        assert_agrees(postgres_url, rollup)
        _more(postgres_url, w.corrected_id)
        rollup.refresh()
        assert_agrees(postgres_url, rollup)


def test_two_refreshers_never_count_a_record_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    build_world(url, tmp_path)
    engines = [open_ledger(url, environ={}) for _ in range(3)]
    try:
        rollups = [DailyRollup(e.engine, chunk=2) for e in engines]
        threads = [threading.Thread(target=r.refresh) for r in rollups]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert_agrees(url, rollups[0])
        assert {r.status() for r in rollups} == {rollups[0].status()}
    finally:
        for e in engines:
            e.close()


def test_a_changed_last_record_rebuilds_the_rollup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    build_world(url, tmp_path)
    with open_ledger(url, environ={}) as ledger:
        rollup = DailyRollup(ledger.engine)
        rollup.refresh()
        with ledger.engine.begin() as conn:  # as if the ledger file had been swapped
            conn.execute(text("UPDATE lowcarb_rollup_state SET last_hash = 'f00'"))
            conn.execute(text("UPDATE lowcarb_rollup_daily SET co2e_g = co2e_g * 10"))
        status = rollup.refresh()
        assert status.rebuilt and status.rolled == ledger.count()
        assert_agrees(url, rollup)
        rebuilt = rollup.rebuild()
        assert rebuilt.rebuilt and rebuilt.through_seq == ledger.count()
        assert_agrees(url, rollup)


def test_an_empty_ledger_has_an_empty_rollup(tmp_path: Path) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", environ={}) as ledger:
        rollup = DailyRollup(ledger.engine)
        status = rollup.refresh()
        assert (status.through_seq, status.through_hash, status.rolled) == (0, "", 0)
        assert rollup.groups(("team",), since=SINCE.date(), until=UNTIL.date()) == []
        assert rollup.distinct("team") == []
        with pytest.raises(ValueError, match="not a rollup key column"):
            rollup.groups(("body",), since=SINCE.date(), until=UNTIL.date())
