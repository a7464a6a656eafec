"""Exports: CSV and Parquet (flat rows), JSON lines (full records), with filters."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest

from lowcarb.errors import MissingDependencyError, UsageError
from lowcarb.ledger import (
    FLAT_COLUMNS,
    Ledger,
    MarketFactor,
    RecordFilter,
    open_ledger,
    record_dict,
)
from lowcarb.ledger.testing import sample_draft


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with open_ledger("sqlite://", environ={}) as opened:  # the in-memory test double
        opened.append(sample_draft(team="vision", metadata={"cmd": "python train.py"}))
        opened.append(sample_draft(team="nlp", market=MarketFactor(12.0, "ppa:wind")))
        yield opened


def test_csv_has_one_flat_row_per_record(ledger: Ledger) -> None:
    out = StringIO()
    assert ledger.export("csv", out) == 2
    rows = list(csv.DictReader(StringIO(out.getvalue())))
    assert list(rows[0]) == list(FLAT_COLUMNS)
    first, second = rows
    assert (first["seq"], first["team"], first["zone"]) == ("1", "vision", "DE")
    assert float(first["co2e_g"]) == pytest.approx(1368.0)
    assert first["market_co2e_g"] == ""
    assert float(second["market_co2e_g"]) == pytest.approx(3.6 * 12.0)
    assert second["market_source"] == "ppa:wind"
    assert first["energy_method"] == "measured"
    assert [c["name"] for c in json.loads(first["components"])] == ["cpu", "gpu:0"]
    assert json.loads(first["metadata"]) == {"cmd": "python train.py"}
    assert second["prev_hash"] == first["hash"]


def test_jsonl_holds_full_records_and_filters_apply(ledger: Ledger, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    assert ledger.export("jsonl", target, RecordFilter(team="nlp")) == 1
    (line,) = target.read_text().splitlines()
    record = json.loads(line)
    assert record == json.loads(json.dumps(record_dict(ledger.get(record["id"]))))
    assert record["attribution"]["team"] == "nlp"
    assert record["footprint"]["market"]["source"] == "ppa:wind"


def test_parquet_roundtrips_through_pyarrow(ledger: Ledger, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    target = tmp_path / "out.parquet"
    assert ledger.export("parquet", target) == 2
    table = pq.read_table(target)
    assert table.column_names == list(FLAT_COLUMNS)
    assert table.column("team").to_pylist() == ["vision", "nlp"]
    assert table.column("co2e_g").to_pylist() == pytest.approx([1368.0, 1368.0])
    assert table.column("seq").type == "int64"


def test_parquet_needs_a_file_and_pyarrow(ledger: Ledger, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match="--output"):
        ledger.export("parquet", StringIO())
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingDependencyError, match=r"lowcarb\[parquet\]"):
        ledger.export("parquet", tmp_path / "x.parquet")
    with pytest.raises(UsageError, match="unknown export format"):
        ledger.export("xlsx", StringIO())  # type: ignore[arg-type]


def test_filters_with_naive_times_are_refused() -> None:
    from datetime import datetime

    from lowcarb.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match="timezone-aware"):
        RecordFilter(since=datetime(2024, 1, 1))
