"""`lowcarb run`: the DESIGN.md contract, exit codes, signals, CodeCarbon CSV, bad input."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

LOWCARB = [sys.executable, "-m", "lowcarb.cli"]
CONTRACT_KEYS = {
    "duration_s",
    "energy_kwh",
    "co2e_g",
    "zone",
    "intensity_g_per_kwh",
    "intensity_source",
    "pue",
    "exit_code",
    "components",
}
BURN = "import time\nt=time.process_time()\nwhile time.process_time()-t<0.4: pass\n"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOWCARB_")}
    env.update({"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}, **extra)
    return env


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOWCARB, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path, **env),
        timeout=120,
    )


def test_json_has_contract_keys_and_labelled_components(tmp_path: Path) -> None:
    proc = _run(
        tmp_path,
        "run",
        "--zone",
        "DE",
        "--pue",
        "1.2",
        "--json",
        "--",
        sys.executable,
        "-c",
        BURN + "print('hello from the command')",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # exactly one JSON object: the command's stdout went to stderr
    assert "hello from the command" in proc.stderr
    assert set(out) >= CONTRACT_KEYS
    assert out["zone"] == "DE" and out["pue"] == 1.2 and out["exit_code"] == 0
    assert out["components"], "at least one component"
    for c in out["components"]:
        assert c["method"] in {"measured", "estimated"}
        assert c["source"]
        assert c["energy_kwh"] >= 0
    assert out["energy_kwh"] > 0
    assert out["energy_kwh"] == pytest.approx(1.2 * sum(c["energy_kwh"] for c in out["components"]))
    assert out["co2e_g"] == pytest.approx(out["energy_kwh"] * out["intensity_g_per_kwh"])
    assert out["duration_s"] >= 0.4


def test_exit_code_is_kept_and_returned(tmp_path: Path) -> None:
    proc = _run(
        tmp_path, "run", "--zone", "FR", "--json", "--", sys.executable, "-c", "raise SystemExit(7)"
    )
    assert proc.returncode == 7
    assert json.loads(proc.stdout)["exit_code"] == 7


def test_busier_command_costs_more_energy(tmp_path: Path) -> None:
    idle = _run(
        tmp_path,
        "run",
        "--zone",
        "DE",
        "--json",
        "--",
        sys.executable,
        "-c",
        "import time; time.sleep(0.4)",
    )
    busy = _run(tmp_path, "run", "--zone", "DE", "--json", "--", sys.executable, "-c", BURN)
    e_idle = json.loads(idle.stdout)["energy_kwh"]
    e_busy = json.loads(busy.stdout)["energy_kwh"]
    assert e_busy > e_idle


def test_no_zone_uses_labelled_world_average(tmp_path: Path) -> None:
    proc = _run(tmp_path, "run", "--json", "--", sys.executable, "-c", "pass")
    out = json.loads(proc.stdout)
    assert out["zone"] == "WORLD"
    assert "no zone" in out["intensity_note"]


def test_zone_from_environment_and_config_file(tmp_path: Path) -> None:
    out = json.loads(
        _run(
            tmp_path, "run", "--json", "--", sys.executable, "-c", "pass", LOWCARB_ZONE="FR"
        ).stdout
    )
    assert out["zone"] == "FR"
    (tmp_path / "lowcarb.toml").write_text('zone = "SE-SE1"\npue = 1.5\n')
    out = json.loads(_run(tmp_path, "run", "--json", "--", sys.executable, "-c", "pass").stdout)
    assert out["zone"] == "SE-SE1" and out["pue"] == 1.5


def test_sigterm_is_forwarded_and_still_reports(tmp_path: Path) -> None:
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [*LOWCARB, "run", "--zone", "DE", "--json", "--", sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert proc.stderr is not None
    assert proc.stderr.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 42
    assert json.loads(stdout)["exit_code"] == 42


def test_second_sigterm_kills_a_command_that_ignores_the_first(tmp_path: Path) -> None:
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)'])\n"
        "open('child.pid', 'w').write(str(child.pid))\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen(
        [*LOWCARB, "run", "--zone", "DE", "--json", "--", sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert proc.stderr is not None
    assert proc.stderr.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)  # ignored by the command...
    proc.send_signal(signal.SIGTERM)  # ...so the second one kills its whole tree
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGKILL
    assert json.loads(stdout)["exit_code"] == 128 + signal.SIGKILL
    child = int((tmp_path / "child.pid").read_text())
    import psutil

    def gone() -> bool:
        try:
            return psutil.Process(child).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    deadline = time.monotonic() + 10
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(), "the command's child (which also ignores SIGTERM) survived"


def test_grace_period_after_one_sigterm_is_a_flag(tmp_path: Path) -> None:
    script = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen(
        [
            *LOWCARB,
            "run",
            "--zone",
            "DE",
            "--grace",
            "0.5s",
            "--json",
            "--",
            sys.executable,
            "-c",
            script,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert proc.stderr is not None
    assert proc.stderr.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)  # ignored by the command: the grace period ends it
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGKILL
    assert json.loads(stdout)["exit_code"] == 128 + signal.SIGKILL


def test_ctrl_c_to_process_group_reports_and_returns_130(tmp_path: Path) -> None:
    script = "import time\nprint('ready', flush=True)\ntime.sleep(60)\n"
    proc = subprocess.Popen(
        [*LOWCARB, "run", "--zone", "DE", "--json", "--", sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path),
        start_new_session=True,
        # As from a terminal: a suite started in the background (`cmd &` in a shell without job
        # control) runs with SIGINT ignored, which lowcarb and its command would inherit.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    assert proc.stderr.readline().strip() == "ready"
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    stdout, stderr = proc.communicate(timeout=60)
    out = json.loads(stdout)
    # Python re-raises SIGINT at exit after a KeyboardInterrupt: 128 + 2.
    assert out["exit_code"] == 130 and proc.returncode == 130, stderr


def test_codecarbon_csv_is_written_and_appended(tmp_path: Path) -> None:
    for _ in range(2):
        proc = _run(
            tmp_path,
            "run",
            "--zone",
            "DE",
            "--emissions-csv",
            "emissions.csv",
            "--",
            sys.executable,
            "-c",
            "sum(range(3_000_000))",  # some CPU: a bare `pass` can take under one clock tick
        )
        assert proc.returncode == 0, proc.stderr
    with (tmp_path / "emissions.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2
    from codecarbon.output_methods.emissions_data import EmissionsData

    assert list(rows[0]) == list(EmissionsData.__dataclass_fields__)
    assert float(rows[0]["emissions"]) > 0 and rows[0]["country_iso_code"] == "DEU"


def test_foreign_csv_is_not_touched(tmp_path: Path) -> None:
    target = tmp_path / "emissions.csv"
    target.write_text("a,b\n1,2\n")
    proc = _run(
        tmp_path,
        "run",
        "--zone",
        "DE",
        "--emissions-csv",
        str(target),
        "--",
        sys.executable,
        "-c",
        "pass",
    )
    assert proc.returncode == 2
    assert target.read_text() == "a,b\n1,2\n"


def test_table_output_goes_to_stderr(tmp_path: Path) -> None:
    proc = _run(tmp_path, "run", "--zone", "DE", "--", sys.executable, "-c", "print('out')")
    assert proc.returncode == 0
    assert proc.stdout == "out\n"
    assert "gCO2e" in proc.stderr and "estimated" in proc.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["run", "--zone", "DE"], 2, "no command given"),
        (["run", "--zone", "DE", "--", "no-such-command-xyz"], 127, "command not found"),
        (["run", "--zone", "DE", "--", "./"], 126, "not executable"),
        (["run", "--zone", "Germny", "--", "true"], 2, "unknown zone"),
        (["run", "--pue", "-1", "--", "true"], 2, "--pue"),
        (["run", "--pue", "abc", "--", "true"], 2, "--pue"),
        (["run", "--pue", "nan", "--", "true"], 2, "--pue"),
        (["run", "--bogus-flag", "--", "true"], 2, "unrecognized arguments"),
        (["run", "--team", "a\x1b[31mb", "--", "true"], 2, "control characters"),
        (["run", "--project", "p" * 300, "--", "true"], 2, "300 characters"),
        (["run", "--sample-interval", "1e400", "--", "true"], 2, "--sample-interval"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], code: int, needle: str) -> None:
    proc = _run(tmp_path, *args)
    assert proc.returncode == code, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_concurrent_runs_append_to_one_chain(tmp_path: Path, ledger_url: str) -> None:
    """Concurrent `lowcarb run --ledger` processes never lose or fork a record."""
    n = 6
    procs = [
        subprocess.Popen(
            [
                *LOWCARB,
                "run",
                "--zone",
                "DE",
                "--ledger",
                ledger_url,
                "--team",
                f"t{i % 2}",
                "--project",
                "p",
                "--json",
                "--",
                sys.executable,
                "-c",
                "pass",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=_env(tmp_path),
        )
        for i in range(n)
    ]
    outputs = [(p.communicate(timeout=120), p.returncode) for p in procs]  # reap all, then judge
    ids = set()
    for (stdout, stderr), returncode in outputs:
        assert returncode == 0, stderr
        ids.add(json.loads(stdout)["record_id"])
    assert None not in ids and len(ids) == n
    verify = _run(tmp_path, "ledger", "verify", "--ledger", ledger_url, "--json")
    assert verify.returncode == 0, verify.stderr
    result = json.loads(verify.stdout)
    assert result["ok"] is True and result["entries"] == n


MAKE_MARKER = "open('ran.txt', 'w').write('ok')"


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "127.0.0.1:1"),
        ("sqlte:///x.db", "unknown dialect 'sqlte'"),
        ("postgres://u@127.0.0.1/db", "postgresql+psycopg://"),
        ("sqlite://", "in-memory"),
        ("sqlite:/x.db", "sqlite:///x.db"),
        (".", "directory"),
    ],
)
def test_bad_ledger_fails_before_the_command_runs(tmp_path: Path, url: str, needle: str) -> None:
    proc = _run(
        tmp_path,
        "run",
        "--zone",
        "DE",
        "--ledger",
        url,
        "--json",
        "--",
        sys.executable,
        "-c",
        MAKE_MARKER,
    )
    assert proc.returncode == 2, proc.stderr
    assert not (tmp_path / "ran.txt").exists()  # the work never started
    assert proc.stdout == "" and needle in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def _breaker(url: str) -> str:
    """Python code that breaks the ledger while the measured command runs."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        return (
            "import os\n"
            f"for p in ({path!r}, {path + '-wal'!r}, {path + '-shm'!r}):\n"
            "    os.path.exists(p) and os.remove(p)\n"
            f"open({path!r}, 'wb').write(b'garbage' * 100)\n"
            "raise SystemExit(3)\n"
        )
    from sqlalchemy.engine import make_url

    u = make_url(url)
    admin = f"host={u.host} port={u.port} user={u.username} dbname=postgres"
    return (
        "import psycopg\n"
        f"with psycopg.connect({admin!r}, autocommit=True) as c:\n"
        f"    c.execute('DROP DATABASE \"{u.database}\" WITH (FORCE)')\n"
        "raise SystemExit(3)\n"
    )


def test_ledger_failing_after_the_work_keeps_exit_code_and_spools(
    tmp_path: Path, ledger_url: str
) -> None:
    proc = _run(
        tmp_path,
        "run",
        "--zone",
        "DE",
        "--ledger",
        ledger_url,
        "--json",
        "--",
        sys.executable,
        "-c",
        _breaker(ledger_url),
    )
    assert proc.returncode == 3, proc.stderr  # the command's own status, not lowcarb's
    out = json.loads(proc.stdout)
    assert out["exit_code"] == 3 and out["record_id"] is None and out["ledger_error"]
    saved = json.loads(Path(out["unrecorded_saved_to"]).read_text())
    assert saved["footprint"]["co2e_g"] == pytest.approx(out["co2e_g"])
    assert Path(out["unrecorded_saved_to"]).parent == tmp_path / ".lowcarb" / "unrecorded"
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lowcarb: error: run not recorded") and "saved to" in last


def test_ledger_from_a_parent_config_file(tmp_path: Path) -> None:
    (tmp_path / "lowcarb.toml").write_text('ledger = "sqlite:///team.db"\nproject = "cfg"\n')
    sub = tmp_path / "work"
    sub.mkdir()
    proc = subprocess.run(
        [*LOWCARB, "run", "--zone", "DE", "--json", "--", sys.executable, "-c", "pass"],
        capture_output=True,
        text=True,
        cwd=sub,
        env=_env(tmp_path),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ledger"] == f"sqlite:///{tmp_path / 'team.db'}" and out["record_id"]
    verify = _run(sub, "ledger", "verify", "--json")
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["entries"] == 1


@pytest.mark.parametrize(
    ("path", "needle"),
    [("missing/emissions.csv", "does not exist"), (".", "is a directory")],
)
def test_emissions_csv_path_is_checked_before_the_command_runs(
    tmp_path: Path, path: str, needle: str
) -> None:
    proc = _run(
        tmp_path,
        "run",
        "--zone",
        "DE",
        "--emissions-csv",
        path,
        "--",
        sys.executable,
        "-c",
        MAKE_MARKER,
    )
    assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
    assert not (tmp_path / "ran.txt").exists()
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_project_name_in_csv_comes_from_the_project_setting(tmp_path: Path) -> None:
    proc = _run(
        tmp_path,
        "run",
        "--zone",
        "DE",
        "--emissions-csv",
        "e.csv",
        "--",
        sys.executable,
        "-c",
        "pass",
        LOWCARB_PROJECT="detector",
    )
    assert proc.returncode == 0, proc.stderr
    with (tmp_path / "e.csv").open() as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["project_name"] == "detector"


def test_corrupt_ledger_file_is_never_overwritten(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    garbage = b"this is not a sqlite database" * 100
    ledger.write_bytes(garbage)
    proc = _run(
        tmp_path,
        "run",
        "--zone",
        "DE",
        "--ledger",
        f"sqlite:///{ledger}",
        "--",
        sys.executable,
        "-c",
        MAKE_MARKER,
    )
    assert proc.returncode == 2
    assert ledger.read_bytes() == garbage
    assert not (tmp_path / "ran.txt").exists()  # refused before acting
    assert "not a lowcarb ledger" in proc.stderr and "Traceback" not in proc.stderr


def test_in_process_json_run_with_in_memory_streams(tmp_path: Path) -> None:
    """Embedded callers pass StringIO streams: the command's output is copied into stderr."""
    import io

    from lowcarb.cli import main
    from lowcarb.cli._common import CliContext

    out, err = io.StringIO(), io.StringIO()
    ctx = CliContext(stdout=out, stderr=err, environ=_env(tmp_path))
    argv = ["run", "--json", "--zone", "DE", "--ledger", f"sqlite:///{tmp_path / 'l.db'}"]
    code = main([*argv, "--", sys.executable, "-c", "print('hello'); print('world')"], ctx=ctx)
    assert code == 0, err.getvalue()
    assert err.getvalue() == "hello\nworld\n"
    assert json.loads(out.getvalue())["exit_code"] == 0
