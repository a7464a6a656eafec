"""How a queued append's owner is woken (:mod:`lowcarb.ledger._handoff`): a named pipe per process.

A follower sleeps on its own pipe (``<pid>-<token>.w`` in the queue directory, kept for all its
appends); a leader that chained or refused its append writes one line to it, ``<stem> <message>``
(``"<seq> <prev_hash>"`` of a chained append's first record, or nothing), under the pipe's atomic
write size so that lines of several leaders never mix. A byte written before the follower sleeps
is not lost, and a pipe wakes exactly the waiting process, at once.
"""

from __future__ import annotations

import os
import secrets
import select
import stat
import time

from lowcarb.ledger._queue_files import WAKE, unlink_quietly

__all__ = ["WakePipe", "poke"]


def poke(prefix: str, stem: str, message: str = "") -> None:
    """Write ``<stem> <message>`` to the wake-up pipe of the owner of ``stem`` (when it has one)
    in the queue directory ``prefix`` (its path and a separator)."""
    owner = stem[21:].rpartition("-")[0]  # see AppendQueue.enqueue: <20 digits>-<owner>-<count>
    try:  # not there (its owner left), or nobody reading it
        fd = os.open(prefix + owner + WAKE, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        os.write(fd, f"{stem} {message}\n".encode("ascii"))
    except OSError:  # full: its owner is woken anyway, and reads the ledger instead
        pass
    finally:
        os.close(fd)


class WakePipe:
    """This process's wake-up pipe in one queue directory, and what leaders sent through it.

    Not thread-safe (its queue is used under the store's write lock). After ``fork()`` the
    parent's pipe is not this process's: a child makes its own when it first enqueues.
    """

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._fds: tuple[int, int] | None = None
        self._pid = 0
        self._partial = b""
        self._results: dict[str, tuple[int, str]] = {}
        #: The pipe's name without its suffix (``<pid>-<token>``); part of every append's stem.
        self.name = ""

    def _own(self) -> tuple[int, int] | None:
        return self._fds if self._pid == os.getpid() else None

    @property
    def usable(self) -> bool:
        """Whether this process has a pipe here (else its owner waits by polling)."""
        return self._own() is not None

    def ensure(self, file_mode: int) -> None:
        """Make the pipe (again) when missing; where named pipes cannot be made, do without."""
        own = self._own()
        if own is not None:
            try:
                if stat.S_ISFIFO(os.stat(self._prefix + self.name + WAKE).st_mode):
                    return
            except FileNotFoundError:
                pass  # swept while this process was idle: make another
            os.close(own[0])
            os.close(own[1])
        self._fds, self._pid = None, os.getpid()
        self.name = f"{os.getpid()}-{secrets.token_hex(4)}"
        path = self._prefix + self.name + WAKE
        try:
            os.mkfifo(path, file_mode)
            rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            # Its own writer end too: the pipe then never reads as closed between wake-ups.
            self._fds = (rfd, os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # no named pipes here: wait by polling
            pass

    def wait(self, timeout_s: float) -> None:
        """Sleep until a line arrives or ``timeout_s`` passes; keep what arrived."""
        own = self._own()
        if own is not None and select.select([own[0]], [], [], timeout_s)[0]:
            self._read(own[0])

    def result(self, stem: str, *, wait_s: float) -> tuple[int, str] | None:
        """``(seq, prev_hash)`` sent for ``stem``, waited for up to ``wait_s``; None if none."""
        own = self._own()
        deadline = time.monotonic() + wait_s
        while stem not in self._results and own is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([own[0]], [], [], left)[0]:
                break
            self._read(own[0])
        return self._results.pop(stem, None)

    def leave(self, stem: str) -> None:
        """Drop what was sent about ``stem`` (its owner is done with it)."""
        own = self._own()
        if own is not None:
            self._read(own[0])
        self._results.pop(stem, None)

    def close(self) -> None:
        """Close and remove this process's pipe."""
        own = self._own()
        if own is not None:
            os.close(own[0])
            os.close(own[1])
            unlink_quietly(self._prefix + self.name + WAKE)
        self._fds = None

    def _read(self, fd: int) -> None:
        try:
            data = self._partial + os.read(fd, 65536)
        except BlockingIOError:
            return
        *lines, self._partial = data.split(b"\n")
        for line in lines:
            stem, _, message = line.decode("ascii", "replace").partition(" ")
            seq, _, prev = message.partition(" ")
            if seq.isdigit() and len(prev) == 64:
                self._results[stem] = (int(seq), prev)
