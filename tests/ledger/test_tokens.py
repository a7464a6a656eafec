"""API tokens in the ledger database (migration 0003), on SQLite and PostgreSQL.

Created with a secret shown once, stored as its SHA-256 only, checked in constant time,
refused with a reason (missing, malformed, unknown, revoked, expired), revoked by id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from lowcarb.errors import InvalidValueError, LedgerError, UsageError
from lowcarb.ledger import TOKEN_SCOPES, TokenStore, open_engine, open_ledger, open_token_store

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _store(url: str) -> Iterator[TokenStore]:
    open_ledger(url, environ={}).close()
    clock = Clock()
    s = open_token_store(url, environ={}, clock=clock)
    s.clock = clock  # type: ignore[attr-defined]
    yield s
    s.close()


@pytest.fixture
def store(ledger_url: str) -> Iterator[TokenStore]:
    """A token store on SQLite and on PostgreSQL."""
    yield from _store(ledger_url)


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[TokenStore]:
    """A token store on SQLite (input checks do not depend on the backend)."""
    yield from _store(sqlite_url)


def test_a_token_is_shown_once_and_only_its_hash_is_stored(store: TokenStore) -> None:
    issued = store.create(team="vision", expires_in=timedelta(days=90))
    assert re.fullmatch(r"lcb_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", issued.bearer)
    assert issued.bearer not in repr(issued)
    secret = issued.bearer.split("_", 2)[2]
    with store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text("SELECT * FROM lowcarb_tokens"))]
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0])
    assert secret not in stored and issued.bearer not in stored
    assert hashlib.sha256(secret.encode()).hexdigest() in stored
    t = issued.token
    assert (t.team, t.admin, t.scopes) == ("vision", False, ("read",))
    assert t.created_at == T0 and t.expires_at == T0 + timedelta(days=90)
    assert issued.to_dict(T0)["token"] == issued.bearer and t.to_dict(T0)["state"] == "active"


def test_check_accepts_the_token_and_refuses_everything_else(store: TokenStore) -> None:
    issued = store.create(team="nlp", scopes=("read", "write"))
    ok = store.check(issued.bearer)
    assert ok.ok and ok.token is not None and ok.token.allows("write")
    assert not ok.token.allows("admin")
    assert store.check(f"  {issued.bearer} ").ok  # surrounding spaces are not the token
    cases = {
        None: "missing",
        "": "missing",
        "lcb_": "malformed",
        "Bearer " + issued.bearer: "malformed",
        issued.bearer + "x": "malformed",
        "lcb_" + "g" * 16 + "_" + "a" * 43: "malformed",
        "x" * 5000: "malformed",
        issued.bearer[:-1] + ("A" if issued.bearer[-1] != "A" else "B"): "unknown",
        "lcb_0123456789abcdef_" + "a" * 43: "unknown",
    }
    for presented, problem in cases.items():
        check = store.check(presented)
        assert (check.ok, check.problem) == (False, problem), presented
        assert "\n" not in check.message
        assert issued.bearer.split("_", 2)[2] not in check.message


def test_revoked_and_expired_tokens_are_refused_with_when(store: TokenStore) -> None:
    clock = store.clock  # type: ignore[attr-defined]
    short = store.create(team="vision", expires_in=timedelta(hours=1))
    kept = store.create(team="vision")
    clock.now = T0 + timedelta(hours=1)
    expired = store.check(short.bearer)
    assert expired.problem == "expired" and "expired at 2024-05-01T13:00:00Z" in expired.message
    revoked = store.revoke(kept.token.id)
    assert revoked.revoked_at == clock.now and revoked.state(clock.now) == "revoked"
    again = store.revoke(kept.token.id)  # revoking twice changes nothing
    assert again.revoked_at == revoked.revoked_at
    check = store.check(kept.bearer)
    assert check.problem == "revoked" and "revoked at 2024-05-01T13:00:00Z" in check.message


def test_admin_tokens_hold_every_scope(store: TokenStore) -> None:
    admin = store.create(team=None, admin=True)
    assert admin.token.scopes == tuple(sorted(TOKEN_SCOPES)) and admin.token.team is None
    assert all(admin.token.allows(s) for s in TOKEN_SCOPES)


def test_list_get_and_has_tokens(store: TokenStore) -> None:
    assert not store.has_tokens() and store.list_tokens() == []
    a = store.create(team="a")
    store.clock.now = T0 + timedelta(seconds=1)  # type: ignore[attr-defined]
    b = store.create(team=None, admin=True)
    store.revoke(a.token.id)
    assert [t.id for t in store.list_tokens()] == [a.token.id, b.token.id]
    assert store.get(b.token.id).admin
    assert store.has_tokens()  # revoked ones count: the dashboard never reopens to anonymous


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"team": None}, UsageError, "a team token needs a team"),
        ({"team": ""}, InvalidValueError, "is empty"),
        ({"team": "a\x00"}, InvalidValueError, "control characters"),
        ({"team": "t" * 201}, InvalidValueError, "the limit is 200"),
        ({"team": "a", "scopes": ("read", "admin")}, UsageError, "unknown token scope 'admin'"),
        ({"team": "a", "admin": True}, UsageError, "reads every team, not only 'a'"),
        ({"team": "a", "expires_in": timedelta(0)}, InvalidValueError, "must be > 0"),
    ],
)
def test_bad_creations_are_one_line_errors(
    sqlite_store: TokenStore, kwargs: dict, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=re.escape(words)):
        sqlite_store.create(**kwargs)


def test_bad_ids(sqlite_store: TokenStore) -> None:
    with pytest.raises(InvalidValueError, match="is not 16 hex digits"):
        sqlite_store.revoke("nothex")
    with pytest.raises(UsageError, match="no token with id '0123456789abcdef'"):
        sqlite_store.revoke("0123456789abcdef")
    with pytest.raises(UsageError, match="no token with id"):
        sqlite_store.get("0123456789abcdef")


def test_a_missing_ledger_is_not_created_by_a_token(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typo.db'}"
    with pytest.raises(LedgerError, match="no ledger at"):
        open_token_store(url, environ={})
    assert not (tmp_path / "typo.db").exists()
    with open_token_store(url, environ={}, create=True) as s:
        assert not s.has_tokens()


def test_a_ledger_before_0003_is_upgraded_when_opened_as_a_writer(tmp_path: Path) -> None:
    from lowcarb.ledger._migrate import upgrade  # the migration path under test

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        upgrade(conn, "0002")
    engine.dispose()
    reader = open_engine(url, environ={}, create=False)  # 0002 is readable as it is
    try:
        with pytest.raises(LedgerError, match="no token table yet"):
            TokenStore(reader).has_tokens()
    finally:
        reader.dispose()
    with open_token_store(url, environ={}) as s:  # opens as a writer: upgrades to 0003
        assert s.create(team="a").token.team == "a"
