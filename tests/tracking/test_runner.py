"""``lowcarb run``'s runner: exit codes as shells give them, SIGTERM forwarded, then escalated.

Signals are tested with real processes: a driver script runs :func:`lowcarb.tracking.run_command`
(signal handlers need a main thread) on a child that ignores SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext

DRIVER = r"""
import json, sys
from lowcarb.tracking import run_command
from lowcarb.tracking import Tracker
from lowcarb.energy import FakeMeter
meters = [FakeMeter(power_w={{"cpu": 10.0}})]
tracker = Tracker("t", zone="DE", ledger="", environ={{}}, meters=meters)
child = [sys.executable, "-c", {child!r}]
result = run_command(child, tracker=tracker, stdout=sys.stderr, grace_s={grace})
print(json.dumps({{"exit_code": result.exit_code, "signals": result.signals_received}}), flush=True)
"""

IGNORES_SIGTERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', file=sys.stderr, flush=True)\n"
    "time.sleep(600)\n"
)
OBEYS_SIGTERM = "import sys, time\nprint('ready', file=sys.stderr, flush=True)\ntime.sleep(600)\n"


def _cli(tmp_path: Path, *args: str) -> tuple[int, str]:
    args = ("run", "--zone", "DE", "--ledger", f"sqlite:///{tmp_path / 'l.db'}", *args)
    err = StringIO()
    ctx = CliContext(stdout=StringIO(), stderr=err, environ={"HOME": str(tmp_path)})
    return main(list(args), ctx=ctx), err.getvalue()


def test_a_missing_command_exits_127_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, err = _cli(tmp_path, "--", "no-such-cmd-xyz")
    assert code == 127
    assert err.count("\n") == 1 and "no-such-cmd-xyz" in err and "Traceback" not in err


@pytest.mark.parametrize("kind", ["no-exec-bit", "directory"])
def test_a_command_that_cannot_be_executed_exits_126(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "thing"
    if kind == "directory":
        target.mkdir()
    else:
        target.write_text("#!/bin/sh\necho hi\n")
        target.chmod(0o644)
    code, err = _cli(tmp_path, "--", str(target))
    assert code == 126
    assert err.count("\n") == 1 and "not executable" in err


def _driver(tmp_path: Path, child: str, grace_s: float) -> subprocess.Popen[str]:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(child=child, grace=grace_s))
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        cwd=tmp_path,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()  # the child is running, its SIGTERM handler set
    assert line.strip() == "ready", line
    return proc


def _outcome(proc: subprocess.Popen[str]) -> dict[str, object]:
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    data: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return data


def test_a_first_sigterm_is_forwarded_to_the_command(tmp_path: Path) -> None:
    proc = _driver(tmp_path, OBEYS_SIGTERM, grace_s=300)
    proc.send_signal(signal.SIGTERM)
    result = _outcome(proc)
    assert result == {"exit_code": 128 + signal.SIGTERM, "signals": ["SIGTERM"]}


def test_a_second_sigterm_kills_a_command_that_ignores_the_first(tmp_path: Path) -> None:
    # The grace period is far longer than the test may take: only the second SIGTERM can end
    # the run. SIGTERMs are re-sent until lowcarb exits, because two sent at once may be merged
    # into one by the kernel before the first is handled.
    proc = _driver(tmp_path, IGNORES_SIGTERM, grace_s=300)
    end = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < end:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(0.5)
        except subprocess.TimeoutExpired:
            continue
    result = _outcome(proc)
    assert result["exit_code"] == 128 + signal.SIGKILL
    signals = result["signals"]
    assert isinstance(signals, list) and len(signals) >= 2 and set(signals) == {"SIGTERM"}


def test_the_grace_period_ends_a_command_that_ignores_sigterm(tmp_path: Path) -> None:
    proc = _driver(tmp_path, IGNORES_SIGTERM, grace_s=0.2)
    proc.send_signal(signal.SIGTERM)
    result = _outcome(proc)
    assert result == {"exit_code": 128 + signal.SIGKILL, "signals": ["SIGTERM"]}
