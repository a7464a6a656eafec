"""What an API token is (:mod:`lowcarb.ledger._tokens` keeps them): the stored token without
its secret, a token just issued with it, and the outcome of checking one presented."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "TOKEN_PREFIX",
    "TOKEN_SCOPES",
    "TOKEN_TABLE",
    "ApiToken",
    "IssuedToken",
    "TokenCheck",
    "TokenProblem",
    "TokenScope",
    "iso_z",
    "utc",
]

TOKEN_TABLE = "lowcarb_tokens"  # noqa: S105 (a table name, not a secret)
TOKEN_PREFIX = "lcb_"  # noqa: S105 (the public prefix of every token)
#: What a token may do: ``read`` its team's records, ``write`` to them (notes), ``admin``
#: (every team, and the tokens). Admin tokens hold all three.
TOKEN_SCOPES = ("read", "write", "admin")
TokenScope = Literal["read", "write", "admin"]
#: Why a presented token was refused.
TokenProblem = Literal["missing", "malformed", "unknown", "revoked", "expired"]


def utc(value: datetime | None) -> datetime | None:
    """Aware UTC (SQLite hands back naive datetimes, written as UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_z(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A stored token, without its secret.

    Attributes:
        id: Public id (16 hex digits).
        team: The team whose records it reads; None for an admin token of no particular team.
        admin: Reads every team, and manages tokens.
        scopes: Sorted subset of :data:`TOKEN_SCOPES`.
        created_at, expires_at, revoked_at: UTC; ``expires_at`` None never expires,
            ``revoked_at`` None is not revoked.
    """

    id: str
    team: str | None
    admin: bool
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> Literal["active", "expired", "revoked"]:
        """``revoked``, else ``expired`` (at or after ``expires_at``), else ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"

    def allows(self, scope: str) -> bool:
        """Whether the token holds ``scope`` (admin tokens hold every scope)."""
        return self.admin or scope in self.scopes

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """Plain JSON types (``state`` only when ``now`` is given)."""
        out: dict[str, Any] = {
            "id": self.id,
            "team": self.team,
            "admin": self.admin,
            "scopes": list(self.scopes),
            "created_at": iso_z(self.created_at),
            "expires_at": iso_z(self.expires_at),
            "revoked_at": iso_z(self.revoked_at),
        }
        if now is not None:
            out["state"] = self.state(now)
        return out

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ApiToken:
        created = utc(row["created_at"])
        assert created is not None  # NOT NULL in the table
        return cls(
            id=str(row["id"]),
            team=row["team"],
            admin=bool(row["admin"]),
            scopes=tuple(s for s in str(row["scopes"]).split(",") if s),
            created_at=created,
            expires_at=utc(row["expires_at"]),
            revoked_at=utc(row["revoked_at"]),
        )


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just created, with the secret that is shown this once and never stored.

    Attributes:
        token: The stored token.
        bearer: What clients send: ``lcb_<id>_<secret>`` (``Authorization: Bearer ...``).
    """

    token: ApiToken
    bearer: str

    def __repr__(self) -> str:  # never print the secret by accident
        return f"IssuedToken(id={self.token.id!r}, team={self.token.team!r}, bearer='lcb_...')"

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """The token's fields plus ``token`` (the bearer string)."""
        return {**self.token.to_dict(now), "token": self.bearer}


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """The outcome of :meth:`TokenStore.check`: the token, or why it was refused.

    Attributes:
        token: The valid, active token; None when refused.
        problem: Why it was refused (``missing``, ``malformed``, ``unknown``, ``revoked``,
            ``expired``), None when valid.
        message: One line for the client: what is wrong and how to fix it. It never repeats
            the secret.
    """

    token: ApiToken | None
    problem: TokenProblem | None
    message: str

    @property
    def ok(self) -> bool:
        """The token is valid and active."""
        return self.token is not None
