"""The group-commit queue of a SQLite ledger file: many processes' appends, one transaction.

SQLite lets one process write at a time, and a durable commit costs one fsync, so processes that
append at once used to queue for the write lock one fsync each, polling for it with millisecond
sleeps. With group commit, a process that finds the ledger busy hands its records to whichever
process writes next, and that *leader* chains the queued records of every waiting process with its
own in one transaction and one fsync.

The queue is a directory beside the ledger file (``<ledger>-appends``; for a ledger on a database
server, one per user in the temporary directory: the processes of one machine group there,
while other machines' appends still queue on the server's lock), a file per queued append
(``append_many`` call: all its records or none), and the directory's ``flock`` elects the leader:

* **enqueue** (a follower): the records' canonical bodies, their timestamps not yet known, written
  to ``<arrival>.p`` (written under a temporary name, then renamed: a reader never sees half a
  file). No fsync: a queued append is not acknowledged, so it need not survive anything.
* **lead** (whoever holds the lock): rename each ``.p`` to ``.c`` (claimed: its owner can no longer
  withdraw it), chain every claimed append and its own in one ``BEGIN IMMEDIATE`` transaction,
  commit (``synchronous=FULL``: one fsync for all), then delete the ``.c`` files. An append whose
  correction names an unknown record is renamed ``.e`` (refused) instead.
* **wait** (a follower): sleep on its own named pipe (``<arrival>.w``), which the leader writes a
  byte to when it has chained or refused the append; a releasing leader also wakes the owner of
  the oldest append still pending, which leads next (one, not every waiter: a herd racing for
  the lock costs more than the appends); a look every 50 ms covers a leader, or a woken owner,
  that died. Gone means chained: read its position and hash back (by record id) and return.
  Refused means raise. Still pending and the lock free means lead. A pipe wakes exactly the
  waiting process, at once, and a byte written before the follower sleeps is not lost; polling
  the file instead cost each append more CPU than the append itself.

What holds after a crash or ``SIGKILL`` of any process at any point:

* An append is acknowledged (the call returns) only once its transaction is committed and synced,
  so no acknowledged append is lost; the chain is only ever written inside SQLite transactions.
* A leader killed before its commit leaves ``.c`` files and nothing in the ledger: the next leader
  chains them. Killed after its commit, before deleting them: the next leader finds their record
  ids already stored and deletes them without chaining them twice.
* A follower killed while waiting leaves its file: its records are appended, unacknowledged (as an
  interrupted commit may be on any database). One that gives up waiting withdraws its ``.p`` file
  first, so a busy error always means "not appended".

While the ledger stays contended, a leader that found others' appends queued starts a
*committer* (:mod:`lowcarb.ledger._committer`): a thread that keeps the lock and takes appends
over a socket in this directory, two system calls per append where the files cost a dozen; the
files remain the way in for a writer that finds no committer, and the committer claims them too.

The lock and the files only group the work: correctness never depends on them. The SQLite write
lock still serialises transactions and the primary key on ``seq`` still forbids a fork, so a
process that bypasses the queue (an older lowcarb, another tool) is merely not grouped.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Literal

from lowcarb.ledger._queue_files import (
    CLAIMED,
    PENDING,
    REFUSED,
    WAKE,
    Claimed,
    Unit,
    rename_quietly,
    unlink_quietly,
)
from lowcarb.ledger._wake import WakePipe, poke

if sys.platform != "win32":
    import fcntl

__all__ = ["HAVE_FLOCK", "MAX_GROUP_RECORDS", "AppendQueue", "State"]

#: Whether this platform has ``flock`` (elsewhere a SQLite ledger appends without a queue).
HAVE_FLOCK = sys.platform != "win32"

#: A leader chains at most this many queued records in one transaction (bounds its size).
MAX_GROUP_RECORDS = 5_000
#: Temporary files older than this are left-overs of a writer killed while enqueueing.
_STALE_TMP_S = 3600.0
# A leader looks for such left-overs this often.
_SWEEP_EVERY_S = 60.0
# A directory's modification time is trusted (see ``AppendQueue._listing``) once this old.
_SETTLED_NS = 100_000_000
State = Literal["pending", "claimed", "refused", "gone", "withdrawn"]


class AppendQueue:
    """The queue directory of one SQLite ledger file, and its leader lock (see module doc).

    Not thread-safe: the store calls it under its own write lock (one writer per process at a
    time). Safe across ``fork()``: the lock's descriptor is reopened in a child, which must not
    share its parent's (a ``flock`` belongs to the open file, so a shared one would let both in).
    """

    def __init__(
        self,
        directory: Path,
        *,
        mode_of: Path | None = None,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.directory = directory
        self._dir = str(directory) + os.sep  # hot paths join strings, not Paths
        self._mode_of = mode_of
        self._file_mode = 0o644
        self._monotonic_ns = monotonic_ns
        self._sleep = sleep
        self._fd = -1
        self._fd_pid = 0
        self._held = False
        self._wake = WakePipe(self._dir)
        self._appends = 0
        self._swept = 0.0
        self._quiet_mtime_ns = -2
        #: How many pending appends the last :meth:`claim` took (others are appending now;
        #: orphans of a dead leader do not count).
        self.last_claimed = 0

    # -- the leader lock ----------------------------------------------------------------------

    def _lock_fd(self) -> int:
        if self._fd >= 0 and self._fd_pid == os.getpid():
            return self._fd
        if self._mode_of is not None:
            with contextlib.suppress(OSError):  # the permissions of the ledger file itself
                self._file_mode = os.stat(self._mode_of).st_mode & 0o666
        if not self.directory.is_dir():
            # Readable, writable and searchable by whoever may write the ledger file itself.
            mode = self._file_mode | (self._file_mode & 0o444) >> 2
            try:
                self.directory.mkdir(mode=0o700)
                os.chmod(self.directory, mode)
            except FileExistsError:
                pass
        # An inherited descriptor (after fork) is left open: closing it would not release the
        # parent's lock, and the parent still uses it.
        self._fd = os.open(self.directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        self._fd_pid = os.getpid()
        self._held = False
        return self._fd

    def try_lead(self) -> bool:
        """Take the leader lock if it is free (never waits)."""
        try:
            fcntl.flock(self._lock_fd(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._held = True
        return True

    def release(self, *, wake: Mapping[str, str] | None = None, wake_pending: bool = True) -> None:
        """Release the leader lock (when held); then wake the owners of ``wake`` (appends this
        leader chained or refused; each value is a message for the owner: ``"<seq> <prev_hash>"``
        of a chained append's first record, from which its owner computes the rest, or ``""``)
        and the owner of the oldest append still pending, which leads next: waking every
        pending owner would have all of them race for the lock, one winning, the others going
        back to sleep, at a context switch and a look at the queue each (measured: with 8
        writers, that herd cost more CPU than the appends). The others sleep until their
        appends are chained; each looks by itself every 50 ms (a woken owner that died).

        Waking comes after the release: a woken process may run at once, and must not find
        the lock still held (nor keep the leader from releasing it).
        """
        if self._held and self._fd_pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._held = False
            self.notify(wake or {})
            if wake_pending:
                names = self._listing() or []
                pending = [name for name in names if name.endswith(PENDING)]
                if pending:  # the oldest leads next and chains the others' with its own
                    poke(self._dir, min(pending)[:-2])
        self._held = False

    def notify(self, wake: Mapping[str, str]) -> None:
        """Wake the owners of ``wake``'s appends (see :meth:`release`), the lock kept."""
        for stem, message in wake.items():
            poke(self._dir, stem, message)

    @property
    def file_mode(self) -> int:
        """The mode of the queue's files: that of the ledger file (see :meth:`lock_fd`)."""
        self._lock_fd()
        return self._file_mode

    def lock_fd(self) -> int:
        """The descriptor of the queue directory this queue locks (opened when needed)."""
        return self._lock_fd()

    def abandon(self) -> None:
        """In a forked child: close the descriptors inherited from the parent (closing them
        here releases nothing of the parent's, and keeps this child from holding its lock)."""
        if self._fd >= 0 and self._fd_pid != os.getpid():
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd, self._held = -1, False

    def result(self, stem: str, *, wait_s: float = 0.005) -> tuple[int, str] | None:
        """``(seq, prev_hash)`` of the first record of the chained append ``stem``, as its leader
        sent it: it deletes the file, releases the lock, then sends, so the message may follow
        the file's disappearance by a moment (waited for up to ``wait_s``). None when none came
        (a leader that took over from a dead one sends none): read the ledger instead."""
        return self._wake.result(stem, wait_s=wait_s)

    def lead_within(self, deadline: float, *, clock: Callable[[], float]) -> bool:
        """Take the leader lock, waiting until ``deadline`` (``clock`` seconds); False if not."""
        delay = 50e-6
        while not self.try_lead():
            if clock() > deadline:
                return False
            self._sleep(delay)
            delay = min(delay * 2, 1e-3)
        return True

    def close(self) -> None:
        """Close the lock's descriptor and the wake-up pipe (this process's only)."""
        if self._fd >= 0 and self._fd_pid == os.getpid():
            os.close(self._fd)
        self._wake.close()
        self._fd, self._held = -1, False

    # -- followers ----------------------------------------------------------------------------

    def enqueue(self, unit: Unit) -> str:
        """Queue ``unit`` for the next leader; return its stem: arrival time, then the name of
        the owner's wake-up pipe, then a count."""
        self._lock_fd()  # creates the directory when needed
        self._wake.ensure(self._file_mode)  # before the append is visible: never woken too early
        self._appends += 1
        stem = f"{self._monotonic_ns():020d}-{self._wake.name}-{self._appends}"
        tmp = f"{self._dir}.{stem}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, self._file_mode)
        try:
            data = memoryview(unit.to_bytes())
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
        os.rename(tmp, self._dir + stem + PENDING)
        return stem

    def leave(self, stem: str) -> None:
        """The owner of ``stem`` is done with it: drop what was sent about it."""
        self._wake.leave(stem)

    def state(self, stem: str) -> State:
        """Where a queued append is: pending, claimed by a leader, refused, or gone (chained,
        or withdrawn by its owner)."""
        for suffix, state in ((PENDING, "pending"), (CLAIMED, "claimed"), (REFUSED, "refused")):
            try:
                os.stat(self._dir + stem + suffix)
            except FileNotFoundError:
                continue
            return state  # type: ignore[return-value]
        return "gone"

    def withdraw(self, stem: str) -> bool:
        """Take back a pending append; False when a leader has already claimed it."""
        try:
            os.unlink(self._dir + stem + PENDING)
        except FileNotFoundError:
            return False
        return True

    def forget(self, stem: str) -> None:
        """Delete a refused append's file (its owner has read the verdict)."""
        unlink_quietly(self._dir + stem + REFUSED)

    def drop(self, stem: str) -> None:
        """Delete an append's file whatever its state (its owner leads and gives it up)."""
        for suffix in (PENDING, CLAIMED, REFUSED):
            unlink_quietly(self._dir + stem + suffix)

    def wait(self, stem: str, deadline: float, *, clock: Callable[[], float]) -> State:
        """Wait until the append ``stem`` is gone or refused, or this process may lead.

        Returns ``"gone"`` or ``"refused"``; ``"pending"`` or ``"claimed"`` with the leader lock
        taken (this process leads, its own append still queued); ``"withdrawn"`` when it was still
        pending at ``deadline`` and has been taken back (never appended). A claimed append is
        waited for past ``deadline``: a leader is committing it.
        """
        delay = 50e-6
        while True:
            state = self.state(stem)
            if state in ("gone", "refused"):
                return state
            if state == "pending" and self.try_lead():
                # Look again: a leader may have finished between the look and the lock.
                state = self.state(stem)
                if state in ("gone", "refused"):
                    self.release(wake_pending=False)
                return state
            left = deadline - clock()
            if state == "pending" and left <= 0 and self.withdraw(stem):
                return "withdrawn"
            if not self._wake.usable:
                self._sleep(delay)
                delay = min(delay * 2, 1e-3)
                continue
            timeout = min(0.05, max(left, 0.0005)) if state == "pending" else 0.05
            self._wake.wait(timeout)

    # -- leaders ------------------------------------------------------------------------------

    def claim(self, *, max_records: int = MAX_GROUP_RECORDS) -> list[Claimed]:
        """Claim queued appends, oldest first (leader only): orphans of dead leaders, then
        pending ones, up to ``max_records`` records (at least one append)."""
        self.last_claimed = 0
        names = self._listing()
        if not names:
            if names is not None:  # listed empty: nothing to sweep either
                self._swept = time.time()
            return []
        out: list[Claimed] = []
        records = 0
        now = time.time()
        sweep = now - self._swept > _SWEEP_EVERY_S
        if sweep:
            self._swept = now
        for name in sorted(names, key=lambda n: (not n.endswith(CLAIMED), n)):
            if name.startswith(".") or name.endswith(WAKE):
                if sweep:
                    self._sweep(name, now)
                continue
            stem, suffix = name[:-2], name[-2:]
            if suffix not in (PENDING, CLAIMED):
                continue
            if records >= max_records:
                break
            claimed = self._dir + stem + CLAIMED
            if suffix == PENDING:
                try:
                    os.rename(self._dir + name, claimed)
                except FileNotFoundError:
                    continue  # withdrawn by its owner
            try:
                with open(claimed, "rb") as fh:
                    unit = Unit.from_bytes(fh.read())
            except FileNotFoundError:
                continue
            if unit is None:  # not ours to chain; its owner (if any) is told it was refused
                rename_quietly(claimed, self._dir + stem + REFUSED)
                continue
            out.append(Claimed(stem, unit, orphan=suffix == CLAIMED))
            records += len(unit.ids)
        self.last_claimed = sum(not c.orphan for c in out)
        return out

    def _listing(self) -> list[str] | None:
        """The queue directory's names; None when it is known to hold no queued append.

        Known means: it was listed holding none, and its modification time has not changed
        since (one ``fstat`` instead of a listing: two per uncontended append). That time is
        trusted only once it is older than :data:`_SETTLED_NS`, since a file system stamps
        times from a clock that advances in ticks: a file queued within the tick of the last
        listing would leave the time unchanged. Should a file system not update it at all,
        a queued append waits for its owner's own look (every 50 ms), never longer.
        """
        try:
            mtime = os.fstat(self._lock_fd()).st_mtime_ns
        except OSError:
            mtime = -1
        if mtime == self._quiet_mtime_ns and time.time() - self._swept <= _SWEEP_EVERY_S:
            return None
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        quiet = not any(n.endswith((PENDING, CLAIMED)) for n in names)
        settled = time.time_ns() - mtime > _SETTLED_NS
        self._quiet_mtime_ns = mtime if quiet and settled and mtime >= 0 else -2
        return names

    def finish(self, chained: Iterable[Claimed], refused: Iterable[Claimed]) -> None:
        """After the commit: delete chained appends' files, mark refused ones (their owners are
        woken by :meth:`release`)."""
        for c in chained:
            unlink_quietly(self._dir + c.stem + CLAIMED)
        for c in refused:
            rename_quietly(self._dir + c.stem + CLAIMED, self._dir + c.stem + REFUSED)

    def unclaim(self, claimed: Iterable[Claimed]) -> None:
        """After a failed transaction: hand the claimed appends back to the queue."""
        for c in claimed:
            rename_quietly(self._dir + c.stem + CLAIMED, self._dir + c.stem + PENDING)

    def _sweep(self, name: str, now: float) -> None:
        """Remove a temporary file or a wake-up pipe left by a writer killed long ago."""
        path = self._dir + name
        try:
            st = os.stat(path)
            if now - st.st_mtime <= _STALE_TMP_S:
                return
            if name.endswith(WAKE):  # idle an hour: its owner, if alive, makes another
                if not stat.S_ISFIFO(st.st_mode) or name == self._wake.name + WAKE:
                    return
            elif not name.endswith(".tmp"):
                return
            os.unlink(path)
        except FileNotFoundError:
            pass
