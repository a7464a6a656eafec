"""The Airflow 3 integration: the green-window sensor and trigger, and measured tasks.

Two halves:

* The Airflow-free core (:class:`WindowClock`, :class:`ForecastSpec`, :class:`WindowRequest`,
  :func:`wait_for_window`) on an injected clock and sleep, in this process; plus the package's
  exports and its message when Airflow is missing.
* Real Airflow: DAGs run with Airflow 3's ``dag.test()`` in one subprocess (its own
  ``AIRFLOW_HOME`` and SQLite metadata database under ``tmp_path``; ``dag.test()`` runs a deferred
  task's trigger in-process). A replayed trace (an hour a second) makes a 2.5 h green-window wait
  take 2.5 s. The ledger the DAGs wrote is then read here.

The real-Airflow tests skip, with the reason, where Airflow 3 is not installed (the main dev
virtualenv: Airflow pins FastAPI below the version the serving stack uses), unless
``LOWCARB_REQUIRE_AIRFLOW=1``; ``make test`` runs this file in ``.venv-airflow`` with it set.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pytest

import lowcarb.integrations.airflow as lc_airflow
from lowcarb.errors import InvalidValueError, ProviderError, UsageError
from lowcarb.integrations.airflow import (
    ForecastSpec,
    WindowClock,
    WindowOutcome,
    WindowPlanner,
    WindowRequest,
    wait_for_window,
)
from lowcarb.ledger import Record, RecordFilter, open_ledger

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "airflow" / "green_dag.py"

# The synthetic trace: 400 gCO2e/kWh every hour except 13:00-14:00 UTC (100), 1-12 March 2022.
# Yesterday's same hour (seasonal-naive) then forecasts the dip exactly.
TRACE_START = datetime(2022, 3, 1, tzinfo=UTC)
TRACE_HOURS = 11 * 24
T0 = datetime(2022, 3, 10, 10, 30, tzinfo=UTC)  # the sensor starts here (replayed)
DIP = datetime(2022, 3, 10, 13, tzinfo=UTC)


def _write_trace(path: Path) -> Path:
    rows = ["datetime_utc,DE"]
    for h in range(TRACE_HOURS):
        t = TRACE_START + timedelta(hours=h)
        rows.append(f"{t:%Y-%m-%dT%H:%M:%SZ},{100.0 if t.hour == 13 else 400.0}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_trace(tmp_path_factory.mktemp("trace") / "de.csv")


# --- the package ------------------------------------------------------------------------------


def test_all_names_resolve_lazily_and_nothing_else_is_public() -> None:
    hidden = {"annotations", "TYPE_CHECKING"}
    public = {n for n in vars(lc_airflow) if not n.startswith("_") and n not in hidden}
    modules = {n for n in public if hasattr(getattr(lc_airflow, n), "__file__")}
    lazy = {"GreenWindowSensor", "GreenWindowTrigger"}  # they import Airflow
    assert (public - modules) | lazy == set(lc_airflow.__all__)
    assert len(lc_airflow.__all__) == len(set(lc_airflow.__all__))


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_importing_the_package_does_not_import_airflow() -> None:
    proc = _python(
        "import sys, lowcarb, lowcarb.integrations.airflow; print('airflow' in sys.modules)"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_without_airflow_the_sensor_names_the_extra() -> None:
    proc = _python(
        "import sys; sys.modules['airflow'] = None\n"  # as if Airflow were not installed
        "import lowcarb.integrations.airflow as a\n"
        "try:\n    a.GreenWindowSensor\nexcept Exception as e:\n"
        "    print(type(e).__name__, '|', e)\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "MissingDependencyError | 'apache-airflow' is not installed; install it with: "
        "pip install 'lowcarb[airflow]'"
    )


# --- the clock, the forecast source, the request ----------------------------------------------


def test_a_replay_runs_speed_times_faster_from_its_anchor() -> None:
    real = [1000.0]
    clock = WindowClock(start=T0, speed=3600.0, anchor_epoch_s=1000.0, epoch_s=lambda: real[0])
    assert clock.now() == T0
    real[0] += 2.5
    assert clock.now() == T0 + timedelta(hours=2.5)
    assert clock.real_seconds(3600.0) == 1.0
    again = WindowClock.from_dict(clock.to_dict(), epoch_s=lambda: real[0])
    assert again == clock and again.now() == clock.now()


def test_the_wall_clock_reads_real_time() -> None:
    clock = WindowClock(epoch_s=lambda: 1_646_906_400.0)
    assert clock.now() == datetime(2022, 3, 10, 10, tzinfo=UTC)
    assert not clock.is_replay and clock.real_seconds(60.0) == 60.0
    assert WindowClock.from_dict(clock.to_dict()) == clock


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": T0, "speed": 0.0}, "replay speed must be > 0 and <= 1e+06, got 0.0"),
        ({"start": T0, "speed": float("inf")}, "replay speed must be > 0"),
        ({"speed": 60.0}, "replay speed 60.0 needs a replay start time"),
        ({"start": datetime(2022, 3, 10), "speed": 2.0}, "replay start must be timezone-aware"),
    ],
)
def test_bad_clocks_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message.replace("+", r"\+")):
        WindowClock(**kwargs)


def test_replay_start_must_be_an_iso_time_with_a_zone() -> None:
    with pytest.raises(InvalidValueError, match=r"replay_from '2022-03-10T10:30' has no time zone"):
        WindowClock.replay("2022-03-10T10:30", speed=3600)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"trace": "a.csv", "provider": "ukci"}, UsageError, "either trace= or provider="),
        ({"provider": "nope"}, UsageError, "unknown provider 'nope'; choose one of"),
        ({"model": "lag-ridge"}, UsageError, "forecast_model='lag-ridge' needs trace="),
        ({"trace": "a.csv", "model": "magic"}, InvalidValueError, "unknown forecast model"),
        ({"trace": " "}, InvalidValueError, "trace= is empty"),
    ],
)
def test_contradictory_forecast_sources_are_refused(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ForecastSpec(**kwargs)


def test_forecast_spec_round_trips_and_labels_itself(trace: Path) -> None:
    spec = ForecastSpec(trace=str(trace), model="seasonal-naive")
    assert spec.label == "trace:de.csv" and spec.on_error == "raise"
    assert ForecastSpec.from_dict(spec.to_dict()) == spec
    assert ForecastSpec().label == "profile" and ForecastSpec().on_error == "start-now"
    assert ForecastSpec(provider="ukci").label == "provider:ukci"


def _request(trace: Path, **changes: Any) -> WindowRequest:
    fields: dict[str, Any] = {
        "zone": "DE",
        "duration_h": 1.0,
        "deadline": T0 + timedelta(hours=8),
        "forecast": ForecastSpec(trace=str(trace), model="seasonal-naive"),
        "replan_every_s": 3600.0,
    }
    return WindowRequest(**(fields | changes))


def test_request_round_trips(trace: Path) -> None:
    request = _request(trace, power_w=300.0)
    assert WindowRequest.from_dict(request.to_dict()) == request
    assert request.latest_start == T0 + timedelta(hours=7)


def test_a_deadline_without_room_names_the_sensor_parameters(trace: Path) -> None:
    request = _request(trace, deadline=T0 + timedelta(minutes=30))
    with pytest.raises(InvalidValueError) as info:
        request.check_feasible(T0)
    assert str(info.value) == (
        "deadline 2022-03-10T11:00:00Z leaves 0.50 h after 2022-03-10T10:30:00Z but the job "
        "takes 1 h; give a later deadline= or a shorter duration="
    )


def test_replanning_more_often_than_a_minute_is_refused(trace: Path) -> None:
    with pytest.raises(InvalidValueError, match="replan_every must be at least 60 s"):
        _request(trace, replan_every_s=5.0)


# --- the wait ---------------------------------------------------------------------------------


@dataclass
class FakeTime:
    """Real time that passes only when the wait sleeps."""

    epoch_s: float = 0.0

    def __post_init__(self) -> None:
        self.sleeps: list[float] = []

    def clock(self, *, speed: float = 3600.0) -> WindowClock:
        return WindowClock(start=T0, speed=speed, anchor_epoch_s=0.0, epoch_s=lambda: self.epoch_s)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.epoch_s += seconds


class CountingPlanner:
    def __init__(self, request: WindowRequest, *, fail: bool = False) -> None:
        self.planner = WindowPlanner(request, environ={})
        self.calls: list[datetime] = []
        self.fail = fail

    def __call__(self, now: datetime) -> Any:
        self.calls.append(now)
        if self.fail:
            raise ProviderError("forecast provider answered 503")
        return self.planner.plan(now, on_error="raise")


def _wait(
    request: WindowRequest, first: dict[str, Any], fake: FakeTime, **kwargs: Any
) -> WindowOutcome:
    return asyncio.run(
        wait_for_window(request, first, clock=fake.clock(), sleep=fake.sleep, **kwargs)
    )


def test_the_wait_releases_at_the_planned_start_replanning_hourly(trace: Path) -> None:
    request = _request(trace)
    first = WindowPlanner(request, environ={}).plan(T0)
    assert first.start == DIP and first.now_intensity_g_per_kwh == 400.0
    fake, replan = FakeTime(), CountingPlanner(request)
    outcome = _wait(request, first.to_dict(), fake, replan=replan)
    assert DIP <= outcome.released_at < DIP + timedelta(seconds=1)
    # Re-planned at 11:30 and 12:30 (hourly), never at 13:30: the window opened at 13:00.
    assert [c.strftime("%H:%M") for c in replan.calls] == ["11:30", "12:30"]
    assert outcome.replans == 2 and outcome.plan["start"] == "2022-03-10T13:00:00Z"
    assert outcome.first_plan == first.to_dict()
    assert max(fake.sleeps) <= 60.0 and sum(fake.sleeps) == pytest.approx(2.5, abs=1e-3)
    assert WindowOutcome.from_dict(outcome.to_dict()) == outcome


def test_a_failed_replan_keeps_the_plan_and_says_why(trace: Path) -> None:
    request = _request(trace)
    first = WindowPlanner(request, environ={}).plan(T0).to_dict()
    outcome = _wait(request, first, FakeTime(), replan=CountingPlanner(request, fail=True))
    assert outcome.plan == first and outcome.replans == 0
    assert len(outcome.replan_errors) == 2
    assert outcome.replan_errors[0].endswith("forecast provider answered 503")
    assert DIP <= outcome.released_at < DIP + timedelta(seconds=1)


def test_the_wait_never_passes_the_latest_start(trace: Path) -> None:
    request = _request(trace, replan_every_s=None)
    first = WindowPlanner(request, environ={}).plan(T0).to_dict()
    late = first | {"start": "2022-03-10T20:00:00Z"}  # a plan past the deadline is not obeyed
    fake = FakeTime()
    outcome = _wait(request, late, fake)
    assert request.latest_start <= outcome.released_at < request.latest_start + timedelta(seconds=1)


def test_sleeps_are_chunked_on_the_wall_clock(trace: Path) -> None:
    request = _request(trace, replan_every_s=None)
    first = WindowPlanner(request, environ={}).plan(T0).to_dict()
    fake = FakeTime()
    outcome = asyncio.run(
        wait_for_window(request, first, clock=fake.clock(speed=1.0), sleep=fake.sleep)
    )
    assert DIP <= outcome.released_at < DIP + timedelta(seconds=1)
    assert len(fake.sleeps) == 150 and max(fake.sleeps) == 60.0  # 2.5 h in minutes


def test_a_window_that_is_now_releases_at_once(trace: Path) -> None:
    request = _request(trace)
    at_dip = DIP + timedelta(minutes=10)
    first = WindowPlanner(request, environ={}).plan(at_dip)
    assert first.start == at_dip
    fake = FakeTime()
    clock = WindowClock(start=at_dip, speed=3600.0, epoch_s=lambda: fake.epoch_s)
    outcome = asyncio.run(wait_for_window(request, first.to_dict(), clock=clock, sleep=fake.sleep))
    assert outcome.released_at == at_dip and fake.sleeps == []


# --- real Airflow: dag.test() -----------------------------------------------------------------


def _airflow_missing_reason() -> str | None:
    try:
        installed = version("apache-airflow")
    except PackageNotFoundError:
        return (
            "Airflow 3 is not installed here (pip install 'lowcarb[airflow]'; `make test` runs "
            "this file in .venv-airflow)"
        )
    if int(installed.split(".")[0]) < 3:
        return f"Airflow {installed} is installed; these tests need Airflow 3"
    return None


@pytest.fixture(scope="module")
def airflow_required() -> None:
    reason = _airflow_missing_reason()
    if reason is None:
        return
    if os.environ.get("LOWCARB_REQUIRE_AIRFLOW") == "1":
        pytest.fail(f"LOWCARB_REQUIRE_AIRFLOW=1 but {reason}")
    pytest.skip(reason)


DAGS = '''
"""DAGs of tests/integrations/test_airflow.py, run there with dag.test()."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, task

from lowcarb.energy import FakeMeter
from lowcarb.integrations.airflow import GreenWindowSensor, measured

TRACE, LEDGER = os.environ["LOWCARB_TEST_TRACE"], os.environ["LOWCARB_TEST_LEDGER"]
OUT = Path(os.environ["LOWCARB_TEST_OUT"])
START = datetime(2025, 1, 1, tzinfo=UTC)
NAMES = {"team": "vision", "project": "detector"}


def sensor(**kwargs: Any) -> GreenWindowSensor:
    return GreenWindowSensor(
        task_id="green_window", zone="DE", duration="1h", trace=TRACE,
        forecast_model="seasonal-naive", replay_speed=3600.0, retries=0, **NAMES, **kwargs
    )


def meters() -> list[FakeMeter]:
    return [FakeMeter(power_w={"cpu": 50.0}, source="fake:cpu")]


with DAG("green_wait", schedule=None, start_date=START) as green_wait:
    # The ledger from an Airflow connection (AIRFLOW_CONN_LOWCARB_LEDGER).
    wait = sensor(
        deadline="8h", replay_from="2022-03-10T10:30:00Z", ledger_conn_id="lowcarb_ledger"
    )

    @task
    def train(decision: dict[str, Any]) -> str:
        started = time.time()
        time.sleep(0.3)
        (OUT / "train.json").write_text(json.dumps({"started": started, "decision": decision}))
        return str(decision["planned_start"])

    measured(
        train(wait.output), model="resnet", zone="DE", ledger_conn_id="lowcarb_ledger",
        meters=meters(), metadata={"purpose": "test"}, **NAMES,
    )

with DAG("green_now", schedule=None, start_date=START) as green_now:
    sensor(deadline="2h", replay_from="2022-03-10T13:10:00Z", ledger=LEDGER)  # explicit ledger

with DAG("green_impossible", schedule=None, start_date=START) as green_impossible:
    # The ledger from LOWCARB_LEDGER; never reached.
    late = sensor(deadline="30m", replay_from="2022-03-10T10:30:00Z")

    @task
    def never() -> None:
        raise AssertionError("ran after a failed sensor")

    late >> never()

with DAG("measured_failure", schedule=None, start_date=START) as measured_failure:

    @task(retries=0)
    def boom() -> None:
        time.sleep(0.1)
        raise ValueError("boom")

    measured(boom(), zone="DE", ledger=LEDGER, meters=meters(), **NAMES)
'''

RUNNER = """
import contextlib, io, json, os, sys, time

from airflow.utils import db  # what `airflow db migrate` runs, here in-process (faster)

db.initdb()
sys.path.insert(0, os.environ["AIRFLOW__CORE__DAGS_FOLDER"])

from importlib import import_module

from airflow.sdk.serde import deserialize, serialize  # what dag.test() and the triggerer use

from lowcarb.integrations.airflow import GreenWindowTrigger

dags = import_module("lowcarb_test_dags")
result = {}
for dag in (dags.green_wait, dags.green_now, dags.green_impossible, dags.measured_failure):
    started = time.monotonic()
    run = dag.test()
    result[dag.dag_id] = {
        "state": str(getattr(run.state, "value", run.state)),
        "wall_s": time.monotonic() - started,
        "tasks": {ti.task_id: str(getattr(ti.state, "value", ti.state))
                  for ti in run.get_task_instances()},
    }

# The trigger as the triggerer re-creates it: classpath + serde round trip.
first = json.loads(open(os.path.join(os.environ["LOWCARB_TEST_OUT"], "train.json")).read())
decision = first["decision"]
trigger = GreenWindowTrigger(request=decision["request"], first_plan=decision["first_plan"],
                             clock=decision["clock"])
classpath, kwargs = trigger.serialize()
module, _, name = classpath.rpartition(".")
again = getattr(import_module(module), name)(**deserialize(serialize(kwargs)))
result["trigger"] = {"classpath": classpath, "round_trip": again.serialize() == (classpath, kwargs)}

# What a DAG file gets wrong fails when it is parsed, in one line.
from lowcarb.integrations.airflow import GreenWindowSensor, measured

errors = {}
attempts = {
    "both_sources": lambda: GreenWindowSensor(
        task_id="x", zone="DE", duration="1h", deadline="2h", trace="a.csv", provider="ukci"
    ),
    "bad_duration": lambda: GreenWindowSensor(
        task_id="x", zone="DE", duration="soon", deadline="2h"
    ),
    "speed_without_start": lambda: GreenWindowSensor(
        task_id="x", zone="DE", duration="1h", deadline="2h", replay_speed=60.0
    ),
    "unknown_zone": lambda: GreenWindowSensor(
        task_id="x", zone="Atlantis", duration="1h", deadline="2h"
    ).poke({}),
    "twice": lambda: measured(dags.green_wait.task_dict["train"]),
    "not_an_operator": lambda: measured(42),
}
for key, attempt in attempts.items():
    try:
        attempt()
        errors[key] = None
    except Exception as exc:
        errors[key] = f"{type(exc).__name__}: {exc}"
result["parse_errors"] = errors
result["poke"] = {
    dag.dag_id: dag.task_dict["green_window"].poke({})
    for dag in (dags.green_wait, dags.green_now)
}

# The example DAG, as `python examples/airflow/green_dag.py` runs it (faster replay).
example = import_module("green_dag")
out = io.StringIO()
with contextlib.redirect_stdout(out):
    example.run_once(ledger=os.environ["LOWCARB_TEST_EXAMPLE_LEDGER"], speed=36000.0)
result["example"] = out.getvalue()
print("RESULT " + json.dumps(result))
"""


def _plain(value: Any) -> Any:
    """Record metadata (read-only mappings and tuples) as the JSON it was written from."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class AirflowRun:
    result: dict[str, Any]
    output: str
    ledger_url: str
    example_ledger_url: str
    out: Path

    def records(self, dag_id: str, kind: str, url: str | None = None) -> list[Record]:
        with open_ledger(url or self.ledger_url) as ledger:
            found = ledger.records(RecordFilter(kind=kind))
            return [r for r in found if r.metadata.get("airflow", {}).get("dag_id") == dag_id]


@pytest.fixture(scope="module")
def airflow_run(
    airflow_required: None, trace: Path, tmp_path_factory: pytest.TempPathFactory
) -> AirflowRun:
    tmp = tmp_path_factory.mktemp("airflow")
    home, dags, out = tmp / "airflow-home", tmp / "dags", tmp / "out"
    for d in (home, dags, out):
        d.mkdir()
    (dags / "lowcarb_test_dags.py").write_text(DAGS, encoding="utf-8")
    shutil.copy(EXAMPLE, dags / "green_dag.py")  # dag.test() runs DAGs of the DAGs folder
    (tmp / "runner.py").write_text(RUNNER, encoding="utf-8")
    ledger_url, example_url = f"sqlite:///{tmp / 'ledger.db'}", f"sqlite:///{tmp / 'example.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOWCARB_", "AIRFLOW"))}
    env.update(
        HOME=str(tmp),
        XDG_CONFIG_HOME=str(tmp / ".config"),
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_LOWCARB_LEDGER=json.dumps(
            {"conn_type": "generic", "extra": {"ledger_url": ledger_url}}
        ),
        LOWCARB_LEDGER=ledger_url,
        LOWCARB_TEST_LEDGER=ledger_url,
        LOWCARB_TEST_EXAMPLE_LEDGER=example_url,
        LOWCARB_TEST_TRACE=str(trace),
        LOWCARB_TEST_OUT=str(out),
    )
    proc = subprocess.run(
        [sys.executable, str(tmp / "runner.py")],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp,
        env=env,
    )
    output = proc.stdout + proc.stderr
    (tmp / "airflow.log").write_text(output, encoding="utf-8")  # the whole log, for a failure
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, output[-6000:]
    return AirflowRun(json.loads(lines[-1][7:]), output, ledger_url, example_url, out)


def test_the_sensor_defers_until_the_green_window_then_the_measured_task_runs(
    airflow_run: AirflowRun,
) -> None:
    run = airflow_run.result["green_wait"]
    assert run["state"] == "success", airflow_run.output[-6000:]
    assert run["tasks"] == {"green_window": "success", "train": "success"}
    assert run["wall_s"] >= 2.5  # 10:30 -> 13:00 replayed at an hour a second
    (decision,) = airflow_run.records("green_wait", "schedule")
    m = _plain(decision.metadata)
    assert decision.footprint is None
    assert (decision.attribution.team, decision.attribution.project) == ("vision", "detector")
    assert m["source"] == "airflow:GreenWindowSensor"
    assert m["planned_start"] == "2022-03-10T13:00:00Z"
    released = datetime.fromisoformat(m["released_at"])
    assert DIP <= released < DIP + timedelta(minutes=1)  # after the planned start, on time
    assert m["first_plan"]["start"] == "2022-03-10T13:00:00Z"
    assert m["first_plan"]["issued_at"].startswith("2022-03-10T10:30:0")
    assert m["immediate_intensity_g_per_kwh"] == 400.0
    assert m["planned_intensity_g_per_kwh"] == 100.0
    assert m["expected_savings_pct"] == 75.0
    assert m["replans"] == 2 and m["replan_errors"] == []
    assert m["waited_h"] == pytest.approx(2.5, abs=0.05)
    assert m["request"]["deadline"].startswith("2022-03-10T18:30:0")
    assert m["request"]["forecast"]["label"] == "trace:de.csv"
    assert m["clock"]["kind"] == "replay" and m["clock"]["speed"] == 3600.0
    # The decision went to XCom: the measured task received it, and started after the release.
    train = json.loads((airflow_run.out / "train.json").read_text())
    assert train["decision"] == {**m, "record_id": decision.id}
    assert train["started"] >= decision.timestamp.timestamp()
    (record,) = airflow_run.records("green_wait", "run")
    assert record.metadata["airflow"]["task_id"] == "train"
    assert record.metadata["airflow"]["run_id"] == m["airflow"]["run_id"]
    assert record.metadata["airflow"]["try_number"] == 1
    assert record.metadata["phase"] == "execute" and record.metadata["outcome"] == "success"
    assert record.metadata["purpose"] == "test"
    assert record.attribution.model == "resnet" and record.attribution.team == "vision"
    assert record.footprint is not None
    assert record.footprint.measurement.started_at >= decision.timestamp
    (cpu,) = record.footprint.measurement.components
    assert cpu.source == "fake:cpu" and cpu.method == "measured"
    assert cpu.energy_j >= 50.0 * 0.3  # 50 W for at least the task's 0.3 s
    assert record.footprint.intensity.zone == "DE"
    assert record.energy_kwh is not None and record.co2e_g is not None and record.co2e_g > 0


def test_a_window_that_is_now_succeeds_without_deferring(airflow_run: AirflowRun) -> None:
    run = airflow_run.result["green_now"]
    assert run["state"] == "success", airflow_run.output[-6000:]
    (decision,) = airflow_run.records("green_now", "schedule")
    m = decision.metadata
    assert m["planned_start"] == m["first_plan"]["start"] == m["first_plan"]["issued_at"]
    assert m["planned_start"].startswith("2022-03-10T13:10:0")
    assert m["waited_h"] < 0.01 and m["replans"] == 0  # plans keep whole seconds
    assert m["immediate_intensity_g_per_kwh"] == m["planned_intensity_g_per_kwh"] == 100.0


def test_an_impossible_deadline_fails_the_sensor_in_one_line(airflow_run: AirflowRun) -> None:
    run = airflow_run.result["green_impossible"]
    assert run["state"] == "failed"
    assert run["tasks"] == {"green_window": "failed", "never": "upstream_failed"}
    lines = [line for line in airflow_run.output.splitlines() if "leaves 0.50 h" in line]
    assert lines, airflow_run.output[-6000:]
    message = lines[-1][lines[-1].index("green_window: deadline") :]
    assert message.startswith("green_window: deadline 2022-03-10T11:00:0")
    assert message.endswith("but the job takes 1 h; give a later deadline= or a shorter duration=")
    assert "AirflowFailException" in airflow_run.output  # failed for good: no retry
    assert airflow_run.records("green_impossible", "schedule") == []


def test_a_failed_measured_task_is_recorded_as_failed(airflow_run: AirflowRun) -> None:
    run = airflow_run.result["measured_failure"]
    assert run["state"] == "failed" and run["tasks"] == {"boom": "failed"}
    (record,) = airflow_run.records("measured_failure", "run")
    assert record.metadata["outcome"] == "failed"
    assert record.footprint is not None and record.footprint.measurement.duration_s >= 0.1


def test_mistakes_in_a_dag_file_fail_in_one_line(airflow_run: AirflowRun) -> None:
    errors = airflow_run.result["parse_errors"]
    assert errors == {
        "both_sources": (
            "UsageError: give either trace= or provider=, not both (got trace='a.csv', "
            "provider='ukci')"
        ),
        "bad_duration": (
            "InvalidValueError: duration 'soon' is not a duration; use e.g. 90m, 1h30m, 1d12h, "
            "PT1H30M or a number of hours"
        ),
        "speed_without_start": (
            "UsageError: replay_speed=60.0 needs replay_from= (a replay starts at a given time)"
        ),
        "unknown_zone": (
            "AirflowFailException: x: unknown zone 'Atlantis'; did you mean 'AU-TAS'? (run "
            "`lowcarb zones` to list known zones and cloud regions)"
        ),
        "twice": "UsageError: task 'train' is already measured",
        "not_an_operator": (
            "UsageError: measured() takes an Airflow operator or a @task call, got 42"
        ),
    }


def test_poke_checks_the_window_without_waiting(airflow_run: AirflowRun) -> None:
    assert airflow_run.result["poke"] == {"green_wait": False, "green_now": True}


def test_the_trigger_round_trips_through_airflow_serialisation(airflow_run: AirflowRun) -> None:
    assert airflow_run.result["trigger"] == {
        "classpath": "lowcarb.integrations.airflow.GreenWindowTrigger",
        "round_trip": True,
    }


def test_the_example_dag_runs(airflow_run: AirflowRun) -> None:
    text = airflow_run.result["example"]
    assert "dag run success" in text, airflow_run.output[-6000:]
    assert "green window: planned" in text
    assert "measured lowcarb_green_training.train (success)" in text
    with open_ledger(airflow_run.example_ledger_url) as ledger:
        assert ledger.verify().ok
        kinds = sorted(r.kind for r in ledger.records())
    assert kinds == ["run", "schedule"]
