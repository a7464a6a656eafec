"""`lowcarb submit`, `lowcarb worker`, `lowcarb jobs`: the queue from a shell."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.ledger import open_ledger

NOW = "2022-03-01T10:00:00Z"


def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    ctx = CliContext(stdout=StringIO(), stderr=StringIO(), environ=env)
    code = main(list(args), ctx=ctx)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue()  # type: ignore[attr-defined]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # jobs keep state under $CWD/.lowcarb/jobs: not in the checkout
    return {"LOWCARB_LEDGER": f"sqlite:///{tmp_path / 'ledger.db'}", "HOME": str(tmp_path)}


def _trace(path: Path) -> Path:
    """Three days of DE: 400 g/kWh, 100 at 13:00 UTC on 2022-03-01."""
    start = datetime(2022, 2, 27, tzinfo=UTC)
    lines = ["datetime_utc,DE"]
    for i in range(72):
        t = start + timedelta(hours=i)
        value = 100.0 if t == datetime(2022, 3, 1, 13, tzinfo=UTC) else 400.0
        lines.append(f"{t.isoformat()},{value}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_submit_and_list(env: dict[str, str], tmp_path: Path) -> None:
    code, out, err = _cli(
        env,
        "submit",
        "--now",
        NOW,
        "--deadline",
        "8h",
        "--duration",
        "2h",
        "--zone",
        "DE",
        "--interruptible",
        "--json",
        "--",
        "echo",
        "hi",
    )
    assert code == 0, err
    job = json.loads(out)
    assert job["state"] == "queued" and job["command"] == ["echo", "hi"]
    assert job["deadline"] == "2022-03-01T18:00:00Z" and job["interruptible"] is True
    code, out, _ = _cli(env, "jobs", "--json")
    assert code == 0 and [j["id"] for j in json.loads(out)["jobs"]] == [job["id"]]
    code, out, _ = _cli(env, "jobs")
    assert code == 0 and job["id"] in out and "queued" in out
    code, out, err = _cli(env, "jobs", "--cancel", job["id"], "--json")
    assert code == 0, err
    assert json.loads(out)["jobs"][0]["state"] == "cancelled"
    code, _, err = _cli(env, "jobs", "--cancel", job["id"])
    assert code == 2 and "only queued or paused" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--deadline", "8h", "--zone", "DE"], "no command given"),
        (
            ["--deadline", "2022-02-01T00:00Z", "--duration", "1h", "--zone", "DE", "--", "true"],
            "is not after now",
        ),
        (["--deadline", "1h", "--duration", "2h", "--zone", "DE", "--", "true"], "leaves 1.00 h"),
        (["--deadline", "8h", "--zone", "Mars", "--", "true"], "unknown zone 'Mars'"),
        (["--deadline", "8h", "--", "true"], "give --zone"),
        (
            ["--deadline", "tomorrow", "--duration", "1h", "--zone", "DE", "--", "true"],
            "not an ISO 8601 time",
        ),
    ],
)
def test_submit_bad_input(env: dict[str, str], args: list[str], message: str) -> None:
    code, out, err = _cli(env, "submit", "--now", NOW, *args)
    assert code == 2 and out == ""
    assert message in err and err.startswith("lowcarb: error: ")


def test_worker_replays_a_trace_runs_the_job_at_the_clean_hour(
    env: dict[str, str], tmp_path: Path
) -> None:
    trace = _trace(tmp_path / "de.csv")
    marker = tmp_path / "ran.txt"
    code, out, err = _cli(
        env,
        "submit",
        "--now",
        NOW,
        "--deadline",
        "6h",
        "--duration",
        "1h",
        "--zone",
        "DE",
        "--json",
        "--",
        sys.executable,
        "-c",
        f"open({str(marker)!r}, 'w').write('ok')",
    )
    assert code == 0, err
    job_id = json.loads(out)["id"]
    # Hours pass 1800x faster than real time: 13:00 comes ~6 s after 10:00.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lowcarb.cli",
            "worker",
            "--trace",
            str(trace),
            "--model",
            "seasonal-naive",
            "--now",
            NOW,
            "--speed",
            "1800",
            "--until-idle",
            "--poll",
            "30m",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, **env},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["stopped_by_signal"] is False
    assert marker.read_text() == "ok"
    code, out, _ = _cli(env, "jobs", "--json")
    job = json.loads(out)["jobs"][0]
    assert job["id"] == job_id and job["state"] == "succeeded" and job["exit_code"] == 0
    # Seasonal-naive on a trace whose clean hour is only on this day plans nothing special,
    # but the plan always finishes by the deadline and is recorded with the run.
    assert job["plan"]["end"] <= "2022-03-01T16:00:00Z"
    with open_ledger(env["LOWCARB_LEDGER"], environ={}) as ledger:
        records = [r for r in ledger.records() if r.metadata.get("job_id") == job_id]
    assert len(records) == 1
    assert records[0].metadata["planned_intensity_g_per_kwh"] is not None
    assert records[0].metadata["realised_intensity_g_per_kwh"] in (100.0, 400.0)


CHECKPOINTING = r"""
import os, pathlib, signal, sys, time
ck = pathlib.Path(os.environ["LOWCARB_CHECKPOINT_DIR"]) / "step"
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
n = int(ck.read_text()) if ck.exists() else 0
while not stop:
    time.sleep(0.01)
    n += 1
ck.write_text(str(n))
sys.exit(75)
"""


def test_sigterm_to_the_worker_pauses_interruptible_jobs(
    env: dict[str, str], tmp_path: Path
) -> None:
    trace = _trace(tmp_path / "de.csv")
    script = tmp_path / "train.py"
    script.write_text(CHECKPOINTING)
    code, out, err = _cli(
        env,
        "submit",
        "--now",
        NOW,
        "--deadline",
        "3h",
        "--duration",
        "3h",
        "--zone",
        "DE",
        "--interruptible",
        "--json",
        "--",
        sys.executable,
        str(script),
    )
    assert code == 0, err
    job_id = json.loads(out)["id"]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lowcarb.cli",
            "worker",
            "--trace",
            str(trace),
            "--now",
            NOW,
            "--poll",
            "1s",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **env},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = json.loads(_cli(env, "jobs", "--json")[1])["jobs"][0]
            if job["child_pid"] is not None:
                break
            time.sleep(0.2)
        assert job["state"] == "running", job
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert json.loads(stdout)["stopped_by_signal"] is True
    job = json.loads(_cli(env, "jobs", "--json")[1])["jobs"][0]
    assert job["id"] == job_id and job["state"] == "paused"
    assert int((Path(job["state_dir"]) / "checkpoint" / "step").read_text()) > 0


def _bad_ledgers(tmp_path: Path) -> dict[str, str]:
    fifo = tmp_path / "fifo.db"
    os.mkfifo(fifo)
    (tmp_path / "dir.db").mkdir()
    return {
        "postgres-scheme": "postgres://postgres@127.0.0.1/lowcarb",
        "typo-dialect": f"sqlte:///{tmp_path / 'x.db'}",
        "in-memory": "sqlite://",
        "one-slash": "sqlite:/x.db",
        "unreachable": "postgresql+psycopg://postgres@127.0.0.1:1/lowcarb",
        "fifo": f"sqlite:///{fifo}",
        "directory": f"sqlite:///{tmp_path / 'dir.db'}",
    }


BAD_LEDGERS = [
    "postgres-scheme",
    "typo-dialect",
    "in-memory",
    "one-slash",
    "unreachable",
    "fifo",
    "directory",
]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("kind", BAD_LEDGERS)
@pytest.mark.parametrize("command", ["submit", "worker"])
def test_a_bad_ledger_fails_before_acting(
    env: dict[str, str], tmp_path: Path, kind: str, command: str
) -> None:
    url = _bad_ledgers(tmp_path)[kind]
    marker = tmp_path / "ran.txt"
    before = _tree(tmp_path)
    args = (
        [
            "submit",
            "--now",
            NOW,
            "--deadline",
            "2h",
            "--duration",
            "1h",
            "--zone",
            "DE",
            "--ledger",
            url,
            "--",
            sys.executable,
            "-c",
            f"open({str(marker)!r}, 'w')",
        ]
        if command == "submit"
        else ["worker", "--ledger", url, "--once"]
    )
    code, out, err = _cli(env, *args)
    assert code == 2 and out == ""
    assert err.startswith("lowcarb: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert _tree(tmp_path) == before  # nothing run, nothing written


def test_the_ledger_setting_of_the_config_file_is_used(env: dict[str, str], tmp_path: Path) -> None:
    del env["LOWCARB_LEDGER"]
    (tmp_path / "lowcarb.toml").write_text(f'ledger = "sqlite:///{tmp_path / "cfg.db"}"\n')
    code, _, err = _cli(
        env,
        "submit",
        "--now",
        NOW,
        "--deadline",
        "2h",
        "--duration",
        "1h",
        "--zone",
        "DE",
        "--",
        "true",
    )
    assert code == 0, err
    assert (tmp_path / "cfg.db").exists() and not (tmp_path / ".lowcarb" / "ledger.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--now", NOW, "--speed", "nan"], "--speed must be a number > 0"),
        (["--now", NOW, "--speed", "inf"], "--speed must be a number > 0"),
        (["--now", NOW, "--speed", "1e12"], "--speed must be a number > 0"),
        (["--now", NOW, "--speed", "0"], "--speed must be a number > 0"),
        (["--speed", "10"], "--speed needs --now"),
        (["--poll", "1e9h"], "--poll"),
        (["--poll", "nan"], "--poll"),
        (["--grace", "2d"], "--grace"),
        (["--grace=-5s"], "--grace"),
        (["--now", "2022-03-01T10:00"], "--now"),
    ],
)
def test_worker_bounds_every_number(
    env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    before = _tree(tmp_path)
    code, out, err = _cli(env, "worker", "--once", *args)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert _tree(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--deadline", "2199-01-01T00:00Z"], "at most 366 days ahead"),
        (["--deadline", "1000000000h"], "--deadline"),
        (["--deadline", "nan"], "--deadline"),
        (["--deadline", "8h", "--duration", "1e300h"], "--duration"),
        (["--deadline", "8h", "--min-chunk", "inf"], "--min-chunk"),
        (["--deadline", "8h", "--team", "ops\x1b[31m"], "--team"),
        (["--deadline", "8h", "--power-w", "1e300"], "power must be a number >= 0 and <="),
        (["--deadline", "8h", "--power-w", "nan"], "power must be a number >= 0"),
        (["--deadline", "8h", "--project", "p" * 500], "--project"),
    ],
)
def test_submit_bounds_and_names(
    env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    before = _tree(tmp_path)
    code, out, err = _cli(env, "submit", "--now", NOW, "--zone", "DE", *args, "--", "true")
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert _tree(tmp_path) == before


@pytest.mark.parametrize(
    "args",
    [["worker", "--once", "--max-parallel", "99999999999"], ["jobs", "--state", "bogus"]],
)
def test_flags_with_a_fixed_range_refuse_others(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, out, err = _cli(env, *args)
    err += capsys.readouterr().err  # argparse writes its usage errors to the process's stderr
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and args[-2] in err and "Traceback" not in err


def test_jobs_shows_markup_in_a_command_as_text(env: dict[str, str]) -> None:
    code, _, err = _cli(
        env,
        "submit",
        "--now",
        NOW,
        "--deadline",
        "8h",
        "--duration",
        "1h",
        "--zone",
        "DE",
        "--",
        "echo",
        "[bold red]OK[/]\x1b[2J",
    )
    assert code == 0, err
    code, out, err = _cli(env, "jobs")
    assert code == 0, err
    assert "[bold red]OK[/]" in out and "\x1b" not in out


IGNORES_SIGTERM = (
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)\n"
)


def test_a_second_sigterm_to_the_worker_ends_its_jobs_and_records_them(
    env: dict[str, str], tmp_path: Path, ledger_url: str
) -> None:
    env["LOWCARB_LEDGER"] = ledger_url
    code, out, err = _cli(
        env,
        "submit",
        "--now",
        NOW,
        "--deadline",
        "1h",
        "--duration",
        "1h",
        "--zone",
        "DE",
        "--json",
        "--",
        sys.executable,
        "-c",
        IGNORES_SIGTERM,
    )
    assert code == 0, err
    job_id = json.loads(out)["id"]
    # The grace period is far longer than the test may take: only a second SIGTERM ends it.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lowcarb.cli",
            "worker",
            "--now",
            NOW,
            "--poll",
            "1s",
            "--grace",
            "10m",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **env},
    )
    try:
        end = time.monotonic() + 60
        job = json.loads(_cli(env, "jobs", "--json")[1])["jobs"][0]
        while job["child_pid"] is None and time.monotonic() < end:
            time.sleep(0.2)
            job = json.loads(_cli(env, "jobs", "--json")[1])["jobs"][0]
        assert job["state"] == "running", job
        wrapper = int(job["child_pid"])
        # Re-sent until the worker exits: two signals sent at once may be merged into one. Not
        # faster than a loaded machine ends the jobs and exits after the second: a third, once
        # the worker has put its own handlers back, would kill it with SIGTERM's default action.
        sent = 0
        while proc.poll() is None and time.monotonic() < end:
            proc.send_signal(signal.SIGTERM)
            sent += 1
            try:
                proc.wait(1.0 if sent < 2 else 10.0)
            except subprocess.TimeoutExpired:
                continue
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert json.loads(stdout)["stopped_by_signal"] is True
    job = json.loads(_cli(env, "jobs", "--json")[1])["jobs"][0]
    assert job["id"] == job_id and job["state"] == "failed", job
    assert job["exit_code"] == 128 + signal.SIGKILL and "interrupted" in job["note"]
    with pytest.raises(ProcessLookupError):
        os.kill(wrapper, 0)  # the job's process is gone, not orphaned
    with open_ledger(env["LOWCARB_LEDGER"], environ={}) as ledger:
        records = [r for r in ledger.records() if r.metadata.get("job_id") == job_id]
    assert len(records) == 1


def test_a_first_sigterm_lets_running_jobs_finish_within_the_grace_period(
    env: dict[str, str], tmp_path: Path, ledger_url: str
) -> None:
    env["LOWCARB_LEDGER"] = ledger_url
    gate = tmp_path / "gate"
    body = (
        "import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.05)\n"
    )
    code, out, err = _cli(
        env,
        "submit",
        "--now",
        NOW,
        "--deadline",
        "1h",
        "--duration",
        "1h",
        "--zone",
        "DE",
        "--json",
        "--",
        sys.executable,
        "-c",
        body,
    )
    assert code == 0, err
    job_id = json.loads(out)["id"]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lowcarb.cli",
            "worker",
            "--now",
            NOW,
            "--poll",
            "1s",
            "--grace",
            "10m",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **env},
    )
    try:
        end = time.monotonic() + 60
        job = json.loads(_cli(env, "jobs", "--json")[1])["jobs"][0]
        while job["child_pid"] is None and time.monotonic() < end:
            time.sleep(0.2)
            job = json.loads(_cli(env, "jobs", "--json")[1])["jobs"][0]
        assert job["state"] == "running", job
        proc.send_signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(1.0)  # it waits for its job instead of exiting or killing it
        gate.write_text("go")
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert json.loads(stdout)["stopped_by_signal"] is True
    job = json.loads(_cli(env, "jobs", "--json")[1])["jobs"][0]
    assert job["id"] == job_id and job["state"] == "succeeded" and job["exit_code"] == 0
    with open_ledger(ledger_url, environ={}) as ledger:
        assert sum(r.metadata.get("job_id") == job_id for r in ledger.records()) == 1
