"""Run a command under a :class:`~lowcarb.Tracker`: the library behind ``lowcarb run``.

The whole process tree of the command is measured. Exit status is kept: a normal exit's code, or
128 + N when the command was killed by signal N (the shell's convention).

Signals: SIGTERM and SIGHUP sent to lowcarb are forwarded to the command, and lowcarb still
reports when the command ends. A second one, or the grace period (10 s) passing after the first,
kills the command's whole process tree, so a command that ignores SIGTERM cannot hang lowcarb.
Ctrl-C in a terminal sends SIGINT to the whole foreground process
group, which already includes the command, so lowcarb does not send it a second one; it keeps
waiting for the command to finish (like ``time`` and ``uv run``). A SIGINT sent to lowcarb alone
(``kill -INT``) is forwarded when the command runs in another process group.

The command is awaited without being reaped (``waitid(WNOWAIT)``) so that the tree's CPU times are
still readable when the tracker stops; it is reaped right after.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType
from typing import IO, Any

from lowcarb._text import plain
from lowcarb.errors import CommandNotExecutableError, CommandNotFoundError, UsageError
from lowcarb.grid import Footprint
from lowcarb.tracking._tracker import Tracker

__all__ = ["CommandResult", "run_command"]

_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """Outcome of a measured command.

    Attributes:
        exit_code: The command's exit status (128 + N when killed by signal N).
        footprint: Its measured and priced footprint.
        signals_received: Names of signals lowcarb received while the command ran.
    """

    exit_code: int
    footprint: Footprint
    signals_received: tuple[str, ...]


#: After a forwarded SIGTERM, how long the command may take to exit before it is killed.
DEFAULT_GRACE_S = 10.0


def run_command(
    argv: Sequence[str],
    *,
    tracker: Tracker,
    stdout: IO[str] | None = None,
    grace_s: float = DEFAULT_GRACE_S,
) -> CommandResult:
    """Run ``argv``, measuring its process tree with ``tracker`` (not yet started).

    Args:
        argv: The command and its arguments.
        tracker: A configured, unstarted tracker; it is started on the command's pid.
        stdout: Where the command's stdout goes (None: inherited).
        grace_s: After the first SIGTERM or SIGHUP is forwarded, the command's whole process
            tree is killed (SIGKILL) if it has not exited within this many seconds, or at once
            when a second one arrives: a command that ignores SIGTERM cannot keep lowcarb, and
            its report, waiting forever.

    Raises:
        UsageError: Empty command.
        CommandNotFoundError: The command does not exist (exit status 127, as shells).
        CommandNotExecutableError: It exists but cannot be executed (126).
    """
    if not argv:
        raise UsageError("no command given; usage: lowcarb run [OPTIONS] -- COMMAND [ARGS...]")
    if not argv[0].strip():  # as a shell does: an empty name is a command not found
        raise CommandNotFoundError(
            f"command not found: {plain(argv[0])!r}; give the command's name after --"
        )
    copy_to: IO[str] | None = None
    target: IO[str] | int | None = stdout
    if stdout is not None:
        try:
            stdout.fileno()
        except (OSError, ValueError):  # io.UnsupportedOperation: an in-memory stream
            copy_to, target = stdout, subprocess.PIPE
    try:
        proc = subprocess.Popen(
            list(argv), stdout=target, text=copy_to is not None, errors="replace"
        )
    except FileNotFoundError:
        raise CommandNotFoundError(
            f"command not found: {plain(argv[0])!r}; check its name and PATH"
        ) from None
    except (PermissionError, IsADirectoryError, OSError) as exc:
        # OSError covers ENOEXEC (a file without a #! line) and a path that is a directory.
        raise CommandNotExecutableError(
            f"command {plain(argv[0])!r} is not executable ({exc.strerror or exc}); "
            "check its path and permissions"
        ) from None
    tracker.start(pid=proc.pid)
    copier = None
    if copy_to is not None and proc.stdout is not None:
        copier = threading.Thread(target=_copy_lines, args=(proc.stdout, copy_to), daemon=True)
        copier.start()
    received: list[str] = []
    escalation: list[threading.Timer] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        if signum == signal.SIGINT and _same_process_group(proc.pid):
            return  # the terminal already delivered it to the command
        if signum != signal.SIGINT and escalation:
            _kill_tree(proc.pid)  # a second termination request: stop waiting
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)
        if signum != signal.SIGINT:
            timer = threading.Timer(grace_s, _kill_tree, args=(proc.pid,))
            timer.daemon = True
            escalation.append(timer)
            timer.start()

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, forward) for s in _FORWARDED} if in_main_thread else {}
    try:
        _wait_without_reaping(proc.pid)
    finally:
        try:
            footprint = tracker.stop()
        finally:
            for timer in escalation:
                timer.cancel()
            status = _reap(proc)
            if copier is not None:
                copier.join(timeout=5.0)  # the pipe closes with the command's last writer
            for s, handler in previous.items():
                signal.signal(s, handler)
    return CommandResult(exit_code=status, footprint=footprint, signals_received=tuple(received))


def _copy_lines(source: IO[str], sink: IO[str]) -> None:
    """Copy the command's output into an in-memory stream (which has no file descriptor)."""
    with source:
        for line in source:
            sink.write(line)


def _kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every descendant (children first found, then all at once)."""
    import psutil

    try:
        root = psutil.Process(pid)
        victims = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for victim in victims:
        with contextlib.suppress(psutil.Error):
            victim.kill()


def _same_process_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == os.getpgrp()
    except ProcessLookupError:
        return True


def _wait_without_reaping(pid: int) -> None:
    # PEP 475: waitid is retried after a signal handler runs, so this returns only on exit.
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:  # already reaped elsewhere
        return


def _reap(proc: subprocess.Popen[Any]) -> int:
    code = proc.wait()
    return 128 - code if code < 0 else code
