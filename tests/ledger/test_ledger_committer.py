"""The stay-awake committer (``lowcarb.ledger._committer``): while a ledger is contended, one
thread holds the leader lock and chains every writer's appends, which arrive over a socket.

Each ``open_ledger`` here stands for a process (its own queue descriptor, lock and socket); the
committer's host is killed for real with SIGKILL where it matters.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lowcarb.ledger import RecordDraft, _committer, open_ledger
from lowcarb.ledger._committer import socket_path
from lowcarb.ledger._handoff import AppendQueue
from lowcarb.ledger._queue_files import queue_dir
from lowcarb.ledger.testing import sample_draft

HOST = """
import sys, time
from lowcarb.ledger import _committer, open_ledger
_committer.LIFETIME_S = _committer.IDLE_S = 120.0
ledger = open_ledger(sys.argv[1], environ={})
ledger._store.committer.start()
while not ledger._store.committer.alive or ledger._store.committer._listener is None:
    time.sleep(0.01)
print("serving", flush=True)
time.sleep(120)
"""


@pytest.fixture
def long_lived(monkeypatch: pytest.MonkeyPatch) -> None:
    """Committers of this process stay up until stopped (a test decides when they end)."""
    monkeypatch.setattr(_committer, "LIFETIME_S", 60.0)
    monkeypatch.setattr(_committer, "IDLE_S", 60.0)


def _serving(ledger: Any) -> None:
    committer = ledger._store.committer
    committer.start()
    deadline = time.monotonic() + 10
    while not (committer.alive and committer._listener is not None):
        assert time.monotonic() < deadline, "the committer did not start"
        time.sleep(0.005)


def test_writers_append_through_a_running_committer_in_its_transactions(
    tmp_path: Path, long_lived: None
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url, environ={}) as host, open_ledger(url, environ={}) as writer:
        host.append(sample_draft(team="first"))
        _serving(host)
        assert not writer._store.queue.try_lead()  # the committer holds the lock
        records = [writer.append(sample_draft(team="w", metadata={"i": i})) for i in range(5)]
        mine = host.append(sample_draft(team="host"))  # its own threads use the socket too
        assert writer._store._client._sock is not None  # they went over the socket
        for r in [*records, mine]:
            stored = host.get(r.id)
            assert (stored.seq, stored.prev_hash, stored.hash) == (r.seq, r.prev_hash, r.hash)
        assert [r.seq for r in records] == [2, 3, 4, 5, 6] and mine.seq == 7
        assert host.verify().ok
        host._store.committer.stop()
        assert not os.path.exists(socket_path(queue_dir(tmp_path / "ledger.db"), -1))
        writer.append(sample_draft(team="after"))  # no committer: leads by itself
        assert host.verify().ok and host.count() == 8


def test_a_correction_of_an_unknown_record_is_refused_by_the_committer(
    tmp_path: Path, long_lived: None
) -> None:
    from lowcarb.errors import InvalidValueError

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url, environ={}) as host, open_ledger(url, environ={}) as writer:
        first = host.append(sample_draft())
        _serving(host)
        with pytest.raises(InvalidValueError, match="unknown record"):
            writer.append(RecordDraft(kind="correction", corrects="no-such-id"))
        fixed = writer.append(RecordDraft(kind="correction", corrects=first.id))
        assert fixed.corrects == first.id and host.verify().ok and host.count() == 2


def test_a_killed_committer_leaves_writers_to_append_the_usual_way(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url, environ={}) as writer:
        writer.append(sample_draft(team="first"))
        host = subprocess.Popen(
            [sys.executable, "-c", HOST, url], stdout=subprocess.PIPE, text=True
        )
        try:
            assert host.stdout is not None and host.stdout.readline().strip() == "serving"
            before = writer.append(sample_draft(team="through"))
            assert writer._store._client._sock is not None
        finally:
            os.kill(host.pid, signal.SIGKILL)
            host.communicate(timeout=10)
        # Its socket file stays behind (nobody unlinked it), its connection is closed and its
        # lock released: the next append finds no committer and leads.
        assert os.path.exists(socket_path(queue_dir(tmp_path / "ledger.db"), -1))
        after = writer.append(sample_draft(team="after"))
        assert (before.seq, after.seq) == (2, 3)
        assert writer.verify().ok and writer.count() == 3


def test_a_signing_writer_gets_the_lock_when_the_committer_idles(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    from lowcarb.ledger import Ed25519Signer

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    signer = Ed25519Signer.generate()
    with open_ledger(url, environ={}) as host, open_ledger(url, environ={}, signer=signer) as b:
        _serving(host)
        t0 = time.monotonic()
        rec = b.append(sample_draft(team="signed"))  # waits for the lock: only it can sign
        assert time.monotonic() - t0 < 5.0  # the committer idled out (50 ms) and let go
        assert rec.signature is not None
        assert host.verify(public_key=signer.trusted_key()).ok


def test_a_forked_child_holds_neither_the_committer_lock_nor_its_socket(
    tmp_path: Path, long_lived: None
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url, environ={}) as host:
        host.append(sample_draft())
        _serving(host)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child only waits
            time.sleep(3)
            os._exit(0)
        try:
            host._store.committer.stop()
            probe = AppendQueue(queue_dir(tmp_path / "ledger.db"))
            assert probe.try_lead()  # the child's copy of the lock was closed at the fork
            probe.release()
            probe.close()
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def test_a_forked_child_starts_a_committer_of_its_own(tmp_path: Path, long_lived: None) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url, environ={}) as host, open_ledger(url, environ={}) as writer:
        host.append(sample_draft())
        _serving(host)  # the parent's committer runs when the child is forked
        go_r, go_w = os.pipe()
        said_r, said_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            status = 1
            try:
                os.read(go_r, 1)  # the parent's committer has stopped
                _serving(host)
                os.write(said_w, b"s")
                time.sleep(30)
            except BaseException:
                os.write(said_w, b"e")
            finally:
                os._exit(status)
        try:
            host._store.committer.stop()
            os.write(go_w, b"g")
            assert os.read(said_r, 1) == b"s", "the child started no committer"
            rec = writer.append(sample_draft(team="via-child"))
            assert writer._store._client._sock is not None  # it went over the child's socket
            assert rec.seq == 2 and host.get(rec.id) is not None
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            for fd in (go_r, go_w, said_r, said_w):
                os.close(fd)
        assert writer.append(sample_draft(team="after")).seq == 3
        assert host.verify().ok


def test_garbage_on_the_socket_is_refused_and_the_committer_keeps_serving(
    tmp_path: Path, long_lived: None
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url, environ={}) as host, open_ledger(url, environ={}) as writer:
        host.append(sample_draft())
        _serving(host)
        path = socket_path(queue_dir(tmp_path / "ledger.db"), -1)
        bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        bad.connect(path)
        payload = b"not a unit"
        bad.sendall(struct.pack("!I", len(payload)) + payload)
        bad.settimeout(10)
        assert bad.recv(16) == b"r\n"
        huge = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        huge.connect(path)
        huge.sendall(struct.pack("!I", 1 << 31))  # over the frame limit: dropped
        huge.settimeout(10)
        assert huge.recv(16) == b""
        bad.close()
        huge.close()
        rec = writer.append(sample_draft(team="fine"))
        assert rec.seq == 2 and host.verify().ok and host.count() == 2


def test_many_threads_of_many_ledgers_through_one_committer_lose_nothing(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledgers = [open_ledger(url, environ={}) for _ in range(4)]
    ledgers[0].append(sample_draft())
    ids: list[str] = []
    lock = threading.Lock()

    def write(k: int) -> None:
        for i in range(40):
            rec = ledgers[k].append(sample_draft(team=f"t{k}", metadata={"i": i}))
            with lock:
                ids.append(rec.id)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    try:
        assert len(ids) == 160 and len(set(ids)) == 160
        assert ledgers[0].count() == 161 and ledgers[0].verify().ok
        assert all(ledgers[0].get(i) is not None for i in ids)
    finally:
        for led in ledgers:
            led.close()
