"""Group commit: many writers' appends in one transaction, and nothing acknowledged ever lost.

SQLite files group through a queue directory beside the ledger (``lowcarb.ledger._handoff``);
PostgreSQL through commits that share fsyncs (``lowcarb.ledger._pgwrite``). The processes killed
here with SIGKILL stand for any crash of a writer: every append acknowledged to one (its call
returned) must be in the ledger afterwards, and the chain must verify.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lowcarb.errors import InvalidValueError, LedgerBusyError
from lowcarb.ledger import Ledger, RecordDraft, open_ledger
from lowcarb.ledger._canonical import chain_hash
from lowcarb.ledger._handoff import AppendQueue
from lowcarb.ledger._queue_files import Unit, queue_dir
from lowcarb.ledger._sql import WriteTransaction
from lowcarb.ledger.testing import sample_draft

ACKNOWLEDGING_WRITER = """
import sys
from lowcarb.ledger import open_ledger
from lowcarb.ledger.testing import sample_draft
ledger = open_ledger(sys.argv[1], environ={})
print("ready", flush=True)
i = 0
while True:
    rec = ledger.append(sample_draft(team=sys.argv[2], metadata={"i": i}))
    print(rec.id, flush=True)  # acknowledged: the call returned
    i += 1
"""

LEADER_KILLED = """
import sys, time
from lowcarb.ledger import _group, _handoff, open_ledger
from lowcarb.ledger.testing import sample_draft
url, where = sys.argv[1], sys.argv[2]
ledger = open_ledger(url, environ={})
if where == "before-commit":
    original = _group.chain_units
    def chain_then_hang(tx, units, **kw):
        out = original(tx, units, **kw)  # rows inserted, transaction still open
        print("chained", len(units), flush=True)
        time.sleep(120)
        return out
    _group.chain_units = chain_then_hang
else:
    def hang(self, chained, refused):  # committed; the claimed files not yet deleted
        print("committed", len(list(chained)), flush=True)
        time.sleep(120)
    _handoff.AppendQueue.finish = hang
ledger.append(sample_draft(team="leader"))
"""


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _queued_unit(*drafts: RecordDraft) -> Unit:
    """The unit another (unsigned) process would queue for ``drafts``."""
    from lowcarb.ledger._canonical import figures_of, format_time
    from lowcarb.ledger._fastbody import encode_draft_body
    from lowcarb.ledger._record import new_record_id, utc_now

    stamp = format_time(utc_now())
    ids = tuple(new_record_id() for _ in drafts)
    bodies = tuple(
        encode_draft_body(
            d,
            record_id=i,
            timestamp=stamp,
            signer=None,
            figures=figures_of(d.footprint, d.market) if d.footprint else None,
        )
        for d, i in zip(drafts, ids, strict=True)
    )
    return Unit(ids, bodies, frozenset(d.corrects for d in drafts if d.corrects))


def _queued(directory: Path) -> list[str]:
    """The appends in a queue directory (not the writers' wake-up pipes, ``*.w``, nor a
    committer's socket, ``c.sock``)."""
    return sorted(n for n in os.listdir(directory) if not n.endswith((".w", ".sock")))


def _queue(tmp_path: Path) -> AppendQueue:
    return AppendQueue(queue_dir(tmp_path / "ledger.db"))


# -- the queue -------------------------------------------------------------------------------


def test_a_unit_survives_its_file_and_garbage_is_not_a_unit() -> None:
    unit = Unit(("a", "b"), ('{"x":1}', '{"y":"\\n"}'), frozenset({"z"}))
    assert Unit.from_bytes(unit.to_bytes()) == unit
    for junk in (b"", b"not json\n{}", b'{"ids": ["a"], "corrects": []}', b"\xff\xfe"):
        assert Unit.from_bytes(junk) is None


def test_one_leader_at_a_time_even_within_one_process(tmp_path: Path) -> None:
    a, b = _queue(tmp_path), _queue(tmp_path)  # two stores of one file: two descriptors
    assert a.try_lead()
    assert not b.try_lead()
    assert not b.lead_within(time.monotonic() + 0.05, clock=time.monotonic)
    a.release()
    assert b.try_lead()
    b.release()
    a.close()
    b.close()


def test_claims_take_orphans_first_then_arrivals_in_order_and_skip_withdrawn(
    tmp_path: Path,
) -> None:
    q = _queue(tmp_path)
    units = [Unit((f"id{i}",), (f'{{"n":{i}}}',), frozenset()) for i in range(4)]
    stems = [q.enqueue(u) for u in units]
    assert q.withdraw(stems[1])  # its owner gave up before any leader claimed it
    os.rename(q.directory / f"{stems[3]}.p", q.directory / f"{stems[3]}.c")  # a dead leader's
    (q.directory / "junk.p").write_bytes(b"garbage")
    assert q.try_lead()
    claimed = q.claim()
    assert [c.unit.ids[0] for c in claimed] == ["id3", "id0", "id2"]
    assert [c.orphan for c in claimed] == [True, False, False]
    assert q.state("junk") == "refused"  # never chained; an owner, if any, is told
    assert not q.withdraw(stems[0])  # claimed: its owner can no longer take it back
    q.finish(claimed[:2], claimed[2:])
    assert [q.state(s) for s in stems] == ["gone", "gone", "refused", "gone"]
    q.release()
    q.close()


def test_a_stale_temporary_file_is_swept(tmp_path: Path) -> None:
    q = _queue(tmp_path)
    q.enqueue(Unit(("a",), ("{}",), frozenset()))
    stale = q.directory / ".0-1-dead.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (0, 0))
    fresh = q.directory / ".0-2-live.tmp"
    fresh.write_bytes(b"half")
    assert q.try_lead()
    assert len(q.claim()) == 1
    assert not stale.exists() and fresh.exists()
    q.release()
    q.close()


def test_an_uncontended_leader_does_not_list_a_settled_empty_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lowcarb.ledger import _handoff

    monkeypatch.setattr(_handoff, "_SETTLED_NS", 0)  # any time stamp counts as settled
    q, other = _queue(tmp_path), _queue(tmp_path)
    listed: list[str] = []
    real = os.listdir

    def counting(path: Any) -> list[str]:
        listed.append(str(path))
        return real(path)

    assert q.try_lead() and q.claim() == []  # lists it once: empty
    q.release()
    monkeypatch.setattr(_handoff.os, "listdir", counting)
    for _ in range(3):
        assert q.try_lead() and q.claim() == []
        q.release()
    assert listed == []  # unchanged since: an fstat each, no listing
    # A queued append changes the directory's time: the next leader lists it and claims it.
    time.sleep(0.01)
    stem = other.enqueue(_queued_unit(sample_draft()))
    assert q.try_lead()
    claimed = q.claim()
    assert [c.stem for c in claimed] == [stem] and listed
    q.finish(claimed, [])
    q.release()
    q.close()
    other.close()


# -- grouping on SQLite ------------------------------------------------------------------------


@pytest.fixture
def two_writers(tmp_path: Path) -> Any:
    """Two ledgers on one SQLite file: two writers as two processes would be."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    a, b = open_ledger(url, environ={}), open_ledger(url, environ={})
    yield a, b
    a.close()
    b.close()


def _in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # handed to the test thread
            out["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    return t, out


def _wait_for(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_the_next_writer_chains_a_queued_append_with_its_own_in_one_transaction(
    two_writers: tuple[Ledger, Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_writers
    a.append(sample_draft(team="first"))
    queue = a._store.queue
    assert queue is not None
    assert queue.try_lead()  # a is busy (it leads next, holding the lock): b must queue
    t, out = _in_thread(lambda: b.append_many([sample_draft(team="b"), sample_draft(team="b")]))
    _wait_for(lambda: any(n.endswith(".p") for n in _queued(queue.directory)))
    batches: list[int] = []
    original = WriteTransaction.insert

    def counting(self: WriteTransaction, rows: list[Any]) -> None:
        batches.append(len(rows))
        original(self, rows)

    monkeypatch.setattr(WriteTransaction, "insert", counting)
    own = a.append(sample_draft(team="a"))  # leads: b's two records, then its own
    t.join(10)
    assert "error" not in out, out.get("error")
    queued = out["value"]
    assert batches == [3]  # one transaction (one fsync) for both writers
    assert [r.seq for r in queued] == [2, 3] and own.seq == 4
    for r in [*queued, own]:
        stored = a.get(r.id)
        assert (stored.seq, stored.prev_hash, stored.hash) == (r.seq, r.prev_hash, r.hash)
        assert stored.timestamp == r.timestamp and stored.attribution == r.attribution
    assert a.verify().ok and a.count() == 4
    assert _queued(queue.directory) == []


def test_a_queued_append_not_chained_in_time_is_withdrawn(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url, environ={}, busy_timeout_s=0.2) as ledger:
        ledger.append(sample_draft())
        holder = AppendQueue(queue_dir(tmp_path / "ledger.db"))
        assert holder.try_lead()  # a leader that never finishes
        t0 = time.monotonic()
        with pytest.raises(LedgerBusyError, match=r"0\.2 s"):
            ledger.append(sample_draft())
        assert 0.15 < time.monotonic() - t0 < 5
        assert _queued(holder.directory) == []  # withdrawn: it will never be appended
        holder.release()
        holder.close()
        assert ledger.append(sample_draft()).seq == 2


def test_a_queued_correction_of_an_unknown_record_is_refused_to_its_writer_alone(
    two_writers: tuple[Ledger, Ledger],
) -> None:
    a, b = two_writers
    kept = a.append(sample_draft(team="kept"))
    queue = a._store.queue
    assert queue is not None and queue.try_lead()
    bad = RecordDraft(kind="correction", corrects="no-such-record")
    t_bad, bad_out = _in_thread(lambda: b.append(bad))
    _wait_for(lambda: any(n.endswith(".p") for n in _queued(queue.directory)))
    a.append(RecordDraft(kind="correction", corrects=kept.id))  # leads; refuses b's only
    t_bad.join(10)
    assert isinstance(bad_out.get("error"), InvalidValueError)
    assert "no-such-record" in str(bad_out["error"])
    assert a.verify().ok and a.count() == 2
    assert _queued(queue.directory) == []


def test_a_signing_writer_never_queues_its_records(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    from lowcarb.ledger import Ed25519Signer

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    signer = Ed25519Signer.generate()
    with open_ledger(url, environ={}) as a, open_ledger(url, environ={}, signer=signer) as b:
        queue = a._store.queue
        assert queue is not None and queue.try_lead()
        t, out = _in_thread(lambda: b.append(sample_draft()))
        time.sleep(0.1)
        assert _queued(queue.directory) == []  # it waits to lead: only it can sign
        queue.release()
        t.join(10)
        assert out["value"].signature is not None
        assert a.verify(public_key=signer.trusted_key()).ok


@pytest.mark.parametrize("where", ["before-commit", "after-commit"])
def test_a_leader_killed_mid_group_neither_loses_nor_doubles_a_queued_append(
    tmp_path: Path, where: str
) -> None:
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    with open_ledger(url, environ={}) as ledger:
        ledger.append(sample_draft(team="before"))
        queued = _queued_unit(sample_draft(team="queued"))
        follower = AppendQueue(queue_dir(path))
        follower.enqueue(queued)  # a follower's append, waiting
        leader = _spawn(LEADER_KILLED, url, where)
        assert leader.stdout is not None
        line = leader.stdout.readline().strip()
        assert line in ("chained 2", "committed 1"), leader.stderr.read() if leader.stderr else ""
        os.kill(leader.pid, signal.SIGKILL)
        leader.communicate(timeout=10)
        ledger.append(sample_draft(team="after"))  # the next leader takes over the claim
        teams = Counter(r.attribution.team for r in ledger.records())
        expected = {"before": 1, "queued": 1, "after": 1}
        if where == "after-commit":
            expected["leader"] = 1
        assert teams == expected
        assert ledger.verify().ok
        follower.close()  # its wake-up pipe goes with it
        assert os.listdir(queue_dir(path)) == []


# -- SIGKILL: nothing acknowledged is lost, on both backends ---------------------------------


@pytest.mark.slow
def test_writers_killed_at_random_never_lose_an_acknowledged_append(ledger_url: str) -> None:
    with open_ledger(ledger_url, environ={}) as ledger:
        ledger.append(sample_draft(team="setup"))
    procs = [_spawn(ACKNOWLEDGING_WRITER, ledger_url, f"w{i}") for i in range(6)]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
    rng = random.Random(20)
    time.sleep(1.0)
    for p in rng.sample(procs, len(procs)):
        time.sleep(rng.uniform(0.0, 0.2))
        os.kill(p.pid, signal.SIGKILL)
    acknowledged: set[str] = set()
    raw_out = []
    for p in procs:
        assert p.stdout is not None
        out = p.stdout.read()  # after "ready" (communicate() would skip what readline buffered)
        p.communicate(timeout=30)  # the rest: stderr, and closing the pipes
        raw_out.append(out)
        acknowledged |= set(out.split())
    with open_ledger(ledger_url, environ={}, busy_timeout_s=10) as ledger:
        result = ledger.verify()
        assert result.ok, result.reason
        stored = {r.id for r in ledger.records()}
        assert acknowledged, "no append was acknowledged before the kill"
        lost = acknowledged - stored
        ctx = [o[max(0, o.find(x) - 120) : o.find(x) + 60] for x in lost for o in raw_out if x in o]
        assert not lost, f"acknowledged but not stored: {sorted(lost)} {ctx!r}"
        assert result.entries == len(stored)
        # Appends the killed writers had queued, never acknowledged, may be chained now: the
        # next writer leads them in. Either way the chain stays whole.
        assert ledger.append(sample_draft(team="after")).seq > result.entries
        assert ledger.verify().ok


# -- PostgreSQL ------------------------------------------------------------------------------


def test_postgres_chains_on_the_server_exactly_as_lowcarb_hashes(postgres_url: str) -> None:
    odd = {"quote": "it's", "backslash": "C:\\x\\", "dollar": "$$ $lc$", "unicode": "café ☃ 🌍"}
    with open_ledger(postgres_url, environ={}) as ledger:
        records = [ledger.append(sample_draft(metadata=odd)) for _ in range(3)]
        for r in records:
            assert r.hash == chain_hash(r.seq, r.prev_hash, ledger._store.get(r.id)[3])  # type: ignore[index]
        assert ledger.verify().ok
        assert ledger.get(records[0].id).metadata["unicode"] == "café ☃ 🌍"


def test_postgres_writers_from_two_machines_share_fsyncs_and_stay_durable(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    from lowcarb.ledger import _pgwrite, _sql

    later: list[bool] = []
    flushed: list[bool] = []
    original_one, original_durable = _pgwrite.pg_append_one, _pgwrite.pg_durable

    def one(dbc: Any, body: str, *, wait: str) -> Any:
        out = original_one(dbc, body, wait=wait)
        later.append(out[1])
        return out

    def durable(dbc: Any) -> None:
        flushed.append(True)
        original_durable(dbc)

    monkeypatch.setattr(_sql, "pg_append_one", one)
    monkeypatch.setattr(_sql, "pg_durable", durable)
    u = make_url(postgres_url)
    conninfo = f"host={u.host} port={u.port} user={u.username} dbname={u.database}"
    with open_ledger(postgres_url, environ={}) as a, open_ledger(postgres_url, environ={}) as b:
        a._store.queue = b._store.queue = None  # as from two machines: they meet on the server
        a.append(sample_draft())
        assert later == [False] and not flushed  # alone: an ordinary synchronous commit
        with psycopg.connect(conninfo) as holder:
            holder.execute("SELECT pg_advisory_xact_lock(%s)", (_pgwrite.PG_LOCK_KEY,))
            threads = [_in_thread(lambda led=led: led.append(sample_draft())) for led in (a, b)]

            def waiting() -> bool:
                row = holder.execute(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE l.locktype = 'advisory' AND NOT l.granted "
                    "AND d.datname = current_database()"
                ).fetchone()
                return row is not None and row[0] == 2

            _wait_for(waiting)
            holder.rollback()  # both were waiting: the first to get the lock sees the other
        for t, out in threads:
            t.join(10)
            assert "error" not in out, out.get("error")
        assert later[1:].count(True) >= 1 and len(flushed) == later.count(True)
        result = a.verify()
        assert result.ok and result.entries == 3


def _session_functions(conninfo: str) -> int:
    import psycopg

    with psycopg.connect(conninfo) as c:
        row = c.execute(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE p.proname = 'lowcarb_append_one' AND n.nspname LIKE 'pg_temp%'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_postgres_single_appends_move_to_a_session_function_with_the_same_chain(
    postgres_url: str,
) -> None:
    from sqlalchemy.engine import make_url

    u = make_url(postgres_url)
    conninfo = f"host={u.host} port={u.port} user={u.username} dbname={u.database}"
    with open_ledger(postgres_url, environ={}) as ledger:
        first = [ledger.append(sample_draft()) for _ in range(2)]
        assert _session_functions(conninfo) == 0  # a short-lived writer never creates it
        later = [ledger.append(sample_draft(metadata={"n": i})) for i in range(4)]
        assert _session_functions(conninfo) == 1
        records = first + later
        assert [r.seq for r in records] == list(range(1, 7))
        for prev, r in itertools.pairwise(records):
            assert r.prev_hash == prev.hash
            assert r.hash == chain_hash(r.seq, r.prev_hash, ledger._store.get(r.id)[3])  # type: ignore[index]
        assert ledger.verify().ok
    assert _session_functions(conninfo) == 0  # temporary: gone with the session


def test_postgres_single_appends_without_the_temp_privilege_keep_the_query_string(
    postgres_url: str,
) -> None:
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    from lowcarb.ledger import _pgwrite

    u = make_url(postgres_url)
    admin = f"host={u.host} port={u.port} user={u.username} dbname={u.database}"
    role = f"lowcarb_notemp_{uuid.uuid4().hex[:8]}"
    with open_ledger(postgres_url, environ={}):
        pass  # created by the admin: the role below only appends
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE ROLE "{role}" LOGIN')
        c.execute(f'REVOKE TEMPORARY ON DATABASE "{u.database}" FROM PUBLIC')
        c.execute(f'GRANT CONNECT ON DATABASE "{u.database}" TO "{role}"')
        c.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        c.execute(f'GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO "{role}"')
    try:
        url = postgres_url.replace(f"//{u.username}@", f"//{role}@")
        with open_ledger(url, environ={}) as ledger:
            ledger._store.queue = None
            records = [ledger.append(sample_draft()) for _ in range(5)]
            assert [r.seq for r in records] == list(range(1, 6))
            # refused, and remembered as such for the connection (not asked again)
            assert list(_pgwrite._FN_STATE.values()).count(-2) == 1
            assert ledger.verify().ok
        assert _session_functions(admin) == 0
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"')
            c.execute(f'REVOKE ALL ON SCHEMA public FROM "{role}"')
            c.execute(f'REVOKE ALL ON DATABASE "{u.database}" FROM "{role}"')
            c.execute(f'DROP ROLE "{role}"')
