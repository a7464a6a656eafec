"""The process a worker starts for a job: runs the command, forwards signals, records the exit.

``python .../lowcarb/scheduling/_jobwrap.py --state-dir DIR --cwd DIR [--env K=V ...] -- CMD``

It is run as a plain script (standard library only, so it starts in milliseconds and never
imports lowcarb, numpy or a database driver). It starts a new session (so a Ctrl-C meant for
the worker does not reach the job), sets the checkpoint protocol's environment variables, runs
the command in ``--cwd``, forwards SIGTERM, SIGINT and SIGHUP to it, and writes the command's
exit status to ``DIR/exit_status`` (atomically) before exiting with the same status. A worker
that restarts after a crash reads that file to learn how a job it could no longer wait for
ended, so a finished job is never run again. A signal that arrives before the command starts
means it is not started at all.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

__all__ = ["EXIT_STATUS_FILE", "SCRIPT", "main", "read_exit_status"]

EXIT_STATUS_FILE = "exit_status"
#: This file: what the worker runs with ``sys.executable``.
SCRIPT = str(Path(__file__).resolve())


def read_exit_status(state_dir: str | Path) -> int | None:
    """The exit status a wrapper recorded in ``state_dir``, or None if it did not finish."""
    try:
        return int((Path(state_dir) / EXIT_STATUS_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


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
    (state / EXIT_STATUS_FILE).unlink(missing_ok=True)
    env = dict(os.environ)
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value
    if pending:
        _record(state, 128 + pending[0])
        return 128 + pending[0]
    try:
        proc = subprocess.Popen(cmd, cwd=args.cwd, env=env)
    except OSError as exc:
        print(f"lowcarb: error: cannot start {cmd[:1]!r}: {exc.strerror}", file=sys.stderr)
        _record(state, 127)
        return 127
    if pending:
        forward(pending[0], None)
    code = proc.wait()
    status = 128 - code if code < 0 else code
    _record(state, status)
    return status


def _record(state: Path, status: int) -> None:
    tmp = state / f".{EXIT_STATUS_FILE}.tmp"
    tmp.write_text(f"{status}\n")
    os.replace(tmp, state / EXIT_STATUS_FILE)


if __name__ == "__main__":
    raise SystemExit(main())
