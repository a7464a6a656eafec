"""Sinks: one small protocol for where a footprint goes; the Tracker hands it to each in order."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from lowcarb.energy import FakeMeter
from lowcarb.errors import UsageError
from lowcarb.grid import Footprint
from lowcarb.ledger import open_ledger
from lowcarb.tracking import (
    CodeCarbonCsvSink,
    Delivery,
    Sink,
    SinkContext,
    SpoolSink,
    Tracker,
    attribution,
    plugin_sink,
)


class _Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


class _Recorder:
    """A sink that keeps what it was given."""

    name = "recorder"

    def __init__(self) -> None:
        self.checked = 0
        self.got: list[tuple[Footprint, SinkContext]] = []

    def check(self) -> None:
        self.checked += 1

    def emit(self, footprint: Footprint, context: SinkContext) -> Delivery:
        self.got.append((footprint, context))
        return Delivery(self.name, ok=True)


def _run(tmp_path: Path, **kwargs: object) -> Tracker:
    clock = _Clock()
    meters = [FakeMeter(power_w={"cpu": 100.0}, clock=clock)]
    tracker = Tracker(
        "block",
        zone="FR",
        meters=meters,
        environ={"HOME": str(tmp_path)},
        cwd=tmp_path,
        **kwargs,  # type: ignore[arg-type]
    )
    with tracker:
        assert tracker.wait_ready(timeout_s=10)
        clock.now += 36.0
    return tracker


def test_a_custom_sink_is_checked_first_and_gets_the_footprint_after_the_ledger(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    sink = _Recorder()
    assert isinstance(sink, Sink)
    tracker = _run(
        tmp_path,
        ledger=url,
        sinks=[sink],
        kind="trial",
        attribution=attribution(team="search", project="p1"),
        metadata={"trial": 3},
    )
    assert sink.checked == 1
    ((footprint, context),) = sink.got
    assert footprint is tracker.footprint
    assert context.kind == "trial" and context.metadata == {"trial": 3}
    assert context.attribution.team == "search"
    assert context.record_id == tracker.record_id is not None  # the ledger sink ran first
    with open_ledger(url) as ledger:
        (record,) = ledger.records()
    assert record.kind == "trial"
    assert [d.sink for d in tracker.deliveries] == ["ledger", "recorder"]


def test_codecarbon_csv_sink_writes_one_row_with_the_ledger_record_id(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    path = tmp_path / "emissions.csv"
    tracker = _run(
        tmp_path,
        ledger=url,
        sinks=[CodeCarbonCsvSink(path)],
        attribution=attribution(project="digits"),
    )
    with path.open(encoding="utf-8") as f:
        (row,) = csv.DictReader(f)
    assert row["run_id"] == tracker.record_id and row["project_name"] == "digits"
    assert float(row["energy_consumed"]) == pytest.approx(0.001)


def test_a_bad_csv_path_fails_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(UsageError, match=r"dir\.csv"):
        Tracker(zone="FR", sinks=[CodeCarbonCsvSink(tmp_path / "dir.csv")], cwd=tmp_path)


def test_a_failing_ledger_is_spooled_and_reported_not_raised(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    with open_ledger(url):
        pass
    tracker_dir = tmp_path / "work"
    tracker_dir.mkdir()
    clock = _Clock()
    tracker = Tracker(
        zone="FR",
        ledger=url,
        meters=[FakeMeter(power_w={"cpu": 1.0}, clock=clock)],
        environ={"HOME": str(tmp_path)},
        cwd=tracker_dir,
    )
    (tmp_path / "l.db").write_bytes(b"not a database any more")
    with tracker:
        assert tracker.wait_ready(timeout_s=10)
        clock.now += 1.0
    (delivery,) = tracker.deliveries
    assert not delivery.ok and delivery.error is not None
    assert tracker.spooled_to is not None and tracker.spooled_to.parent.name == "unrecorded"
    saved = json.loads(tracker.spooled_to.read_text(encoding="utf-8"))
    assert saved["ledger"] == url and saved["kind"] == "run"


def test_spool_sink_writes_a_json_file(tmp_path: Path) -> None:
    spool = SpoolSink(tmp_path / "spool")
    tracker = _run(tmp_path, sinks=[spool])
    (delivery,) = tracker.deliveries
    assert delivery.ok and delivery.path is not None
    assert json.loads(delivery.path.read_text(encoding="utf-8"))["footprint"]["zone"] == "FR"


def test_an_unknown_plugin_sink_names_the_extra() -> None:
    with pytest.raises(UsageError, match=r"no lowcarb sink named 'nosuch'.*lowcarb\[nosuch\]"):
        plugin_sink("nosuch")


def test_the_mlflow_sink_is_a_registered_plugin() -> None:
    sink = plugin_sink("mlflow")
    assert isinstance(sink, Sink) and sink.name == "mlflow"
