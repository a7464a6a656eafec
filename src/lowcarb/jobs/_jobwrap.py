"""The process a worker starts for a job: runs the command, holds its lease, records the exit.

``python .../lowcarb/jobs/_jobwrap.py --state-dir DIR --cwd DIR [--lease FILE] [--env K=V ...]
-- CMD``

It is run as a plain script (standard library only, so it starts in milliseconds and never
imports lowcarb, numpy or SQLAlchemy; the database driver is imported only when it first talks to
the job store). It starts a new session (so a Ctrl-C meant for the worker does not reach the
job), sets the checkpoint protocol's environment variables, runs the command in ``--cwd``,
forwards SIGTERM, SIGINT and SIGHUP to it, and leaves a durable result in ``DIR/result.json``
before exiting with the command's status: job id, attempt, exit status, start and end (UTC, ISO
8601), wall seconds and the command's CPU seconds. The file is written atomically (temp file,
fsync, rename, fsync of the directory), so it survives a power cut once the wrapper has exited
and is never seen half-written. A signal that arrives before the command starts means it is not
started at all.

With ``--lease FILE`` (what a :class:`~lowcarb.jobs.Worker` gives: a JSON file, readable by its
owner only, that the wrapper deletes once read) the wrapper holds the run's lease in the job store
itself, as it outlives its worker:

* it renews the lease every quarter of its length while the command runs (only forward, fenced by
  the job's id, ``running`` state and attempt, without bumping ``version``: a heartbeat);
* if the job is no longer this run's (re-queued meanwhile), or no renewal succeeded and the lease
  is within its safety margin of lapsing, it kills the command's process group (SIGKILL) and
  records the run as ``fenced``: a lapsed lease then means the run is gone, so a worker on
  another host may run the job again without two runs at once;
* the command runs in a process group of its own and, on Linux, dies with the wrapper
  (``PR_SET_PDEATHSIG``), so killing the wrapper kills its run;
* when the command ends (unfenced), it also stores its result in the job's row (``run_result``,
  ``version`` bumped), so that a worker on any host records the run instead of running it again.

A worker that restarts after a crash reads the result to record a job it could no longer wait
for, so a finished job is neither lost nor run again.
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
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = [
    "EXIT_STATUS_FILE",
    "LEASE_FILE",
    "RESULT_FILE",
    "SCRIPT",
    "main",
    "read_exit_status",
    "read_result",
]

#: The bare exit status older wrappers wrote (still read, never written).
EXIT_STATUS_FILE = "exit_status"
#: The wrapper's durable result (see the module docstring).
RESULT_FILE = "result.json"
#: The lease file a worker leaves for the wrapper in the state directory (see the module docstring).
LEASE_FILE = ".lease.json"
#: How often the wrapper checks that its lease still holds, seconds.
CHECK_S = 0.2
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


#: Renew a run's lease, never backwards, while the job is still this run's (a heartbeat).
_RENEW = (
    "UPDATE lowcarb_jobs SET lease_until = CASE WHEN lease_until IS NULL OR lease_until < ? "
    "THEN ? ELSE lease_until END WHERE id = ? AND state = 'running' AND attempts = ?"
)
#: Store a run's result in its job's row while the job is still this run's.
_STORE = (
    "UPDATE lowcarb_jobs SET run_result = ?, version = version + 1, updated_at = ? "
    "WHERE id = ? AND state = 'running' AND attempts = ?"
)


class RunLease:
    """The lease of one run, held by its wrapper (see the module docstring).

    The lease file (JSON) gives: ``job_id`` and ``attempt`` (what every statement is fenced by),
    ``dialect`` (``sqlite`` or ``postgresql``, reached with psycopg 3), ``database`` (the SQLite
    file, or a libpq connection URI), ``lease_s`` (the
    length of a renewal, seconds), ``margin_s`` (how long before the lease lapses the command is
    killed when no renewal succeeded), ``lease_until`` (the claim's lease, Unix seconds on the
    worker's clock) and ``clock_offset_s`` (the worker's clock minus this host's, seconds).

    Thread safety: :meth:`keep` renews on a thread of its own; the wrapper's main thread calls
    :meth:`must_stop`, :meth:`fence` and :meth:`settle`.

    Args:
        config: The lease file's content.
        wall: This host's clock, Unix seconds (tests).
    """

    def __init__(self, config: dict[str, Any], *, wall: Callable[[], float] = time.time) -> None:
        self.job_id = str(config["job_id"])
        self.attempt = int(config["attempt"])
        self.dialect = str(config["dialect"])
        self.database = str(config["database"])
        self.lease_s = float(config["lease_s"])
        self.margin_s = float(config["margin_s"])
        self.offset_s = float(config.get("clock_offset_s", 0.0))
        #: Until when the lease is known to hold (worker-clock Unix seconds).
        self.held_until = float(config["lease_until"])
        #: Why the command was killed for its lease (None: it was not).
        self.fenced: str | None = None
        #: Set when a renewal found the job no longer this run's.
        self.lost = False
        self._wall = wall
        self._next_renewal = self.held_until - self.lease_s * 3 / 4
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the connection is the renewing thread's and settle's
        self._conn: Any = None

    @classmethod
    def load(cls, path: str | Path) -> RunLease | None:
        """The lease in the file at ``path``, which is deleted (it may hold a password); None,
        with a warning on stderr, if it cannot be read (the run then holds no lease itself)."""
        try:
            config = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(config)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"lowcarb: warning: no lease for this run ({path}: {exc})", file=sys.stderr)
            return None
        finally:
            with contextlib.suppress(OSError):
                Path(path).unlink()

    def now(self) -> float:
        """The worker's clock, as this host reads it (Unix seconds)."""
        return self._wall() + self.offset_s

    def must_stop(self) -> bool:
        """Whether the command must be killed now: the job is no longer this run's, or the lease
        is within its margin of lapsing with no renewal."""
        return self.lost or self.now() >= self.held_until - self.margin_s

    def keep(self) -> None:
        """Renew the lease on a daemon thread until :meth:`settle`."""
        threading.Thread(target=self._renewing, name="lowcarb-lease", daemon=True).start()

    def _renewing(self) -> None:
        with contextlib.suppress(Exception), self._lock:  # early: the driver's import takes time
            self._conn = self._conn or self._connect()
        failing = False
        while not self._stop.wait(CHECK_S):
            if self.now() < self._next_renewal:
                continue
            asked = self.now()
            until = self._at(asked + self.lease_s)
            try:
                held = self._locked(_RENEW, until, until)
            except Exception as exc:  # any failure: retried until the margin, then fenced
                if not failing:
                    print(f"lowcarb: warning: lease not renewed: {exc}", file=sys.stderr)
                failing = True
                self._next_renewal = self.now() + min(1.0, self.lease_s / 8)
                continue
            failing = False
            if not held:
                self.lost = True
                return
            self.held_until = max(self.held_until, asked + self.lease_s)
            self._next_renewal = asked + self.lease_s / 4

    def _locked(self, sql: str, *values: Any) -> bool:
        """:meth:`_execute` on the one connection (opened again after a failure)."""
        with self._lock:
            try:
                self._conn = self._conn or self._connect()
                return self._execute(self._conn, sql, *values)
            except Exception:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None
                raise

    def fence(self, proc: subprocess.Popen[bytes]) -> None:
        """Kill the command's process group: its lease no longer holds."""
        self.fenced = (
            "its job was re-queued meanwhile" if self.lost else "its lease could not be renewed"
        )
        print(f"lowcarb: killing the job's command: {self.fenced}", file=sys.stderr)
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            proc.kill()

    def settle(self, result: dict[str, Any]) -> bool:
        """Stop renewing; store ``result`` in the job's row unless the run was fenced, retrying
        while the lease holds. Whether it was stored (False: fenced, the job no longer this
        run's, or the database unreachable until the lease lapsed)."""
        self._stop.set()
        if self.fenced is not None or self.lost:
            return False
        text = json.dumps(result)
        try:
            while True:
                try:
                    return self._locked(_STORE, text, self._at(self.now()))
                except Exception as exc:  # any failure: retried while the lease holds
                    if self.now() + 0.5 >= self.held_until:
                        print(f"lowcarb: warning: run result not stored: {exc}", file=sys.stderr)
                        return False
                    time.sleep(0.5)
        finally:
            with contextlib.suppress(Exception), self._lock:
                if self._conn is not None:
                    self._conn.close()

    def _at(self, t: float) -> Any:
        """Worker-clock Unix seconds as the job store keeps times (SQLite: SQLAlchemy's text)."""
        moment = datetime.fromtimestamp(t, UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if self.dialect == "sqlite" else moment

    def _connect(self) -> Any:
        timeout_s = max(1.0, self.lease_s / 8)
        if self.dialect == "sqlite":
            import sqlite3

            return sqlite3.connect(
                self.database, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
        import psycopg  # the driver of lowcarb[postgres]

        return psycopg.connect(
            self.database,
            autocommit=True,
            connect_timeout=int(timeout_s),
            options=f"-c statement_timeout={int(timeout_s * 1000)}",
        )

    def _execute(self, conn: Any, sql: str, *values: Any) -> bool:
        """Run the fenced update ``sql`` with ``values`` (then the job's id and attempt);
        whether the job's row matched."""
        params = (*values, self.job_id, self.attempt)
        if self.dialect != "sqlite":
            sql = sql.replace("?", "%s")
        cur = conn.cursor()
        try:
            cur.execute(sql, params)
            return int(cur.rowcount) == 1
        finally:
            cur.close()


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
    ap.add_argument("--lease", help="lease file left by the worker (read, then deleted)")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    with contextlib.suppress(OSError):
        os.setsid()
    lease = RunLease.load(args.lease) if args.lease else None
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
        return _end(state, run, 128 + pending[0], started, lease)
    try:
        proc = subprocess.Popen(cmd, cwd=args.cwd, env=env, **_own_group(lease))
    except OSError as exc:
        print(f"lowcarb: error: cannot start {cmd[:1]!r}: {exc.strerror}", file=sys.stderr)
        return _end(state, run, 127, started, lease)
    if pending:
        forward(pending[0], None)
    if lease is None:
        code = proc.wait()
    else:
        lease.keep()
        code = _wait_holding(proc, lease)
    return _end(state, run, 128 - code if code < 0 else code, started, lease)


def _own_group(lease: RunLease | None) -> dict[str, Any]:
    """Popen options under a lease: a process group of the command's own (so that a fence kills
    all of it and nothing else) and, on Linux, death with the wrapper."""
    if lease is None:
        return {}
    options: dict[str, Any] = {"process_group": 0}
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)  # loaded before the fork, not in the child
        parent = os.getpid()

        def die_with_wrapper() -> None:
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the wrapper died before the line above
                os.kill(os.getpid(), signal.SIGKILL)

        options["preexec_fn"] = die_with_wrapper
    return options


def _wait_holding(proc: subprocess.Popen[bytes], lease: RunLease) -> int:
    """Wait for the command, killing its process group if the lease stops holding."""
    while True:
        try:
            return proc.wait(timeout=CHECK_S)
        except subprocess.TimeoutExpired:
            if lease.fenced is None and lease.must_stop():
                lease.fence(proc)


def _end(
    state: Path, run: dict[str, str | None], status: int, started: float, lease: RunLease | None
) -> int:
    data = _record(state, run, status, started, fenced=None if lease is None else lease.fenced)
    if lease is not None:
        lease.settle(data)
    return status


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _record(
    state: Path, run: dict[str, str | None], status: int, started: float, *, fenced: str | None
) -> dict[str, Any]:
    """Write the run's result durably (temp file, fsync, rename, fsync of the directory) and
    return it. ``fenced``: why the wrapper killed the command (its lease), else None."""
    ended = time.time()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    attempt = run["attempt"] or ""
    data: dict[str, Any] = {
        "job_id": run["job_id"],
        "attempt": int(attempt) if attempt.isdigit() else None,
        "exit_code": status,
        "started_at": _iso(started),
        "ended_at": _iso(ended),
        "wall_s": round(ended - started, 6),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 6),
    }
    if fenced is not None:
        data["fenced"] = fenced
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
    return data


if __name__ == "__main__":
    raise SystemExit(main())
