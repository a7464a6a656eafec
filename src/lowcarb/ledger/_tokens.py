"""API tokens kept beside the ledger (table ``lowcarb_tokens``, migration 0003).

A token reads one team's records (or, with ``admin``, every team's and the tokens themselves);
its ``write`` scope lets it add to the ledger through the dashboard (a note on a record). Tokens
are sent as ``Authorization: Bearer lcb_<id>_<secret>``:

* ``id``: 16 hex digits, public (listed, revoked by it, safe in logs);
* ``secret``: 32 random bytes, URL-safe base64 (43 characters). Only its SHA-256 is stored;
  the whole token is shown once, by :meth:`TokenStore.create`, and never again.

Why SHA-256 and not scrypt or Argon2: those slow hashes protect secrets people choose, which can
be guessed; a 256-bit random secret cannot be, so a slow hash would add only latency to every
request (GitHub's and PyPI's API tokens are stored the same way). Hashes are compared in constant
time (:func:`hmac.compare_digest`), and an unknown id costs the same comparison as a known one.

The table is working state, not audit data: revoking sets ``revoked_at``; nothing is deleted.
Once any token has been created the dashboard stops answering anonymous requests, even after
every token is revoked or expired (:meth:`TokenStore.has_tokens`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from lowcarb._text import check_name, plain
from lowcarb.errors import InvalidValueError, LedgerError, LedgerSchemaError, UsageError
from lowcarb.ledger._token_types import (
    TOKEN_PREFIX,
    TOKEN_SCOPES,
    TOKEN_TABLE,
    ApiToken,
    IssuedToken,
    TokenCheck,
    iso_z,
)

__all__ = ["TokenStore", "open_token_store"]

_ID_HEX = 16
_SECRET_BYTES = 32
_SECRET_CHARS = 43  # URL-safe base64 of 32 bytes, unpadded
_TOKEN_RE = re.compile(rf"lcb_([0-9a-f]{{{_ID_HEX}}})_([A-Za-z0-9_-]{{{_SECRET_CHARS}}})")
_ID_RE = re.compile(rf"[0-9a-f]{{{_ID_HEX}}}")
_MAX_PRESENTED = 200
_DUMMY_HASH = hashlib.sha256(b"lowcarb: no such token").hexdigest()
_FORMAT = (
    f"{TOKEN_PREFIX} followed by {_ID_HEX} hex digits, '_' and {_SECRET_CHARS} URL-safe "
    "characters, as `lowcarb tokens create` prints it"
)

_TOKENS = sa.Table(
    TOKEN_TABLE,
    sa.MetaData(),
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("team", sa.Text()),
    sa.Column("admin", sa.Boolean(), nullable=False),
    sa.Column("scopes", sa.String(64), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


class TokenStore:
    """The API tokens of one ledger database.

    Contract: thread-safe (one connection per operation from SQLAlchemy's pool); every write is
    one transaction (SQLite ``BEGIN IMMEDIATE``); times are stored and returned as aware UTC;
    secrets are never stored or returned after :meth:`create`. Database failures raise
    :class:`~lowcarb.errors.LedgerError` with one line.

    Args:
        engine: An engine from :func:`lowcarb.ledger.open_engine` (schema at revision 0003 or
            later). The store does not dispose of it unless it made it (:func:`open_token_store`).
        clock: Returns now, timezone-aware (creation, expiry and revocation times).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = _utc_now,
        owns_engine: bool = False,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self._owns_engine = owns_engine
        self._sqlite = engine.dialect.name == "sqlite"

    def close(self) -> None:
        """Release the engine when this store opened it."""
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> TokenStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise InvalidValueError(f"the token store's clock must return aware UTC, got {now!r}")
        return now.astimezone(UTC)

    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[Connection]:
        options = {"lowcarb_begin": "IMMEDIATE"} if write and self._sqlite else {}
        where = self.engine.url.render_as_string(hide_password=True)
        try:
            with self.engine.connect().execution_options(**options) as conn, conn.begin():
                yield conn
        except SQLAlchemyError as exc:
            cause = str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"]
            if TOKEN_TABLE in cause[0] and ("no such table" in cause[0] or "exist" in cause[0]):
                raise LedgerSchemaError(
                    f"ledger {where!r} has no token table yet (schema before 0003); open it once "
                    "as a writer to upgrade it (e.g. `lowcarb tokens create ...`)"
                ) from None
            raise LedgerError(f"token store at {where!r} failed: {cause[0]}") from None

    # -- writes -------------------------------------------------------------------------------

    def create(
        self,
        *,
        team: str | None,
        admin: bool = False,
        scopes: Iterable[str] = ("read",),
        expires_in: timedelta | None = None,
    ) -> IssuedToken:
        """Make a token and return it with its secret (shown this once).

        Args:
            team: The team it reads (required unless ``admin``; refused with it).
            admin: Every team, and token management; implies every scope.
            scopes: ``read`` and/or ``write`` for a team token (``read`` is always included).
            expires_in: Lifetime from now; None never expires.

        Raises:
            UsageError: No team for a non-admin token, a team for an admin token (it would read
                every team, not that one), an unknown scope, or a lifetime <= 0.
        """
        check_name(team, what="token team")
        if team is None and not admin:
            raise UsageError(
                "a team token needs a team (--team T); an --admin token reads every team"
            )
        if team is not None and admin:
            raise UsageError(
                f"an --admin token reads every team, not only {plain(team)!r}: drop --team for "
                f"an admin token, or drop --admin for a token of team {plain(team)!r} (add "
                "--write to let it write)"
            )
        wanted = set(scopes) | {"read"}
        unknown = sorted(wanted - {"read", "write"})
        if unknown:
            raise UsageError(
                f"unknown token scope {plain(unknown[0])!r}; choose read or write "
                "(admin tokens are made with --admin)"
            )
        if admin:
            wanted = set(TOKEN_SCOPES)
        if expires_in is not None and expires_in <= timedelta(0):
            raise InvalidValueError(f"a token lifetime must be > 0, got {expires_in}")
        now = self._now()
        token_id = secrets.token_hex(_ID_HEX // 2)
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        token = ApiToken(
            id=token_id,
            team=team,
            admin=admin,
            scopes=tuple(sorted(wanted)),
            created_at=now,
            expires_at=None if expires_in is None else now + expires_in,
            revoked_at=None,
        )
        with self._tx(write=True) as conn:
            conn.execute(
                _TOKENS.insert().values(
                    id=token.id,
                    team=token.team,
                    admin=token.admin,
                    scopes=",".join(token.scopes),
                    secret_sha256=_digest(secret),
                    created_at=token.created_at,
                    expires_at=token.expires_at,
                    revoked_at=None,
                )
            )
        return IssuedToken(token, f"{TOKEN_PREFIX}{token_id}_{secret}")

    def revoke(self, token_id: str) -> ApiToken:
        """Revoke a token now (revoking a revoked token changes nothing); return it.

        Raises:
            UsageError: No token with that id.
        """
        self._check_id(token_id)
        with self._tx(write=True) as conn:
            conn.execute(
                _TOKENS.update()
                .where(_TOKENS.c.id == token_id, _TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=self._now())
            )
            row = conn.execute(sa.select(_TOKENS).where(_TOKENS.c.id == token_id)).mappings()
            found = row.first()
        if found is None:
            raise UsageError(f"no token with id {token_id!r}; run `lowcarb tokens list`")
        return ApiToken.from_row(found)

    # -- reads --------------------------------------------------------------------------------

    @staticmethod
    def _check_id(token_id: str) -> None:
        if not isinstance(token_id, str) or not _ID_RE.fullmatch(token_id):
            raise InvalidValueError(
                f"token id {plain(str(token_id))[:40]!r} is not {_ID_HEX} hex digits; "
                "run `lowcarb tokens list` for the ids"
            )

    def get(self, token_id: str) -> ApiToken:
        """The token with this id.

        Raises:
            UsageError: Malformed id, or no such token.
        """
        self._check_id(token_id)
        with self._tx(write=False) as conn:
            row = conn.execute(sa.select(_TOKENS).where(_TOKENS.c.id == token_id)).mappings()
            found = row.first()
        if found is None:
            raise UsageError(f"no token with id {token_id!r}; run `lowcarb tokens list`")
        return ApiToken.from_row(found)

    def list_tokens(self) -> list[ApiToken]:
        """Every token, oldest first (revoked and expired ones too)."""
        query = sa.select(_TOKENS).order_by(_TOKENS.c.created_at, _TOKENS.c.id)
        with self._tx(write=False) as conn:
            return [ApiToken.from_row(r) for r in conn.execute(query).mappings()]

    def has_tokens(self) -> bool:
        """Whether any token was ever created (revoked and expired ones count)."""
        with self._tx(write=False) as conn:
            return conn.execute(sa.select(_TOKENS.c.id).limit(1)).first() is not None

    def check(self, presented: str | None) -> TokenCheck:
        """Verify a presented bearer string (``lcb_<id>_<secret>``; None: none was sent)."""
        if presented is None or not presented.strip():
            return TokenCheck(
                None,
                "missing",
                "no token: send `Authorization: Bearer lcb_...` (an admin makes one with "
                "`lowcarb tokens create --team T`)",
            )
        match = _TOKEN_RE.fullmatch(presented.strip()[:_MAX_PRESENTED])
        if match is None or len(presented.strip()) > _MAX_PRESENTED:
            return TokenCheck(None, "malformed", f"malformed token: expected {_FORMAT}")
        token_id, secret = match.group(1), match.group(2)
        with self._tx(write=False) as conn:
            row = conn.execute(sa.select(_TOKENS).where(_TOKENS.c.id == token_id)).mappings()
            found = row.first()
        stored = str(found["secret_sha256"]) if found is not None else _DUMMY_HASH
        if not hmac.compare_digest(_digest(secret), stored) or found is None:
            return TokenCheck(
                None,
                "unknown",
                f"unknown token lcb_{token_id}_...: this ledger never issued it, or its secret is "
                "wrong; use the whole token `lowcarb tokens create` printed",
            )
        token = ApiToken.from_row(found)
        now = self._now()
        state = token.state(now)
        if state == "revoked":
            return TokenCheck(
                None,
                "revoked",
                f"token {token_id} was revoked at {iso_z(token.revoked_at)}; ask an admin for a "
                "new one (`lowcarb tokens create`)",
            )
        if state == "expired":
            return TokenCheck(
                None,
                "expired",
                f"token {token_id} expired at {iso_z(token.expires_at)}; ask an admin for a new "
                "one (`lowcarb tokens create --expires 90d`)",
            )
        return TokenCheck(token, None, "ok")


def open_token_store(
    url: str | None = None,
    *,
    environ: Mapping[str, str],
    clock: Callable[[], datetime] = _utc_now,
    create: bool = False,
) -> TokenStore:
    """The token store of the ledger at ``url`` (its schema is upgraded to the head first).

    Args:
        url: Ledger URL (default ``$LOWCARB_LEDGER``, the config file, or the default ledger).
        environ: Environment to resolve the URL from.
        clock: Returns now, timezone-aware.
        create: Create the ledger when there is none; by default a missing ledger is an error
            (a mistyped URL must not quietly become a new, empty ledger with one token).

    Raises:
        LedgerError: No ledger there (unless ``create``), or it cannot be opened.
    """
    from lowcarb.ledger._setup import open_engine

    if not create:
        open_engine(url, environ=environ, create=False).dispose()  # exists, and is a ledger
    return TokenStore(open_engine(url, environ=environ), clock=clock, owns_engine=True)
