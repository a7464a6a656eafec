"""Retrain decisions, green-window submissions and their ledger records (real stores and trace)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from lowcarb.energy import ComponentEnergy, FakeMeter, Measurement
from lowcarb.errors import ForecastError, LedgerError, UsageError
from lowcarb.governance import GateInput
from lowcarb.grid import (
    Intensity,
    IntensitySeries,
    OracleForecaster,
    TraceIntensitySource,
    load_trace_table,
    price,
)
from lowcarb.jobs import JobStore, Worker, WorkerConfig, open_job_store
from lowcarb.ledger import Attribution, Ledger, RecordDraft, draft_from_footprint, open_ledger
from lowcarb.ledger.testing import sample_draft
from lowcarb.monitoring import (
    DriftReport,
    FeatureDrift,
    PerformanceEstimate,
    drift_share_exceeds,
    unevaluated_rules,
)
from lowcarb.monitoring._policy import RetrainPolicy
from lowcarb.monitoring._policy_yaml import parse_retrain_policy
from lowcarb.monitoring._retrain import LastRetrain, decide_retrain
from lowcarb.monitoring._retrain_io import RetrainMonitor, submit_retrain
from lowcarb.monitoring._retrain_ledger import find_last_retrain, record_check

H = timedelta(hours=1)
T0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)

POLICY = """\
name: churn
retrain:
  drift: {max_drift_share: 0.5, features: [hour, lag_1, temp]}
  performance: {max_drop_pts: 2.0}
  min_gain_pts_per_kwh: 1.0
  cooldown: 7d
  deadline: 24h
  job: {command: [python, train.py], duration: 3h, zone: ES, team: ml, project: churn}
"""


@pytest.fixture(autouse=True)
def _in_tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # job state directories default to $CWD/.lowcarb/jobs


@pytest.fixture(scope="module")
def es_2022(grid_data_dir: Path) -> IntensitySeries:
    """Spain, 2022, hourly LCA intensity (Electricity Maps data portal)."""
    return load_trace_table(grid_data_dir / "em_raw_2021_2023" / "ES_2022_hourly.csv").series("ES")


def _oracle(series: IntensitySeries) -> TraceIntensitySource:
    """Perfect foresight on the real trace, so the best window is known independently."""
    return TraceIntensitySource(series, forecaster=OracleForecaster(series.values_g_per_kwh))


def _report(
    drift: dict[str, bool], *, perf: PerformanceEstimate | None = None, threshold: float = 0.5
) -> DriftReport:
    features = tuple(
        FeatureDrift(name, "numeric", "psi", 0.3 if d else 0.01, 0.2, d)
        for name, d in drift.items()
    )
    share = sum(drift.values()) / len(drift) if drift else 0.0
    return DriftReport(features, share, threshold, share >= threshold, 1000, 500, perf)


def _perf(drop_pts: float, method: str = "cbpe") -> PerformanceEstimate:
    return PerformanceEstimate("accuracy", 0.9 - drop_pts / 100, method, 0.9, 500)  # type: ignore[arg-type]


DRIFTED = {"hour": True, "lag_1": True, "temp": False, "other": True}
QUIET = {"hour": False, "lag_1": True, "temp": False, "other": True}


def _best_start(series: IntensitySeries, now: datetime, *, duration_h: int, latest_h: int) -> int:
    """Hours after ``now`` of the cheapest contiguous window starting within ``latest_h``."""
    i0 = series.index_of(now)
    v = series.values_g_per_kwh
    costs = [v[i0 + k : i0 + k + duration_h].sum() for k in range(latest_h + 1)]
    return int(np.argmin(costs))


# -- the decision (pure) -----------------------------------------------------------------------
def test_no_trigger_does_not_fire_and_says_why() -> None:
    policy = parse_retrain_policy(POLICY)
    d = decide_retrain(_report(QUIET, perf=_perf(1.0)), policy, last_retrain=None, now=T0)
    assert not d.fire and d.status == "no-trigger" and d.triggers == ()
    assert d.drift_share == pytest.approx(1 / 3)  # only the watched features count
    assert d.drifted_features == ("lag_1",)
    assert d.reasons[:2] == (
        "drift: 1 of 3 watched features drifted (33 %): lag_1, within the 50 % allowed",
        "performance: cbpe accuracy dropped 1.00 pts, within the 2 pts allowed",
    )
    assert "no trigger fired: no retrain" in d.reasons


def test_either_trigger_fires() -> None:
    policy = parse_retrain_policy(POLICY)
    by_drift = decide_retrain(_report(DRIFTED), policy, last_retrain=None, now=T0)
    # Drift alone, but no performance figure: the gain is unknown, so the energy rule blocks it.
    assert by_drift.triggers == ("drift",) and by_drift.status == "unknown-gain"
    assert any("expected gain is unknown" in r for r in by_drift.reasons)
    by_perf = decide_retrain(_report(QUIET, perf=_perf(3.0)), policy, last_retrain=None, now=T0)
    assert by_perf.fire and by_perf.triggers == ("performance",)
    assert by_perf.expected_gain_pts == pytest.approx(3.0)
    assert by_perf.reasons[-1] == "retrain: triggered by performance"


def test_the_drift_share_boundary_is_the_checks_rule() -> None:
    """Exactly max_drift_share does not fire, as a check with the same limit is not drift."""
    four = "features: [hour, lag_1, temp, other]"
    policy = parse_retrain_policy(POLICY.replace("features: [hour, lag_1, temp]", four))
    half = {"hour": True, "lag_1": True, "temp": False, "other": False}
    d = decide_retrain(_report(half, perf=_perf(5.0)), policy, last_retrain=None, now=T0)
    assert d.drift_share == 0.5 and "drift" not in d.triggers
    assert d.reasons[0] == (
        "drift: 2 of 4 watched features drifted (50 %): hour, lag_1, within the 50 % allowed"
    )
    assert drift_share_exceeds(2, 4, 0.5) is False and drift_share_exceeds(3, 4, 0.5) is True
    assert drift_share_exceeds(3, 10, 0.3) is False  # 3/10 is the float 0.3: equal, not above
    assert drift_share_exceeds(1, 4, 0.0) is True and drift_share_exceeds(0, 4, 0.0) is False
    more = {**half, "temp": True}
    d = decide_retrain(_report(more, perf=_perf(5.0)), policy, last_retrain=None, now=T0)
    assert "drift" in d.triggers


def test_rules_without_input_are_warned_and_recorded() -> None:
    policy = parse_retrain_policy(POLICY)
    d = decide_retrain(_report(DRIFTED), policy, last_retrain=None, now=T0)
    assert d.warnings == (
        "retrain.performance not evaluated: the check has no performance figure (give the "
        "model's scores with the reference's labels, or the current window's labels)",
        "retrain.min_gain_pts_per_kwh not evaluated: the expected gain is unknown (no "
        "performance figure with a reference accuracy)",
    )
    assert d.to_dict()["warnings"] == list(d.warnings)
    assert unevaluated_rules(_report(DRIFTED), policy) == d.warnings
    # With a figure, the gain is known; the energy is not (no ledger figure, no power_w).
    d = decide_retrain(_report(QUIET, perf=_perf(5.0)), policy, last_retrain=None, now=T0)
    assert d.warnings == (
        "retrain.min_gain_pts_per_kwh not evaluated: the expected energy is unknown (no earlier "
        "retrain in the ledger and no job.power_w)",
    )
    known = LastRetrain(energy_kwh=1.0, energy_method="measured")
    d = decide_retrain(_report(QUIET, perf=_perf(5.0)), policy, last_retrain=known, now=T0)
    assert d.warnings == ()


def test_performance_method_filter() -> None:
    policy = parse_retrain_policy(
        POLICY.replace("max_drop_pts: 2.0", "max_drop_pts: 2.0, method: realised")
    )
    d = decide_retrain(_report(QUIET, perf=_perf(5.0, "cbpe")), policy, last_retrain=None, now=T0)
    assert not d.fire and d.status == "no-trigger"
    assert (
        "performance: the figure is cbpe, the policy watches realised; not evaluated" in d.reasons
    )
    d = decide_retrain(
        _report(QUIET, perf=_perf(5.0, "realised")), policy, last_retrain=None, now=T0
    )
    assert d.fire and d.performance_method == "realised"


def test_cooldown_is_honoured_and_then_over() -> None:
    policy = parse_retrain_policy(POLICY)
    last = LastRetrain(submitted_at=T0 - timedelta(days=2), job_id="abc")
    report = _report(DRIFTED, perf=_perf(5.0))
    d = decide_retrain(report, policy, last_retrain=last, now=T0)
    assert not d.fire and d.status == "cooldown"
    assert d.cooldown_until == T0 + timedelta(days=5)
    assert (
        "cooldown: the last retrain (job abc) was submitted 2022-02-27T09:00:00Z; none before "
        "2022-03-06T09:00:00Z" in d.reasons
    )
    later = decide_retrain(report, policy, last_retrain=last, now=T0 + timedelta(days=5))
    assert later.fire and later.cooldown_until is None
    assert "cooldown: over since 2022-03-06T09:00:00Z" in later.reasons


def test_the_gain_must_justify_the_last_retrains_energy() -> None:
    policy = parse_retrain_policy(
        POLICY.replace("min_gain_pts_per_kwh: 1.0", "min_gain_pts_per_kwh: 5.0")
    )
    last = LastRetrain(
        energy_kwh=2.0, energy_method="measured", energy_source="ledger x", records=1
    )
    small = decide_retrain(_report(DRIFTED, perf=_perf(4.0)), policy, last_retrain=last, now=T0)
    assert not small.fire and small.status == "insufficient-gain"
    assert small.gain_pts_per_kwh == pytest.approx(2.0)
    assert (small.expected_energy_kwh, small.energy_method) == (2.0, "measured")
    assert (
        "energy: expected gain 4.00 pts for 2 kWh (measured) is 2 pts/kWh, below the 5 pts/kWh "
        "required" in small.reasons
    )
    big = decide_retrain(_report(DRIFTED, perf=_perf(12.0)), policy, last_retrain=last, now=T0)
    assert big.fire and big.gain_pts_per_kwh == pytest.approx(6.0)


def test_without_history_the_energy_is_estimated_from_power_or_unknown() -> None:
    text = POLICY.replace("min_gain_pts_per_kwh: 1.0", "min_gain_pts_per_kwh: 5.0")
    report = _report(DRIFTED, perf=_perf(4.0))
    unknown = decide_retrain(report, parse_retrain_policy(text), last_retrain=None, now=T0)
    assert unknown.fire and unknown.expected_energy_kwh is None and unknown.energy_method is None
    assert any("cannot be applied to this first retrain" in r for r in unknown.reasons)
    powered = parse_retrain_policy(text.replace("team: ml", "team: ml, power_w: 500"))
    d = decide_retrain(report, powered, last_retrain=None, now=T0)
    assert d.expected_energy_kwh == pytest.approx(1.5)  # 500 W x 3 h
    assert d.energy_method == "estimated" and "job.power_w 500 W" in (d.energy_source or "")
    assert d.fire is False and d.status == "insufficient-gain"  # 4 pts / 1.5 kWh < 5


def test_a_policy_watching_unknown_features_is_one_line() -> None:
    policy = parse_retrain_policy(POLICY, source="monitor.yaml")
    with pytest.raises(UsageError) as info:
        decide_retrain(_report({"hour": True, "lag1": False}), policy, last_retrain=None, now=T0)
    assert str(info.value) == (
        "monitor.yaml: retrain.drift.features names unknown feature(s) 'lag_1', 'temp' (did you "
        "mean 'lag1'?); the data has columns: hour, lag1; fix the policy's feature list or the data"
    )


# -- submitting, recording, end to end ---------------------------------------------------------
def _monitor(
    policy: RetrainPolicy, ledger: Ledger, store: JobStore, series: IntensitySeries
) -> RetrainMonitor:
    inputs = [
        GateInput("reference", "ref.parquet", "a" * 64),
        GateInput("current", "cur.parquet", "b" * 64),
    ]
    return RetrainMonitor(policy, ledger=ledger, store=store, source=_oracle(series), inputs=inputs)


def _check_planned_window(
    job_dict: dict[str, object], series: IntensitySeries, now: datetime
) -> None:
    k = _best_start(series, now, duration_h=3, latest_h=24)
    assert job_dict["planned_start"] == (now + k * H).strftime("%Y-%m-%dT%H:%M:%SZ")
    i0 = series.index_of(now)
    v = series.values_g_per_kwh
    assert job_dict["expected_intensity_g_per_kwh"] == pytest.approx(v[i0 + k : i0 + k + 3].mean())
    assert job_dict["now_intensity_g_per_kwh"] == pytest.approx(v[i0 : i0 + 3].mean())


def test_a_fired_check_queues_the_greenest_window_and_records_everything(
    sqlite_url: str, es_2022: IntensitySeries
) -> None:
    policy = parse_retrain_policy(POLICY, source="monitor.yaml")
    with (
        open_ledger(sqlite_url, environ={}) as ledger,
        open_job_store(sqlite_url, environ={}) as store,
    ):
        monitor = _monitor(policy, ledger, store, es_2022)
        out = monitor(_report(DRIFTED, perf=_perf(5.0)), now=T0)
        assert out.decision.fire and out.job is not None
        job = store.get(out.job.id)
        k = _best_start(es_2022, T0, duration_h=3, latest_h=24)
        assert k > 0  # the real trace has a cleaner window later that day
        assert job.planned_start == T0 + k * H == out.job.planned_start
        assert job.state == "queued" and job.command == ("python", "train.py")
        assert (job.team, job.project, job.zones) == ("ml", "churn", ("ES",))
        assert job.deadline == T0 + 27 * H  # must start within 24 h: finish by now + 24 h + 3 h
        assert job.plan is not None and job.plan["forecast_model"] == "forecast:oracle"
        assert out.job.expected_intensity_g_per_kwh < out.job.now_intensity_g_per_kwh
        _check_planned_window(out.job.to_dict(), es_2022, T0)

        records = list(ledger.records())
        assert [(r.kind, r.attribution.stage) for r in records] == [
            ("decision", "drift-check"),
            ("decision", "retrain"),
            ("schedule", "retrain"),
        ]
        assert [r.id for r in records] == list(out.record_ids)
        assert len({r.metadata["check_id"] for r in records}) == 1
        check, decision, scheduled = records
        assert check.metadata["drift"]["drifted_features"] == ("hour", "lag_1", "other")
        assert check.metadata["inputs"]["current"] == {
            "location": "cur.parquet",
            "sha256": "b" * 64,
        }
        assert check.metadata["policy"] == policy.to_dict()
        assert decision.metadata["retrain"]["fire"] is True
        assert decision.metadata["retrain"]["triggers"] == ("drift", "performance")
        assert scheduled.metadata["job"]["id"] == job.id
        _check_planned_window(dict(scheduled.metadata["job"]), es_2022, T0)
        assert all(r.footprint is None for r in records)
        assert ledger.verify().ok

        # A day later the drift persists: the cooldown holds, and the reason is recorded.
        again = monitor(_report(DRIFTED, perf=_perf(5.0)), now=T0 + 24 * H)
        assert not again.decision.fire and again.decision.status == "cooldown" and again.job is None
        assert again.decision.cooldown_until == T0 + timedelta(days=7)
        kinds = [(r.kind, r.attribution.stage) for r in ledger.records()][3:]
        assert kinds == [("decision", "drift-check"), ("decision", "retrain")]
        last_decision = list(ledger.records())[-1].metadata["retrain"]
        assert last_decision["status"] == "cooldown"
        assert any(
            r.startswith("cooldown: the last retrain (job ") for r in last_decision["reasons"]
        )
        assert len(store.list_jobs()) == 1


def test_a_quiet_check_records_its_reason(sqlite_url: str, es_2022: IntensitySeries) -> None:
    policy = parse_retrain_policy(POLICY)
    with (
        open_ledger(sqlite_url, environ={}) as ledger,
        open_job_store(sqlite_url, environ={}) as store,
    ):
        out = _monitor(policy, ledger, store, es_2022)(_report(QUIET, perf=_perf(0.5)), now=T0)
        assert out.job is None and store.list_jobs() == []
        check, decision = ledger.records()
        assert (
            check.attribution.stage == "drift-check"
            and check.metadata["drift"]["drift_share"] == 0.5
        )
        assert decision.metadata["retrain"]["status"] == "no-trigger"
        assert "no trigger fired: no retrain" in decision.metadata["retrain"]["reasons"]
        assert out.to_dict()["retrain"]["fire"] is False
        # The rule that could not be evaluated is in the recorded decision.
        assert list(decision.metadata["retrain"]["warnings"]) == [
            "retrain.min_gain_pts_per_kwh not evaluated: the expected energy is unknown (no "
            "earlier retrain in the ledger and no job.power_w)"
        ]


def test_the_worker_runs_it_at_the_planned_hour_and_its_energy_feeds_the_next_decision(
    sqlite_url: str, es_2022: IntensitySeries, tmp_path: Path
) -> None:
    marker = tmp_path / "trained.txt"
    text = POLICY.replace(
        "command: [python, train.py]",
        f"command: [{sys.executable!r}, -c, \"open({str(marker)!r}, 'w').write('ok')\"]",
    ).replace("team: ml", f"team: ml, cwd: {str(tmp_path)!r}")
    policy = parse_retrain_policy(text)
    now = [T0]
    with (
        open_ledger(sqlite_url, environ={}) as ledger,
        open_job_store(sqlite_url, environ={}) as store,
    ):
        out = _monitor(policy, ledger, store, es_2022)(_report(DRIFTED, perf=_perf(5.0)), now=T0)
        assert out.job is not None
        worker = Worker(
            store,
            _oracle(es_2022),
            ledger_url=sqlite_url,
            clock=lambda: now[0],
            environ={},
            config=WorkerConfig(grace_s=10),
            meters=[FakeMeter(power_w={"cpu": 100.0})],
        )
        now[0] = out.job.planned_start - timedelta(minutes=1)
        worker.tick()
        assert store.get(out.job.id).state == "queued" and not marker.exists()  # not before
        now[0] = out.job.planned_start
        _wait(worker, lambda: store.get(out.job.id).state == "succeeded")  # type: ignore[union-attr]
        assert marker.read_text() == "ok"
        assert store.get(out.job.id).started_at == out.job.planned_start

        last = find_last_retrain(ledger, policy)
        assert last.job_id == out.job.id and last.submitted_at == T0
        assert last.records == 1 and last.energy_method == "measured"
        (run,) = [r for r in ledger.records() if r.kind == "run"]
        assert last.energy_kwh == pytest.approx(run.energy_kwh) and last.energy_kwh > 0
        assert (
            last.energy_source is not None
            and f"job {out.job.id}, 1 run record(s)" in last.energy_source
        )
        d = decide_retrain(
            _report(DRIFTED, perf=_perf(5.0)), policy, last_retrain=last, now=T0 + 8 * 24 * H
        )
        assert d.fire and d.energy_method == "measured"
        assert d.expected_energy_kwh == pytest.approx(run.energy_kwh)


def _wait(worker: Worker, cond: Callable[[], bool], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        worker.tick()
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_last_retrain_from_hand_started_runs_with_corrections(sqlite_url: str) -> None:
    policy = parse_retrain_policy(POLICY)
    command = {"command": ["python", "train.py"]}
    with open_ledger(sqlite_url, environ={}) as ledger:
        assert find_last_retrain(ledger, policy) == LastRetrain()
        ledger.append(sample_draft(team="ml", project="churn", metadata=command))  # 3.6 kWh
        ledger.append(sample_draft(team="ml", project="other", metadata=command))  # not ours
        ledger.append(sample_draft(team="ml", project="churn", metadata={"command": ["x"]}))
        newest = ledger.append(sample_draft(team="ml", project="churn", metadata=command))
        last = find_last_retrain(ledger, policy)
        assert last.energy_kwh == pytest.approx(3.6) and last.energy_method == "measured"
        assert last.submitted_at is None and last.records == 1
        assert f"run {newest.id}" in (last.energy_source or "")
        # A correction with an estimated figure replaces it (and makes the figure estimated).
        m = Measurement("run", T0, 60.0, (ComponentEnergy("cpu", 1.8e6, "estimated", "model:cpu"),))
        fixed = draft_from_footprint(
            price(m, intensity=Intensity("ES", 100.0, "t")),
            attribution=Attribution(team="ml", project="churn"),
            metadata=command,
        )
        ledger.correct(newest.id, fixed, reason="meter double-counted")
        last = find_last_retrain(ledger, policy)
        assert last.energy_kwh == pytest.approx(0.5) and last.energy_method == "estimated"


def test_submit_refuses_a_decision_that_did_not_fire(
    sqlite_url: str, es_2022: IntensitySeries
) -> None:
    policy = parse_retrain_policy(POLICY)
    d = decide_retrain(_report(QUIET), policy, last_retrain=None, now=T0)
    with open_job_store(sqlite_url, environ={}) as store, pytest.raises(UsageError) as info:
        submit_retrain(d, policy, store=store, source=_oracle(es_2022), now=T0)
    assert (
        str(info.value)
        == "the retrain decision did not fire (no-trigger); there is nothing to submit"
    )


def test_a_ledger_that_refuses_leaves_no_unrecorded_job(
    tmp_path: Path, es_2022: IntensitySeries
) -> None:
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    open_ledger(ledger_url, environ={}).close()
    policy = parse_retrain_policy(POLICY)
    jobs_url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with (
        open_ledger(ledger_url, environ={}, read_only=True) as ledger,
        open_job_store(jobs_url, environ={}) as store,
    ):
        with pytest.raises(LedgerError, match="read-only"):
            _monitor(policy, ledger, store, es_2022)(_report(DRIFTED, perf=_perf(5.0)), now=T0)
        (job,) = store.list_jobs()
        assert job.state == "cancelled"


def test_a_failed_plan_is_recorded_then_raised(sqlite_url: str, es_2022: IntensitySeries) -> None:
    policy = parse_retrain_policy(POLICY)
    short = es_2022.between(es_2022.start, T0)  # the trace ends at T0: no future to plan on
    with (
        open_ledger(sqlite_url, environ={}) as ledger,
        open_job_store(sqlite_url, environ={}) as store,
    ):
        monitor = RetrainMonitor(
            policy, ledger=ledger, store=store, source=_oracle(short), on_forecast_error="raise"
        )
        with pytest.raises(ForecastError, match="past the end of the series"):
            monitor(_report(DRIFTED, perf=_perf(5.0)), now=T0)
        assert store.list_jobs() == []
        check, decision = ledger.records()
        assert check.metadata["check_id"] == decision.metadata["check_id"]
        assert decision.metadata["retrain"]["fire"] is True
        assert "past the end of the series" in decision.metadata["job_error"]


def test_big_reports_are_still_recorded(sqlite_url: str) -> None:
    policy = parse_retrain_policy(POLICY.replace(", features: [hour, lag_1, temp]", ""))
    drift = {f"feature_{i:04d}_" + "x" * 300: i % 2 == 0 for i in range(3000)}
    report = _report(drift, perf=_perf(5.0))
    d = decide_retrain(report, policy, last_retrain=None, now=T0)
    with open_ledger(sqlite_url, environ={}) as ledger:
        check, decision = record_check(ledger, report, d, policy=policy)
    assert check.metadata["drift"]["features_total"] == 3000
    assert len(check.metadata["drift"]["features"]) == 100
    assert all(f["drift"] for f in check.metadata["drift"]["features"])  # drifted ones first
    assert decision.metadata["retrain"]["drifted_features_total"] == 1500


@pytest.mark.postgres
def test_on_postgresql(postgres_url: str, es_2022: IntensitySeries) -> None:
    policy = parse_retrain_policy(POLICY)
    with (
        open_ledger(postgres_url, environ={}) as ledger,
        open_job_store(postgres_url, environ={}) as store,
    ):
        monitor = _monitor(policy, ledger, store, es_2022)
        out = monitor(_report(DRIFTED, perf=_perf(5.0)), now=T0)
        assert out.job is not None
        assert (
            store.get(out.job.id).planned_start
            == T0 + _best_start(es_2022, T0, duration_h=3, latest_h=24) * H
        )
        assert [r.kind for r in ledger.records()] == ["decision", "decision", "schedule"]
        assert find_last_retrain(ledger, policy).job_id == out.job.id
        assert monitor(_report(DRIFTED, perf=_perf(5.0)), now=T0 + H).decision.status == "cooldown"
        assert ledger.verify().ok


def test_a_decision_record_is_plain_json() -> None:
    d = decide_retrain(
        _report(DRIFTED, perf=_perf(5.0)), parse_retrain_policy(POLICY), last_retrain=None, now=T0
    )
    RecordDraft(kind="decision", metadata=d.to_dict())  # finite numbers and plain types only
    assert d.to_dict()["decided_at"] == "2022-03-01T09:00:00Z"
