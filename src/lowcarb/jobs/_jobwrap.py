"""The process a worker starts for a job: runs the command, forwards signals, records the exit.

``python .../lowcarb/jobs/_jobwrap.py --state-dir DIR --cwd DIR [--env K=V ...] -- CMD``

It is run as a plain script (standard library only, so it starts in milliseconds and never
imports lowcarb, numpy or a database driver). It starts a new session (so a Ctrl-C meant for
the worker does not reach the job), sets the checkpoint protocol's environment variables, runs
the command in ``--cwd``, forwards SIGTERM, SIGINT and SIGHUP to it, and leaves a durable result
in ``DIR/result.json`` before exiting with the command's status: job id, attempt, exit status,
start and end (UTC, ISO 8601), wall seconds and the command's CPU seconds. The file is written
atomically (temp file, fsync, rename, fsync of the directory), so it survives a power cut once
the wrapper has exited and is never seen half-written. A worker that restarts after a crash
reads it to record a job it could no longer wait for, so a finished job is neither lost nor run
again. A signal that arrives before the command starts means it is not started at all.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = ["EXIT_STATUS_FILE", "RESULT_FILE", "SCRIPT", "main", "read_exit_status", "read_result"]

#: The bare exit status older wrappers wrote (still read, never written).
EXIT_STATUS_FILE = "exit_status"
#: The wrapper's durable result (see the module docstring).
RESULT_FILE = "result.json"
#: This file: what the worker runs with ``sys.executable``.
SCRIPT = str(Path(__file__).resolve())


def read_result(state_dir: str | Path) -> dict[str, Any] | None:
    """The result a wrapper left in ``state_dir``, or None if its run did not finish."""
    try:
        data = json.loads((Path(state_dir) / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("exit_code"), int):
        return data
    try:  # a wrapper of an older lowcarb: the exit status only
        return {"exit_code": int((Path(state_dir) / EXIT_STATUS_FILE).read_text().strip())}
    except (OSError, ValueError):
        return None


def read_exit_status(state_dir: str | Path) -> int | None:
    """The exit status a wrapper recorded in ``state_dir``, or None if it did not finish."""
    result = read_result(state_dir)
    return None if result is None else int(result["exit_code"])


def main(argv: list[str] | None = None) -> int:
    """Run the wrapped command; see the module docstring."""
    pending: list[int] = []
    proc: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: FrameType | None) -> None:
        if proc is None:
            pending.append(signum)  # not started yet: it will not be
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    ap = argparse.ArgumentParser(prog="lowcarb-job")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--cwd", required=True)
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    with contextlib.suppress(OSError):
        os.setsid()
    state = Path(args.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    for name in (EXIT_STATUS_FILE, RESULT_FILE):
        (state / name).unlink(missing_ok=True)  # a previous attempt's result is not this one's
    env = dict(os.environ)
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value
    run = {"job_id": env.get("LOWCARB_JOB_ID"), "attempt": env.get("LOWCARB_JOB_ATTEMPT")}
    started = time.time()
    if pending:
        _record(state, run, 128 + pending[0], started)
        return 128 + pending[0]
    try:
        proc = subprocess.Popen(cmd, cwd=args.cwd, env=env)
    except OSError as exc:
        print(f"lowcarb: error: cannot start {cmd[:1]!r}: {exc.strerror}", file=sys.stderr)
        _record(state, run, 127, started)
        return 127
    if pending:
        forward(pending[0], None)
    code = proc.wait()
    status = 128 - code if code < 0 else code
    _record(state, run, status, started)
    return status


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _record(state: Path, run: dict[str, str | None], status: int, started: float) -> None:
    """Write the run's result durably: temp file, fsync, rename, fsync of the directory."""
    ended = time.time()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    attempt = run["attempt"] or ""
    data = {
        "job_id": run["job_id"],
        "attempt": int(attempt) if attempt.isdigit() else None,
        "exit_code": status,
        "started_at": _iso(started),
        "ended_at": _iso(ended),
        "wall_s": round(ended - started, 6),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 6),
    }
    tmp = state / f".{RESULT_FILE}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(data) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, state / RESULT_FILE)
    with contextlib.suppress(OSError):  # make the rename itself durable
        fd = os.open(state, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


if __name__ == "__main__":
    raise SystemExit(main())
