"""Tampering with the database behind lowcarb's back is detected and located.

Each test drops the append-only triggers with the database's own client (sqlite3 or psycopg),
edits, deletes, inserts or reorders rows, then runs ``lowcarb ledger verify``: it must exit 1 and
name the first bad record. Both backends.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import StringIO
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.ledger import Checkpoint, open_ledger
from lowcarb.ledger._canonical import chain_hash
from lowcarb.ledger.testing import sample_draft

N = 8


@contextmanager
def raw_db(url: str) -> Iterator[Any]:
    """A DB-API connection to the ledger's database, outside lowcarb, autocommitting."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        conn = sqlite3.connect(parsed.database or "", isolation_level=None)
    else:
        import psycopg

        conn = psycopg.connect(
            host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database
        )
        conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


def drop_triggers(conn: Any) -> None:
    if isinstance(conn, sqlite3.Connection):
        conn.execute("DROP TRIGGER lowcarb_ledger_no_update")
        conn.execute("DROP TRIGGER lowcarb_ledger_no_delete")
    else:
        conn.execute("DROP TRIGGER lowcarb_ledger_no_update_delete ON lowcarb_ledger")


def ph(conn: Any) -> str:
    return "?" if isinstance(conn, sqlite3.Connection) else "%s"


def row(conn: Any, seq: int) -> tuple[str, str, str]:
    got = conn.execute(
        f"SELECT prev_hash, hash, body FROM lowcarb_ledger WHERE seq = {ph(conn)}", (seq,)
    ).fetchone()
    return str(got[0]), str(got[1]), str(got[2])


def set_row(conn: Any, seq: int, prev: str, hash_: str, body: str) -> None:
    p = ph(conn)
    conn.execute(
        f"UPDATE lowcarb_ledger SET prev_hash = {p}, hash = {p}, body = {p} WHERE seq = {p}",
        (prev, hash_, body, seq),
    )


def renumber(conn: Any, where: str, delta: int) -> None:
    """Shift seq by ``delta`` for rows matching ``where`` (via negatives: no PK clashes)."""
    conn.execute(f"UPDATE lowcarb_ledger SET seq = -seq WHERE {where}")
    conn.execute(f"UPDATE lowcarb_ledger SET seq = -seq + ({delta}) WHERE seq < 0")


def verify(url: str, *extra: str) -> tuple[int, dict[str, Any]]:
    out, err = StringIO(), StringIO()
    ctx = CliContext(stdout=out, stderr=err, environ={})
    rc = main(["ledger", "verify", "--ledger", url, "--json", *extra], ctx=ctx)
    return rc, json.loads(out.getvalue())


@pytest.fixture
def filled(ledger_url: str) -> str:
    with open_ledger(ledger_url, environ={}) as ledger:
        for i in range(N):
            ledger.append(sample_draft(team=f"team{i % 3}"))
    rc, result = verify(ledger_url)
    assert (rc, result["ok"], result["entries"]) == (0, True, N)
    return ledger_url


def _edit(conn: Any) -> None:
    conn.execute(
        "UPDATE lowcarb_ledger SET body = replace(body, '\"co2e_g\":1368.0', '\"co2e_g\":13.0') "
        "WHERE seq = 5"
    )


def _edit_and_rehash(conn: Any) -> None:
    prev, _, body = row(conn, 5)
    body = body.replace('"team":"team1"', '"team":"other"')
    set_row(conn, 5, prev, chain_hash(5, prev, body), body)


def _delete(conn: Any) -> None:
    conn.execute("DELETE FROM lowcarb_ledger WHERE seq = 5")


def _delete_and_renumber(conn: Any) -> None:
    conn.execute("DELETE FROM lowcarb_ledger WHERE seq = 5")
    renumber(conn, "seq > 5", -1)


def _append_forged_row(conn: Any) -> None:
    _, last_hash, body = row(conn, N)
    p = ph(conn)
    conn.execute(
        f"INSERT INTO lowcarb_ledger (seq, prev_hash, hash, body) VALUES ({p}, {p}, {p}, {p})",
        (N + 1, last_hash, "f" * 64, body.replace('"id":"', '"id":"x')),
    )


def _insert_in_the_middle(conn: Any) -> None:
    _, hash4, body = row(conn, 4)
    renumber(conn, "seq >= 5", +1)
    body = body.replace('"id":"', '"id":"forged-')
    forged_hash = chain_hash(5, hash4, body)  # the forger even hashes it correctly...
    p = ph(conn)
    # ...and relinks the next record to it.
    conn.execute(f"UPDATE lowcarb_ledger SET prev_hash = {p} WHERE seq = 6", (forged_hash,))
    conn.execute(
        f"INSERT INTO lowcarb_ledger (seq, prev_hash, hash, body) VALUES ({p}, {p}, {p}, {p})",
        (5, hash4, forged_hash, body),
    )


def _swap_contents(conn: Any) -> None:
    r4, r5 = row(conn, 4), row(conn, 5)
    conn.execute("DELETE FROM lowcarb_ledger WHERE seq IN (4, 5)")
    for seq, (prev, hash_, body) in ((4, r5), (5, r4)):
        p = ph(conn)
        conn.execute(
            f"INSERT INTO lowcarb_ledger (seq, prev_hash, hash, body) VALUES ({p}, {p}, {p}, {p})",
            (seq, prev, hash_, body),
        )


def _swap_seq(conn: Any) -> None:
    conn.execute("UPDATE lowcarb_ledger SET seq = -4 WHERE seq = 4")
    conn.execute("UPDATE lowcarb_ledger SET seq = 4 WHERE seq = 5")
    conn.execute("UPDATE lowcarb_ledger SET seq = 5 WHERE seq = -4")


def _edit_prev_column(conn: Any) -> None:
    conn.execute(f"UPDATE lowcarb_ledger SET prev_hash = '{'e' * 64}' WHERE seq = 5")


CASES: dict[str, tuple[Callable[[Any], None], int, str]] = {
    "edit": (_edit, 5, "does not match its hash"),
    "edit-and-rehash": (_edit_and_rehash, 6, "does not link to record #5"),
    "delete": (_delete, 6, "record #5 is missing"),
    "delete-and-renumber": (_delete_and_renumber, 5, "does not link to record #4"),
    "append-forged": (_append_forged_row, N + 1, "does not match its hash"),
    "insert-in-middle": (_insert_in_the_middle, 6, "does not match its hash"),
    "reorder-contents": (_swap_contents, 4, "does not link to record #3"),
    "reorder-seq": (_swap_seq, 4, "does not link to record #3"),
    "edit-prev-column": (_edit_prev_column, 5, "does not link to record #4"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tampering_is_detected_and_located(filled: str, case: str) -> None:
    tamper, first_bad, reason = CASES[case]
    with raw_db(filled) as conn:
        drop_triggers(conn)
        tamper(conn)
    rc, result = verify(filled)
    assert rc == 1
    assert result["ok"] is False
    assert result["first_bad"] == first_bad
    assert reason in result["reason"]
    assert result["first_bad_id"]
    assert any("triggers missing" in w for w in result["warnings"])
    expected_entries = {"delete": N - 1, "delete-and-renumber": N - 1}.get(case, N)
    expected_entries += 1 if case in ("append-forged", "insert-in-middle") else 0
    assert result["entries"] == expected_entries


def test_human_output_names_the_first_bad_record(filled: str) -> None:
    with raw_db(filled) as conn:
        drop_triggers(conn)
        _edit(conn)
    out = StringIO()
    rc = main(["ledger", "verify", "--ledger", filled], ctx=CliContext(out, StringIO(), {}))
    assert rc == 1
    assert out.getvalue().startswith("ledger TAMPERED: first bad record #5 (id ")


def test_truncated_tail_is_caught_by_a_checkpoint(filled: str, tmp_path: Any) -> None:
    with open_ledger(filled, environ={}) as ledger:
        cp = ledger.checkpoint()
    cp_file = tmp_path / "cp.json"
    cp_file.write_text(cp.to_json())
    with raw_db(filled) as conn:
        drop_triggers(conn)
        conn.execute(f"DELETE FROM lowcarb_ledger WHERE seq > {N - 2}")
    rc, result = verify(filled)
    assert (rc, result["ok"]) == (0, True)  # a chain alone cannot see a missing tail
    rc, result = verify(filled, "--checkpoint", str(cp_file))
    assert rc == 1
    assert result["first_bad"] == N - 1
    assert "truncated" in result["reason"]


def test_a_recomputed_chain_is_caught_by_a_checkpoint(filled: str) -> None:
    with open_ledger(filled, environ={}) as ledger:
        cp = ledger.checkpoint()
    with raw_db(filled) as conn:
        drop_triggers(conn)
        prev = row(conn, 2)[1]
        for seq in range(3, N + 1):
            _, _, body = row(conn, seq)
            body = body.replace('"co2e_g":1368.0', '"co2e_g":1.0')
            new_hash = chain_hash(seq, prev, body)
            conn.execute("DELETE FROM lowcarb_ledger WHERE seq = " + str(seq))
            p = ph(conn)
            conn.execute(
                "INSERT INTO lowcarb_ledger (seq, prev_hash, hash, body) "
                f"VALUES ({p}, {p}, {p}, {p})",
                (seq, prev, new_hash, body),
            )
            prev = new_hash
    with open_ledger(filled, environ={}) as ledger:
        assert ledger.verify().ok  # whoever can write the database can recompute every hash
        result = ledger.verify(checkpoint=cp)
    assert not result.ok
    assert result.first_bad == N
    assert "rewritten" in result.reason
    other = Checkpoint(head_hash=cp.head_hash, count=cp.count, ledger_id="another-ledger")
    with open_ledger(filled, environ={}) as ledger:
        assert "another-ledger" in ledger.verify(checkpoint=other).reason


def test_invalid_bytes_in_a_sqlite_body_are_reported_not_crashed_on(sqlite_url: str) -> None:
    with open_ledger(sqlite_url, environ={}) as ledger:
        ledger.append_many([sample_draft() for _ in range(3)])
    with raw_db(sqlite_url) as conn:
        drop_triggers(conn)
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_lowcarb%'"
        ).fetchall():
            conn.execute(f"DROP INDEX {name}")  # expression indexes refuse non-JSON bodies
        conn.execute("UPDATE lowcarb_ledger SET body = CAST(X'7BFFFE7D' AS TEXT) WHERE seq = 2")
    rc, result = verify(sqlite_url)
    assert (rc, result["first_bad"], result["first_bad_id"]) == (1, 2, None)


def test_disabled_triggers_are_reported(postgres_url: str) -> None:
    with open_ledger(postgres_url, environ={}) as ledger:
        ledger.append(sample_draft())
    with raw_db(postgres_url) as conn:
        conn.execute("ALTER TABLE lowcarb_ledger DISABLE TRIGGER ALL")
    rc, result = verify(postgres_url)
    assert (rc, result["ok"]) == (0, True)
    assert "lowcarb_ledger_no_update_delete" in result["warnings"][0]
