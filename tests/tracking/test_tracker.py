"""The user-facing Tracker: windows, decorator, pricing, ledger records, MLflow auto-logging."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from lowcarb import Tracker, track
from lowcarb.energy import FakeMeter
from lowcarb.errors import (
    InvalidValueError,
    LedgerUnreachableError,
    LowcarbError,
    UnknownZoneError,
    UsageError,
)
from lowcarb.ledger import open_ledger
from lowcarb.tracking import attribution


class StepClock:
    """A monotonic clock that advances only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class ReadyMeter(FakeMeter):
    """A FakeMeter that says when the monitor's background thread has opened it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.opened = threading.Event()

    def open(self) -> None:
        super().open()
        self.opened.set()


def _meters(clock: StepClock) -> list[FakeMeter]:
    return [ReadyMeter(power_w={"cpu": 50.0, "gpu:0": 250.0}, clock=clock, source="fake-counter")]


def _env(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path)}


def test_context_manager_prices_energy_x_pue_x_intensity(tmp_path: Path) -> None:
    clock = StepClock()
    t = Tracker(zone="FR", pue=1.5, meters=_meters(clock), environ=_env(tmp_path), cwd=tmp_path)
    with t:
        assert t.wait_ready(timeout_s=10)  # the fake clock only moves when told to
        clock.now += 36.0  # 36 s x 300 W = 10,800 J = 0.003 kWh
    fp = t.footprint
    assert fp is not None
    assert fp.measurement.energy_j == pytest.approx(10_800.0)
    assert fp.energy_kwh == pytest.approx(0.003 * 1.5)
    assert fp.co2e_g == pytest.approx(0.0045 * fp.intensity.intensity_g_per_kwh)
    assert fp.intensity.zone == "FR" and fp.intensity.source.startswith("profile:")
    assert {c.name: c.method for c in fp.measurement.components} == {
        "cpu": "measured",
        "gpu:0": "measured",
    }


def test_nested_windows(tmp_path: Path) -> None:
    clock = StepClock()
    t = Tracker(zone="DE", meters=_meters(clock), environ=_env(tmp_path), cwd=tmp_path)
    with t:
        assert t.wait_ready(timeout_s=10)  # the fake clock only moves when told to
        with t.window("epoch"):
            clock.now += 1.0
            with t.window("step"):
                clock.now += 2.0
        clock.now += 3.0
    assert t.windows["step"].energy_j == pytest.approx(600.0)
    assert t.windows["epoch"].energy_j == pytest.approx(900.0)
    assert t.footprint is not None and t.footprint.measurement.energy_j == pytest.approx(1800.0)


def test_decorator_measures_each_call(tmp_path: Path) -> None:
    clock = StepClock()
    meters = _meters(clock)

    @track(zone="DE", meters=meters, environ=_env(tmp_path), cwd=tmp_path)
    def train(seconds: float) -> str:
        opened = meters[0].opened  # type: ignore[attr-defined]
        assert opened.wait(10)  # the fake clock only moves once the meter is open
        opened.clear()
        clock.now += seconds
        return "done"

    assert train(2.0) == "done"
    fp = train.tracker.footprint  # type: ignore[attr-defined]
    assert fp.measurement.energy_j == pytest.approx(600.0)
    assert train(1.0) == "done"
    assert train.tracker.footprint.measurement.energy_j == pytest.approx(300.0)  # type: ignore[attr-defined]


def test_bare_decorator_and_world_average(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOWCARB_ZONE", raising=False)
    monkeypatch.chdir(tmp_path)

    @track
    def noop() -> int:
        return 1

    assert noop() == 1
    fp = noop.tracker.footprint  # type: ignore[attr-defined]
    assert fp.intensity.zone == "WORLD" and "no zone" in fp.intensity.note


def test_start_stop_misuse_is_a_usage_error(tmp_path: Path) -> None:
    t = Tracker(zone="DE", meters=_meters(StepClock()), environ=_env(tmp_path), cwd=tmp_path)
    with pytest.raises(UsageError, match="not started"):
        t.stop()
    t.start()
    with pytest.raises(UsageError, match="already started"):
        t.start()
    t.stop()


def test_unknown_zone_fails_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(UnknownZoneError, match=r"unknown zone 'DEE'; did you mean .*'DE'"):
        Tracker(zone="DEE", environ=_env(tmp_path), cwd=tmp_path)


def test_ledger_record_with_attribution(tmp_path: Path, ledger_url: str) -> None:
    clock = StepClock()
    t = Tracker(
        zone="SE-SE1",
        ledger=ledger_url,
        attribution=attribution(team="vision", project="detector", model="yolo"),
        meters=_meters(clock),
        environ=_env(tmp_path),
        cwd=tmp_path,
    )
    with t:
        assert t.wait_ready(timeout_s=10)
        clock.now += 10.0
    assert t.record_id is not None and t.ledger_error is None
    with open_ledger(ledger_url) as ledger:
        (record,) = ledger.records()
        assert ledger.verify().ok
    assert record.id == t.record_id
    assert record.attribution.team == "vision" and record.attribution.model == "yolo"


def test_unreachable_ledger_fails_before_any_work(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    with pytest.raises(LedgerUnreachableError, match=r"127\.0\.0\.1:1"):
        Tracker(zone="DE", ledger=url, meters=_meters(StepClock()), environ=_env(tmp_path))


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("sqlte:///x.db", "unknown dialect 'sqlte'"),
        ("postgres://u@localhost/db", "postgresql+psycopg://"),
        ("sqlite://", "in-memory"),
        ("sqlite:/x.db", "sqlite:///x.db"),
        ("postgresql+psycopg://h:99999/db", "port 99999"),
    ],
)
def test_bad_ledger_url_fails_before_any_work(tmp_path: Path, url: str, needle: str) -> None:
    with pytest.raises(UsageError, match=re.escape(needle)):
        Tracker(zone="DE", ledger=url, environ=_env(tmp_path), cwd=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing created


def _break(url: str, tmp_path: Path) -> None:
    """Make the ledger fail after the tracker opened it: garbage over the SQLite file, or the
    PostgreSQL database dropped under it."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for side in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            side.unlink(missing_ok=True)
        path.write_bytes(b"not a database" * 100)
        return
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = f"host={parsed.host} port={parsed.port} user={parsed.username} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{parsed.database}" WITH (FORCE)')


def test_ledger_failing_after_the_work_spools_the_footprint(
    tmp_path: Path, ledger_url: str
) -> None:
    clock = StepClock()
    t = Tracker(
        zone="DE", ledger=ledger_url, meters=_meters(clock), environ=_env(tmp_path), cwd=tmp_path
    )
    with t:
        assert t.wait_ready(timeout_s=10)
        clock.now += 1.0
        _break(ledger_url, tmp_path)
    assert t.footprint is not None and t.record_id is None
    assert isinstance(t.ledger_error, LowcarbError)
    assert t.spooled_to is not None and t.spooled_to.is_file()
    saved = json.loads(t.spooled_to.read_text())
    assert saved["footprint"]["co2e_g"] == pytest.approx(t.footprint.co2e_g)
    assert saved["footprint"]["energy_kwh"] > 0
    assert saved["ledger"] == ledger_url


def test_ledger_in_a_parent_config_file_is_used(tmp_path: Path) -> None:
    (tmp_path / "lowcarb.toml").write_text('ledger = "sqlite:///team.db"\nteam = "vision"\n')
    sub = tmp_path / "src" / "train"
    sub.mkdir(parents=True)
    clock = StepClock()
    t = Tracker(zone="DE", meters=_meters(clock), environ=_env(tmp_path), cwd=sub)
    with t:
        assert t.wait_ready(timeout_s=10)
        clock.now += 1.0
    # relative to the config file, not to the directory the run started in
    assert t.ledger_url == f"sqlite:///{tmp_path / 'team.db'}"
    with open_ledger(t.ledger_url) as ledger:
        (record,) = ledger.records()
    assert record.id == t.record_id and record.attribution.team == "vision"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"team": "a\x1b[31mred"}, "control characters"),
        ({"project": "p" * 201}, "201 characters"),
        ({"model": "line\nbreak"}, "control characters"),
        ({"team": "   "}, "empty"),
    ],
)
def test_names_are_checked_before_any_work(
    tmp_path: Path, kwargs: dict[str, str], needle: str
) -> None:
    with pytest.raises(InvalidValueError, match=needle):
        Tracker(zone="DE", attribution=attribution(**kwargs), environ=_env(tmp_path), cwd=tmp_path)


def test_markup_in_names_is_kept_as_data(tmp_path: Path, sqlite_url: str) -> None:
    clock = StepClock()
    names = attribution(team="[/]", project="[bold red]APPROVED")
    t = Tracker(
        zone="DE",
        ledger=sqlite_url,
        attribution=names,
        meters=_meters(clock),
        environ=_env(tmp_path),
        cwd=tmp_path,
    )
    with t:
        assert t.wait_ready(timeout_s=10)
        clock.now += 1.0
    with open_ledger(sqlite_url) as ledger:
        (record,) = ledger.records()
    assert (record.attribution.team, record.attribution.project) == ("[/]", "[bold red]APPROVED")


@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")
def test_logs_to_the_active_mlflow_run(tmp_path: Path) -> None:
    mlflow = pytest.importorskip("mlflow")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    clock = StepClock()
    try:
        with mlflow.start_run() as run:
            with Tracker(zone="DE", meters=_meters(clock), environ=_env(tmp_path), cwd=tmp_path):
                clock.now += 2.0
        data = mlflow.MlflowClient().get_run(run.info.run_id).data
    finally:
        mlflow.set_tracking_uri("")
    energy_metrics = [k for k in data.metrics if k.startswith("lowcarb.") and "energy" in k]
    assert energy_metrics, data.metrics
    assert any(v == "DE" for v in data.tags.values()) or any(
        v == "DE" for v in data.params.values()
    )


def test_a_read_only_ledger_fails_before_any_work(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_ledger(sqlite_url):
        pass  # created
    import lowcarb.ledger._engines as engines

    monkeypatch.setattr(engines.os, "access", lambda *_a, **_k: False)  # as a non-owner sees it
    with pytest.raises(LowcarbError, match="read-only here"):
        Tracker(zone="DE", ledger=sqlite_url, environ=_env(tmp_path), cwd=tmp_path)
