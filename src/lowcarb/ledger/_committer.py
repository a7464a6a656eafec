"""The stay-awake committer: while many local processes append at once, one thread chains them all.

With the file queue alone (:mod:`lowcarb.ledger._handoff`), every queued append costs its writer
a file written and renamed and a named pipe waited on, and its leader a directory listing, a
rename, a read, an unlink and a pipe written; leadership passes from writer to writer, with a
wake-up at each change. On a 2-core machine that work, not the fsync, bounded 8 writers at about
one writer's rate. So when a leader finds appends of other processes queued (the ledger is
contended), it starts a *committer*: a thread of its process that takes the leader lock for
itself, listens on a Unix socket in the queue directory (``c.sock``) and, round after round,
chains in one transaction every append that arrived on the socket or in the file queue since the
last round.
A writer that finds the lock taken sends its records over the socket (one write) and reads its
first record's position back (one read): two system calls where the file queue made a dozen.

* It stops after :data:`IDLE_S` without appends, and after :data:`LIFETIME_S` in any case, so a
  writer that signs its records (which only it can do, so it must lead) is not kept waiting
  long; the next contended leader starts another. It stops at interpreter exit too.
* It stops listening (unlinks the socket) before it releases the lock, serves what had already
  arrived, then closes every connection: a writer whose connection closes without an answer
  looks its records up by id (committed by the committer's last transaction, or never) and, when
  they are not there, appends the usual way. An append is acknowledged only after its
  transaction committed and synced, as everywhere else; the committer neither signs nor stores
  anything of its own, and correctness never depends on it (the chain is only written inside the
  database's transactions, under its lock).
* It writes through its own store (connection and lock): its own process's threads append over
  the socket like any other process's. A ``fork()``ed child closes the parent's descriptors at
  once, and starts a committer of its own when its appends find the ledger contended.
* Only SQLite files and this user's PostgreSQL queues have one (both have a queue directory only
  this user, or whoever may write the ledger file, can reach); not on platforms without ``flock``.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import select
import socket
import struct
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lowcarb.ledger._group import ChainStore, chain_units, finish_claimed
from lowcarb.ledger._handoff import AppendQueue
from lowcarb.ledger._queue_files import Claimed, Unit

__all__ = ["IDLE_S", "LIFETIME_S", "MAX_UNIT_RECORDS", "Committer", "CommitterClient", "Reply"]

_log = logging.getLogger(__name__)

#: A committer stops after this long without an append.
IDLE_S = 0.05
#: ... and after this long in any case (a signing writer must lead by itself).
LIFETIME_S = 1.0
#: Appends of more records than this go the usual way (a committer's round stays small).
MAX_UNIT_RECORDS = 1_000
#: The largest frame a committer reads (bodies are about 1 kB each).
_MAX_FRAME = 64 << 20
_SOCKET = "c.sock"
# The longest a committer waits for an append before it looks whether it should stop.
_POLL_S = 0.025
# How often a committer looks at the file queue (writers that found no socket, a moment ago).
_CLAIM_EVERY_S = 0.005
_HEADER = struct.Struct("!I")
# How long a starting committer tries for the lock (the leader that started it has just let it
# go, and woken a waiting writer which may take it first).
_START_TRIES_S = 0.02
#: A reply: ("chained", seq, prev_hash) of the unit's first record, or ("refused", 0, "").
Reply = tuple[str, int, str]


def socket_path(directory: Path, dir_fd: int) -> str:
    """The committer socket's path: in the queue directory; through ``/proc/self/fd`` when the
    plain path is too long for a Unix socket address (108 bytes)."""
    plain = os.path.join(directory, _SOCKET)
    if len(os.fsencode(plain)) < 100 or dir_fd < 0:
        return plain
    return f"/proc/self/fd/{dir_fd}/{_SOCKET}"


_RUNNING: weakref.WeakSet[Committer] = weakref.WeakSet()


def _close_in_child() -> None:
    for c in list(_RUNNING):
        c.abandon()


def _stop_all() -> None:
    for c in list(_RUNNING):
        c.stop()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_in_child)
atexit.register(_stop_all)


@dataclass
class _Peer:
    sock: socket.socket
    buf: bytearray = field(default_factory=bytearray)


class Committer:
    """One committer thread of this process for one queue directory (see module doc).

    ``open_store`` makes the store it writes through (its own connection and lock); it is
    closed when the committer stops.
    """

    def __init__(
        self,
        directory: Path,
        open_store: Callable[[], tuple[ChainStore, Callable[[], None]]],
        *,
        mode_of: Path | None = None,
    ) -> None:
        self.directory = directory
        self._open_store = open_store
        self._mode_of = mode_of
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._queue: AppendQueue | None = None
        self._listener: socket.socket | None = None
        self._peers: dict[int, _Peer] = {}
        self._next_start = 0.0
        self._next_claim = 0.0

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()

    def start(self) -> None:
        """Start the thread unless one runs (or one started in the last :data:`IDLE_S`)."""
        if self._pid != os.getpid():
            self.abandon()  # a forked child's from now on (the parent's was never started here)
        now = time.monotonic()
        if self.alive or now < self._next_start:
            return
        self._next_start = now + IDLE_S
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="lowcarb-ledger-committer")
        self._thread.daemon = True
        _RUNNING.add(self)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (it serves what has arrived) and wait for it."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout_s)

    def abandon(self) -> None:
        """In a forked child: close the parent's committer descriptors (no thread runs here);
        the committer is then this process's, to start when its own appends are contended."""
        for s in [self._listener, *(p.sock for p in self._peers.values())]:
            if s is not None:
                with contextlib.suppress(OSError):
                    s.close()
        if self._queue is not None:
            self._queue.abandon()
        self._listener, self._peers, self._queue, self._thread = None, {}, None, None
        # The parent's event may have been copied mid-update: this process gets its own.
        self._stopping, self._pid, self._next_start = threading.Event(), os.getpid(), 0.0

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        queue = AppendQueue(self.directory, mode_of=self._mode_of)
        deadline = time.monotonic() + _START_TRIES_S
        while not queue.try_lead():
            if time.monotonic() > deadline:
                queue.close()
                return
            time.sleep(0.0005)
        self._queue = queue
        close_store: Callable[[], None] | None = None
        path = socket_path(self.directory, queue.lock_fd())
        try:
            store, close_store = self._open_store()
            self._listener = self._listen(path, queue.file_mode)
            born = last = time.monotonic()
            while not self._stopping.is_set():
                now = time.monotonic()
                if now - last > IDLE_S or now - born > LIFETIME_S:
                    break
                if self._round(store, queue, wait_s=min(IDLE_S / 2, _POLL_S)):
                    last = time.monotonic()
            self._unlisten(path)
            self._round(store, queue, wait_s=0.0)  # what arrived before the unlink
        except Exception as exc:  # its writers were told, and append the usual way
            _log.warning("ledger committer for %s stopped: %s", self.directory, exc)
            self._unlisten(path)
        finally:
            for peer in self._peers.values():
                with contextlib.suppress(OSError):
                    peer.sock.close()
            self._peers = {}
            queue.release()  # and wake the oldest append still queued in a file
            queue.close()
            self._queue = None
            if close_store is not None:
                with contextlib.suppress(Exception):
                    close_store()

    def _listen(self, path: str, mode: int) -> socket.socket | None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # a dead committer's: this thread holds the lock
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            lsock.bind(path)
            os.chmod(path, mode)  # who may write the ledger may connect
            lsock.listen(64)
        except OSError:
            lsock.close()
            return None  # no socket here: the file queue still groups
        return lsock

    def _unlisten(self, path: str) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)
            self._listener.close()
            self._listener = None

    def _round(self, store: ChainStore, queue: AppendQueue, *, wait_s: float) -> bool:
        """Take what arrived (socket and file queue) and chain it in one transaction; True when
        there was anything."""
        socks: list[Any] = [p.sock for p in self._peers.values()]
        if self._listener is not None:
            socks.append(self._listener)
        ready = select.select(socks, [], [], wait_s)[0] if socks else []
        arrived: list[tuple[_Peer, Unit]] = []
        for s in ready:
            if s is self._listener:
                self._accept()
            else:
                self._read(self._peers[s.fileno()], arrived)
        claimed: list[Claimed] = []
        now = time.monotonic()
        if now >= self._next_claim or wait_s == 0.0:  # the file queue is the slow lane
            self._next_claim = now + _CLAIM_EVERY_S
            claimed = queue.claim()
        if not arrived and not claimed:
            return False
        units = [c.unit for c in claimed] + [u for _, u in arrived]
        orphans = [i for i, c in enumerate(claimed) if c.orphan]
        try:
            with store.write() as tx:
                outcomes, chained = chain_units(tx, units, mine=None, sign=None, orphans=orphans)
        except BaseException:
            queue.unclaim(claimed)
            for peer, _ in arrived:
                self._send(peer, b"e\n")
            raise
        queue.notify(finish_claimed(queue, claimed, outcomes, chained))
        for j, (peer, _) in enumerate(arrived, start=len(claimed)):
            if outcomes[j] == "chain":
                seq, prev = chained[j][0][:2]
                self._send(peer, f"c {seq} {prev}\n".encode("ascii"))
            else:  # refused: it corrects an unknown id (never "stale": sockets have no orphans)
                self._send(peer, b"r\n")
        return True

    def _accept(self) -> None:
        assert self._listener is not None
        with contextlib.suppress(OSError):
            conn, _ = self._listener.accept()
            self._peers[conn.fileno()] = _Peer(conn)

    def _read(self, peer: _Peer, arrived: list[tuple[_Peer, Unit]]) -> None:
        try:
            data = peer.sock.recv(1 << 20)
        except OSError:
            data = b""
        if not data:
            self._drop(peer)
            return
        peer.buf += data
        while len(peer.buf) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(peer.buf)
            if size > _MAX_FRAME:
                self._drop(peer)
                return
            if len(peer.buf) < _HEADER.size + size:
                return
            frame = bytes(peer.buf[_HEADER.size : _HEADER.size + size])
            del peer.buf[: _HEADER.size + size]
            unit = Unit.from_bytes(frame)
            if unit is None:
                self._send(peer, b"r\n")
            else:
                arrived.append((peer, unit))

    def _send(self, peer: _Peer, data: bytes) -> None:
        try:
            peer.sock.sendall(data)
        except OSError:  # its writer died: what was chained stays chained, unacknowledged
            self._drop(peer)

    def _drop(self, peer: _Peer) -> None:
        self._peers.pop(peer.sock.fileno(), None)
        with contextlib.suppress(OSError):
            peer.sock.close()


class CommitterClient:
    """A writer's connection to whichever committer serves its queue directory (one per
    process; the store's write lock serialises its use)."""

    def __init__(self, directory: Path, dir_fd: Callable[[], int]) -> None:
        self.directory = directory
        self._dir_fd = dir_fd
        self._sock: socket.socket | None = None
        self._pid = 0

    def _connect(self) -> socket.socket | None:
        if self._sock is not None and self._pid == os.getpid():
            return self._sock
        self._sock = None  # a parent's (after fork) is left alone
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(socket_path(self.directory, self._dir_fd()))
        except OSError:
            s.close()
            return None
        self._sock, self._pid = s, os.getpid()
        return s

    def close(self) -> None:
        if self._sock is not None and self._pid == os.getpid():
            self._sock.close()
        self._sock = None

    def append(self, unit: Unit, *, timeout_s: float) -> Reply | None:
        """Send ``unit`` to the committer and wait for its verdict.

        Returns None when no committer listens (nothing was sent); ``("error", 0, "")`` when it
        answered that its transaction failed, or closed the connection without answering
        (either way the unit is stored or never will be: look it up by id);
        ``("timeout", 0, "")`` when no answer came within ``timeout_s`` (it may still be
        stored later).
        """
        if len(unit.ids) > MAX_UNIT_RECORDS:
            return None
        s = self._connect()
        if s is None:
            return None
        payload = unit.to_bytes()
        try:
            s.sendall(_HEADER.pack(len(payload)) + payload)
        except OSError:  # a committer that stopped since the last append: nothing was read
            self.close()
            s = self._connect()
            if s is None:
                return None
            try:
                s.sendall(_HEADER.pack(len(payload)) + payload)
            except OSError:
                self.close()
                return None
        line = self._readline(s, timeout_s)
        if line is None:
            self.close()
            return "timeout", 0, ""
        if line.startswith(b"c "):
            seq, _, prev = line[2:].decode("ascii").partition(" ")
            if seq.isdigit() and len(prev) == 64:
                return "chained", int(seq), prev
        if line == b"r":
            return "refused", 0, ""
        self.close()
        return "error", 0, ""

    def _readline(self, s: socket.socket, timeout_s: float) -> bytes | None:
        """The reply line; b"" when the connection closed first, None after ``timeout_s``."""
        buf = b""
        deadline = time.monotonic() + timeout_s
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                return None
            try:
                chunk = s.recv(128)
            except OSError:
                return b""
            if not chunk:
                return b""
            buf += chunk
        return buf[:-1]
