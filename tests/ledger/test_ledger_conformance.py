"""One conformance suite that every ledger backend passes: SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from lowcarb.errors import InvalidValueError, LedgerError, LedgerSchemaError
from lowcarb.ledger import (
    GENESIS_HASH,
    Attribution,
    Checkpoint,
    Ledger,
    MarketFactor,
    RecordDraft,
    RecordFilter,
    open_ledger,
    record_dict,
)
from lowcarb.ledger import _ledger as ledger_module
from lowcarb.ledger._canonical import chain_hash, encode_body
from lowcarb.ledger._migrate import script_revisions
from lowcarb.ledger._schema import HEAD_REVISION, KNOWN_REVISIONS, VERSION_TABLE
from lowcarb.ledger.testing import sample_draft


class Clock:
    """A controllable UTC clock."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 5, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def ledger(ledger_url: str, clock: Clock) -> Iterator[Ledger]:
    with open_ledger(ledger_url, environ={}, clock=clock) as opened:
        yield opened


def test_append_returns_the_stored_record(ledger: Ledger) -> None:
    draft = sample_draft(metadata={"cmd": ["python", "train.py"], "ratio": 0.1})
    record = ledger.append(draft)
    assert record.seq == 1
    assert record.prev_hash == GENESIS_HASH
    assert record.timestamp == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert record.attribution == draft.attribution
    assert record.footprint == draft.footprint
    assert record.energy_kwh == pytest.approx(3.6)
    assert record.co2e_g == pytest.approx(3.6 * 380.0)
    stored = ledger.get(record.id)
    assert stored == record
    assert record_dict(stored) == record_dict(record)
    assert list(ledger.records()) == [record]


def test_records_chain_in_order_and_hashes_recompute(ledger: Ledger) -> None:
    first = ledger.append(sample_draft())
    batch = ledger.append_many([sample_draft(team=f"t{i}") for i in range(5)])
    last = ledger.append(RecordDraft(kind="decision", metadata={"verdict": "promote"}))
    records = list(ledger.records())
    assert [r.seq for r in records] == list(range(1, 8))
    assert records == [first, *batch, last]
    prev = GENESIS_HASH
    for r in records:
        assert r.prev_hash == prev
        body = record_dict(r)
        for key in ("seq", "prev_hash", "hash", "signature"):
            body.pop(key)
        assert r.hash == chain_hash(r.seq, prev, encode_body(body))
        prev = r.hash
    assert len({r.id for r in records}) == 7
    assert ledger.count() == 7


def test_reopening_keeps_records_and_ledger_id(ledger_url: str) -> None:
    with open_ledger(ledger_url, environ={}) as a:
        rec = a.append(sample_draft())
        ledger_id = a.ledger_id
    with open_ledger(ledger_url, environ={}, create=False) as b:
        assert b.ledger_id == ledger_id
        assert b.get(rec.id) == rec
        assert b.verify().ok


def test_a_failed_batch_appends_nothing(ledger: Ledger) -> None:
    ledger.append(sample_draft())
    bad = RecordDraft(kind="correction", corrects="no-such-id")
    with pytest.raises(InvalidValueError, match="no-such-id"):
        ledger.append_many([sample_draft(), sample_draft(), bad])
    assert ledger.count() == 1
    assert ledger.verify().ok
    with pytest.raises(InvalidValueError, match="RecordDraft"):
        ledger.append_many([sample_draft(), "not a draft"])  # type: ignore[list-item]
    assert ledger.append_many([]) == []


def test_filters_select_by_attribution_kind_and_time(ledger: Ledger, clock: Clock) -> None:
    teams = itertools.cycle(["vision", "nlp", "speech"])
    for day in range(6):
        clock.now = datetime(2024, 5, 1 + day, 12, 0, tzinfo=UTC)
        ledger.append(sample_draft(team=next(teams), model=f"m{day % 2}"))
    ledger.append(RecordDraft(kind="decision", attribution=Attribution(team="vision")))

    def seqs(**kw: object) -> list[int]:
        return [r.seq for r in ledger.records(RecordFilter(**kw))]  # type: ignore[arg-type]

    assert seqs(team="vision") == [1, 4, 7]
    assert seqs(team="vision", kind="run") == [1, 4]
    assert seqs(model="m1") == [2, 4, 6]
    assert seqs(project="detector", team="nlp") == [2, 5]
    assert seqs(team="nobody") == []
    since = datetime(2024, 5, 3, tzinfo=UTC)
    until = datetime(2024, 5, 5, tzinfo=UTC)
    assert seqs(since=since, until=until) == [3, 4]
    # A timezone other than UTC means the same instant.
    cest = datetime(2024, 5, 3, 2, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    assert seqs(since=cest, until=until) == [3, 4]
    assert [r.seq for r in ledger.records(limit=2, newest_first=True)] == [7, 6]
    assert [r.seq for r in ledger.records(limit=3)] == [1, 2, 3]


def test_records_page_through_large_results(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "_PAGE", 3)
    ledger.append_many([sample_draft(team="a" if i % 2 else "b") for i in range(10)])
    assert [r.seq for r in ledger.records()] == list(range(1, 11))
    assert [r.seq for r in ledger.records(RecordFilter(team="a"))] == [2, 4, 6, 8, 10]
    assert [r.seq for r in ledger.records(newest_first=True, limit=7)] == list(range(10, 3, -1))


def test_corrections_replace_records_in_totals(ledger: Ledger) -> None:
    wrong = ledger.append(sample_draft(team="vision", cpu_j=36_000_000.0))
    ok = ledger.append(sample_draft(team="nlp"))
    fixed = ledger.correct(wrong.id, sample_draft(team="vision"), reason="double-counted CPU")
    assert fixed.kind == "correction"
    assert fixed.corrects == wrong.id
    assert fixed.metadata["correction_reason"] == "double-counted CPU"
    voided = ledger.correct(ok.id, None, reason="test run, not billable")
    assert voided.footprint is None
    assert voided.attribution == ok.attribution
    # The originals are still there: nothing was updated or deleted.
    assert ledger.get(wrong.id) == wrong
    totals = ledger.totals("team")
    assert {r.key: r.records for r in totals.rows} == {"vision": 1}
    assert totals.total.energy_kwh == pytest.approx(3.6)
    assert totals.superseded == 2
    with pytest.raises(LedgerError, match="no record with id"):
        ledger.correct("missing", None, reason="x")
    with pytest.raises(InvalidValueError, match="reason"):
        ledger.correct(wrong.id, None, reason=" ")
    assert ledger.verify().ok


def test_totals_by_team_month_and_both_scope2_methods(ledger: Ledger, clock: Clock) -> None:
    ppa = MarketFactor(intensity_g_per_kwh=0.0, source="ppa:windco-2024")
    clock.now = datetime(2024, 4, 30, 23, 59, tzinfo=UTC)
    ledger.append(sample_draft(team="vision", market=ppa))
    clock.now = datetime(2024, 5, 1, 0, 1, tzinfo=UTC)
    ledger.append(sample_draft(team="vision"))
    ledger.append(sample_draft(team=None, intensity_g_per_kwh=100.0))
    ledger.append(RecordDraft(kind="decision"))
    by_team = ledger.totals("team")
    rows = {r.key: r for r in by_team.rows}
    assert list(rows) == ["vision", None]
    assert rows["vision"].records == 2
    assert rows["vision"].location_co2e_g == pytest.approx(2 * 3.6 * 380.0)
    assert rows["vision"].market_co2e_g == pytest.approx(3.6 * 380.0)  # PPA record counts 0
    assert rows["vision"].market_records == 1
    assert rows[None].location_co2e_g == pytest.approx(360.0)
    assert by_team.total.records == 3
    assert by_team.total.location_co2e_g == pytest.approx(2 * 1368.0 + 360.0)
    months = {r.key: r.records for r in ledger.totals("month").rows}
    assert months == {"2024-04": 1, "2024-05": 2}
    assert [r.key for r in ledger.totals("zone").rows] == ["DE"]
    assert ledger.totals("team", RecordFilter(team="vision")).total.records == 2
    with pytest.raises(InvalidValueError, match="cannot group"):
        ledger.totals("colour")  # type: ignore[arg-type]


def test_verify_and_checkpoint(ledger: Ledger) -> None:
    empty = ledger.verify()
    assert (empty.ok, empty.entries, empty.first_bad) == (True, 0, None)
    assert ledger.checkpoint() == Checkpoint(GENESIS_HASH, 0, ledger.ledger_id)
    assert ledger.verify(checkpoint=ledger.checkpoint()).ok
    ledger.append_many([sample_draft() for _ in range(5)])
    cp = ledger.checkpoint()
    assert cp.count == 5
    assert cp.head_hash == list(ledger.records())[-1].hash
    assert Checkpoint.from_json(cp.to_json()) == cp
    ledger.append(sample_draft())
    result = ledger.verify(checkpoint=cp)
    assert result.ok, result.reason
    assert result.entries == 6
    assert result.warnings == ()
    assert "extends the checkpoint at #5" in result.reason


def test_database_refuses_update_and_delete(ledger: Ledger) -> None:
    ledger.append(sample_draft())
    engine = ledger._store.engine
    statements = [
        "UPDATE lowcarb_ledger SET body = 'x'",
        "DELETE FROM lowcarb_ledger",
        "UPDATE lowcarb_ledger_meta SET value = 'x'",
        "DELETE FROM lowcarb_ledger_meta",
    ]
    if ledger.dialect == "postgresql":
        statements.append("TRUNCATE lowcarb_ledger")
    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert ledger.count() == 1
    assert ledger.verify().ok


def test_the_api_has_no_update_or_delete() -> None:
    names = {n.lower() for n in dir(Ledger)}
    for verb in ("update", "delete", "remove", "edit", "truncate", "set", "pop", "clear"):
        assert not [n for n in names if n.startswith(verb) or n.startswith(f"_{verb}")], verb


def test_schema_version_is_tracked_with_alembic(ledger: Ledger) -> None:
    assert script_revisions() == list(KNOWN_REVISIONS)
    with ledger._store.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").all()
    assert [r[0] for r in rows] == [HEAD_REVISION]


def test_a_newer_schema_is_refused(ledger_url: str) -> None:
    with open_ledger(ledger_url, environ={}) as ledger, ledger._store.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    with pytest.raises(LedgerSchemaError, match="'9999'"):
        open_ledger(ledger_url, environ={})


def test_opening_without_create_needs_an_existing_ledger(ledger_url: str) -> None:
    with pytest.raises(LedgerError, match="no ledger"):
        open_ledger(ledger_url, environ={}, create=False)


def test_unicode_and_exotic_numbers_survive_the_database(ledger: Ledger) -> None:
    meta = {"where": "Zürich 🌍", "tiny": 5e-324, "third": 1 / 3, "big": 2**62, "neg": -0.0}
    rec = ledger.append(sample_draft(metadata=meta, cpu_j=0.1 + 0.2))
    back = ledger.get(rec.id)
    assert dict(back.metadata) == meta
    assert back.footprint == rec.footprint
    assert ledger.verify().ok


def test_threads_sharing_one_ledger_append_without_forking(ledger: Ledger) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def work(t: int) -> list[int]:
        return [ledger.append(sample_draft(team=f"thread{t}")).seq for _ in range(25)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        seqs = [s for chunk in pool.map(work, range(4)) for s in chunk]
    assert sorted(seqs) == list(range(1, 101))
    result = ledger.verify()
    assert (result.ok, result.entries) == (True, 100), result.reason
