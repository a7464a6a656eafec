"""Reading a large ledger: totals and verification stream (memory flat in the record count).

The 1,000,000-record run lives in ``benchmarks/ledger.py`` (``scale``); these tests check the
properties it relies on at a size a test can afford: totals read from the stored bodies equal
totals over rebuilt records bit for bit, and reading twenty times more records does not take
more memory.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from lowcarb.errors import LedgerCorruptError
from lowcarb.ledger import (
    Attribution,
    GroupBy,
    Ledger,
    MarketFactor,
    RecordDraft,
    RecordFilter,
    open_ledger,
)
from lowcarb.ledger._chain import verify_chain
from lowcarb.ledger._query import compute_totals, totals_of_bodies
from lowcarb.ledger.testing import sample_draft


def _varied(ledger: Ledger) -> None:
    """Records of every shape totals must handle: months, zones, markets, no footprint,
    missing attribution, a replaced and a voided record."""
    drafts = []
    for i in range(60):
        drafts.append(
            sample_draft(
                team=None if i % 11 == 0 else f"team{i % 3}",
                project=f"p{i % 4}",
                model=None if i % 5 == 0 else "m",
                zone=("DE", "FR", "GB")[i % 3],
                cpu_j=1000.0 + i * 0.1,
                gpu_j=3.3 * i,
                market=MarketFactor(10.0 * (i % 2), source="ppa:x") if i % 4 == 0 else None,
            )
        )
    drafts.append(RecordDraft(kind="decision", attribution=Attribution(team="team0")))
    first = ledger.append_many(drafts)
    ledger.correct(first[1].id, sample_draft(team="team1", cpu_j=7.0), reason="re-measured")
    ledger.correct(first[2].id, None, reason="duplicate")


def _months(start: datetime) -> Callable[[], datetime]:
    state = {"now": start}

    def clock() -> datetime:
        state["now"] += timedelta(days=9)
        return state["now"]

    return clock


@pytest.mark.parametrize("flt", [None, RecordFilter(team="team1"), RecordFilter(project="p2")])
def test_totals_from_stored_bodies_equal_totals_over_records(
    ledger_url: str, flt: RecordFilter | None
) -> None:
    with open_ledger(
        ledger_url, environ={}, clock=_months(datetime(2024, 1, 1, tzinfo=UTC))
    ) as led:
        for _ in range(4):  # appended on different days, so different months
            _varied(led)
        superseded = led._store.corrected_ids()
        for by in get_args(GroupBy):
            expected = compute_totals(led.records(flt), by, superseded=superseded)
            got = led.totals(by, flt)
            assert got == expected, by  # the same floats, bit for bit
            assert got == totals_of_bodies(
                led._store.bodies(flt, page=7), by, superseded=superseded
            )
        assert len(led.totals("month").rows) > 1


def test_a_damaged_body_is_named_by_its_position() -> None:
    rows = [(1, '{"id": "a", "footprint": null}'), (2, '{"id": "b", "footprint": {}}')]
    with pytest.raises(LedgerCorruptError, match="#2"):
        totals_of_bodies(rows, "team", superseded=set())
    with pytest.raises(LedgerCorruptError, match="#1"):
        totals_of_bodies([(1, "not json")], "team", superseded=set())


def _peak(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _fill(ledger: Ledger, n: int) -> None:
    drafts = [sample_draft(metadata={"i": i, "pad": "x" * 200}) for i in range(500)]
    while (done := ledger.count()) < n:
        ledger.append_many(drafts[: n - done])


def test_verification_and_totals_stream_in_flat_memory(ledger_url: str) -> None:
    with open_ledger(ledger_url, environ={}) as ledger:
        store = ledger._store
        peaks: dict[str, list[int]] = {"verify": [], "totals": []}
        for n in (500, 10_000):
            _fill(ledger, n)

            def verify() -> None:
                with store.chain_rows(chunk=200) as rows:
                    result = verify_chain(rows)
                assert result.ok and result.entries == n  # noqa: B023

            def totals() -> None:
                t = totals_of_bodies(store.bodies(None, page=200), "team", superseded=set())
                assert t.total.records == n  # noqa: B023

            peaks["verify"].append(_peak(verify))
            peaks["totals"].append(_peak(totals))
        for what, (small, large) in peaks.items():
            # Twenty times the records, the same memory (a page or chunk of rows at a time).
            assert large < 1.5 * small + 256 * 1024, (what, small, large)
        assert ledger.verify().ok


# -- the write path at scale: bodies written fast, exactly as the reference writes them --------


class _Text(str):
    """A ``str`` subclass: written as text by the reference encoder."""


def test_fast_bodies_fall_back_to_the_general_path_for_undeclared_types() -> None:
    from lowcarb.energy import ComponentEnergy, Measurement
    from lowcarb.grid import Footprint, Intensity
    from lowcarb.ledger._canonical import body_dict, encode_body, figures_of
    from lowcarb.ledger._fastbody import encode_draft_body

    started = datetime(2024, 5, 1, tzinfo=UTC)
    odd = [
        Intensity(zone=_Text("DE"), intensity_g_per_kwh=380, source="s"),  # int, subclass
        Intensity(zone=7, intensity_g_per_kwh=1.5, source="s"),  # type: ignore[arg-type]
    ]
    for intensity in odd:
        fp = Footprint(
            measurement=Measurement(
                name="run",
                started_at=started,
                duration_s=60,
                components=(ComponentEnergy("cpu", 10, "measured", "rapl", "d"),),
            ),
            pue=1,
            intensity=intensity,
        )
        draft = RecordDraft(footprint=fp, attribution=Attribution(team=_Text("t")))
        figures = figures_of(fp, None)
        ts = "2024-05-01T00:00:00.000000Z"
        reference = body_dict(draft, record_id="r", timestamp=ts, signer=None, figures=figures)
        fast = encode_draft_body(draft, record_id="r", timestamp=ts, signer=None, figures=figures)
        assert fast == encode_body(reference, presorted=True)
