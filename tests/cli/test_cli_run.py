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
    "duration_s", "energy_kwh", "co2e_g", "zone", "intensity_g_per_kwh", "intensity_source",
    "pue", "exit_code", "components",
}  # fmt: skip
BURN = "import time\nt=time.process_time()\nwhile time.process_time()-t<0.4: pass\n"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOWCARB_")}
    env.update({"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}, **extra)
    return env


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOWCARB, *args], capture_output=True, text=True, cwd=tmp_path, env=_env(tmp_path, **env),
        timeout=120,
    )  # fmt: skip


def test_json_has_contract_keys_and_labelled_components(tmp_path: Path) -> None:
    proc = _run(tmp_path, "run", "--zone", "DE", "--pue", "1.2", "--json", "--",
                sys.executable, "-c", BURN + "print('hello from the command')")  # fmt: skip
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
    proc = _run(tmp_path, "run", "--zone", "FR", "--json", "--", sys.executable, "-c",
                "raise SystemExit(7)")  # fmt: skip
    assert proc.returncode == 7
    assert json.loads(proc.stdout)["exit_code"] == 7


def test_busier_command_costs_more_energy(tmp_path: Path) -> None:
    idle = _run(tmp_path, "run", "--zone", "DE", "--json", "--", sys.executable, "-c",
                "import time; time.sleep(0.4)")  # fmt: skip
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
    out = json.loads(_run(tmp_path, "run", "--json", "--", sys.executable, "-c", "pass",
                          LOWCARB_ZONE="FR").stdout)  # fmt: skip
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
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env=_env(tmp_path),
    )  # fmt: skip
    assert proc.stderr is not None
    assert proc.stderr.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 42
    assert json.loads(stdout)["exit_code"] == 42


def test_ctrl_c_to_process_group_reports_and_returns_130(tmp_path: Path) -> None:
    script = "import time\nprint('ready', flush=True)\ntime.sleep(60)\n"
    proc = subprocess.Popen(
        [*LOWCARB, "run", "--zone", "DE", "--json", "--", sys.executable, "-c", script],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env=_env(tmp_path), start_new_session=True,
    )  # fmt: skip
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
        proc = _run(tmp_path, "run", "--zone", "DE", "--emissions-csv", "emissions.csv", "--",
                    sys.executable, "-c", "pass")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    with (tmp_path / "emissions.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2
    from codecarbon.output_methods.emissions_data import EmissionsData

    assert list(rows[0]) == list(EmissionsData.__dataclass_fields__)
    assert float(rows[0]["emissions"]) > 0 and rows[0]["region"] == "DE"


def test_foreign_csv_is_not_touched(tmp_path: Path) -> None:
    target = tmp_path / "emissions.csv"
    target.write_text("a,b\n1,2\n")
    proc = _run(tmp_path, "run", "--zone", "DE", "--emissions-csv", str(target), "--",
                sys.executable, "-c", "pass")  # fmt: skip
    assert proc.returncode == 2
    assert target.read_text() == "a,b\n1,2\n"


def test_table_output_goes_to_stderr(tmp_path: Path) -> None:
    proc = _run(tmp_path, "run", "--zone", "DE", "--", sys.executable, "-c", "print('out')")
    assert proc.returncode == 0
    assert proc.stdout == "out\n"
    assert "gCO2e" in proc.stderr and "estimated" in proc.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--zone", "DE"], "no command given"),
        (["run", "--zone", "DE", "--", "no-such-command-xyz"], "command not found"),
        (["run", "--zone", "Germny", "--", "true"], "unknown zone"),
        (["run", "--pue", "-1", "--", "true"], "--pue"),
        (["run", "--pue", "abc", "--", "true"], "--pue"),
        (["run", "--bogus-flag", "--", "true"], "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    proc = _run(tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
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


def test_unreachable_postgres_still_runs_the_command(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    proc = _run(tmp_path, "run", "--zone", "DE", "--ledger", url, "--json", "--",
                sys.executable, "-c", f"open({str(marker)!r}, 'w').write('ok')")  # fmt: skip
    assert marker.read_text() == "ok"  # the user's command completed
    assert proc.returncode == 2
    out = json.loads(proc.stdout)
    assert out["exit_code"] == 0 and out["record_id"] is None
    assert "127.0.0.1:1" in out["ledger_error"] or "unreachable" in out["ledger_error"]
    saved = json.loads(Path(out["unrecorded_saved_to"]).read_text())
    assert saved["footprint"]["co2e_g"] == pytest.approx(out["co2e_g"])
    assert proc.stderr.strip().splitlines()[-1].startswith("lowcarb: error: run not recorded")


def test_corrupt_ledger_file_is_never_overwritten(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    garbage = b"this is not a sqlite database" * 100
    ledger.write_bytes(garbage)
    proc = _run(tmp_path, "run", "--zone", "DE", "--ledger", f"sqlite:///{ledger}", "--",
                sys.executable, "-c", "pass")  # fmt: skip
    assert proc.returncode == 2
    assert ledger.read_bytes() == garbage
    assert "not recorded" in proc.stderr and "Traceback" not in proc.stderr
