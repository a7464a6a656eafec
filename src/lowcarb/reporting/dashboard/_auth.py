"""Who is asking, and what they may see: every access-control decision of the dashboard.

* A request carries ``Authorization: Bearer lcb_...`` (or the ``lowcarb_token`` cookie the login
  page sets: HttpOnly, SameSite=Strict). The token is checked against the ledger's token store.
* Without a token the request is anonymous, which is allowed only while the ledger has never
  had a token *and* the app is bound to a loopback address: then it reads every team (nothing
  is exposed beyond this machine). Anonymous requests never write.
* A team token reads its team only: asking for another team is 403, another team's record is
  404 (its existence is not revealed), and lists and totals are filtered to the team. An admin
  token reads every team and manages tokens. Writing needs the ``write`` scope.
* A write authenticated by the cookie must come from this dashboard's own pages (its
  ``Origin`` header names this host): the cookie alone does not let another site post.

Every refusal is a :class:`~lowcarb.reporting.dashboard._errors.DashboardError` whose message
says what is missing and how to get it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from lowcarb._text import plain
from lowcarb.ledger import TokenStore
from lowcarb.reporting.dashboard._errors import DashboardError

__all__ = ["COOKIE", "Access", "Principal", "is_loopback"]

#: The cookie the login page sets (the bearer token, HttpOnly, SameSite=Strict).
COOKIE = "lowcarb_token"
_ALL_SCOPES = frozenset({"read", "write", "admin"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only accepts connections from this machine."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as.

    Attributes:
        token_id: The token's public id; None for an anonymous (local, token-less) request.
        team: The only team it reads; None for every team (admin or anonymous).
        admin: May manage tokens.
        scopes: ``read``, ``write``, ``admin``.
        via_cookie: Authenticated by the login cookie (writes then need a same-origin request).
    """

    token_id: str | None
    team: str | None
    admin: bool
    scopes: frozenset[str]
    via_cookie: bool = False

    @property
    def anonymous(self) -> bool:
        """No token: a local dashboard over a ledger that has none."""
        return self.token_id is None

    def label(self) -> str:
        """Who, in a few words (shown in the page header)."""
        if self.anonymous:
            return "local, no token (every team, read-only)"
        if self.admin:
            return f"admin token {self.token_id}"
        return f"team {self.team} (token {self.token_id})"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "token_id": self.token_id,
            "team": self.team,
            "admin": self.admin,
            "scopes": sorted(self.scopes),
            "anonymous": self.anonymous,
        }

    def team_for(self, requested: str | None) -> str | None:
        """The team a request may read: ``requested`` when allowed, a team token's own team
        when none was asked for.

        Raises:
            DashboardError: 403 when a team token asks for another team.
        """
        if self.team is None or self.admin:
            return requested
        if requested is None or requested == self.team:
            return self.team
        raise DashboardError(
            403,
            f"this token reads team {self.team!r} only, not {plain(requested)[:200]!r}; use a "
            "token of that team or an admin token",
            param="team",
        )

    def may_read(self, team: str | None) -> bool:
        """Whether a record charged to ``team`` is visible."""
        return self.team is None or self.admin or team == self.team

    def require(self, scope: str) -> None:
        """Refuse (403) unless the principal holds ``scope``."""
        if scope in self.scopes or (self.admin and scope in _ALL_SCOPES):
            return
        if self.anonymous:
            raise DashboardError(
                403,
                f"this needs a token with the {scope!r} scope; anonymous local access is "
                f"read-only (create one with `lowcarb tokens create --admin`)",
            )
        fix = "an --admin token" if scope == "admin" else "a token made with --write"
        raise DashboardError(403, f"token {self.token_id} lacks the {scope!r} scope; use {fix}")


def _bearer(request: Request) -> tuple[str | None, bool]:
    """``(token text or None, whether it came from the cookie)``."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise DashboardError(
                401,
                "the Authorization header must be `Bearer lcb_...` (a lowcarb API token)",
                headers={"WWW-Authenticate": 'Bearer realm="lowcarb", error="invalid_request"'},
            )
        return value.strip(), False
    cookie = request.cookies.get(COOKIE)
    return (cookie, True) if cookie else (None, False)


class Access:
    """Decides who a request acts as (see the module docstring).

    Args:
        tokens: The ledger's token store.
        host: The address the app is bound to (anonymous access needs a loopback one).
    """

    def __init__(self, tokens: TokenStore, *, host: str) -> None:
        self.tokens = tokens
        self.host = host
        self.loopback = is_loopback(host)
        self._tokens_seen = False  # once a token exists it always does: rows are never deleted

    def anonymous_allowed(self) -> bool:
        """No token was ever created and the app listens on loopback only."""
        if not self.loopback:
            return False
        if not self._tokens_seen:
            self._tokens_seen = self.tokens.has_tokens()
        return not self._tokens_seen

    def principal(self, request: Request) -> Principal:
        """Who ``request`` acts as.

        Raises:
            DashboardError: 401 without a valid token where one is needed.
        """
        presented, via_cookie = _bearer(request)
        if presented is None:
            if self.anonymous_allowed():
                return Principal(None, None, admin=False, scopes=frozenset({"read"}))
            if not self.loopback and not self.tokens.has_tokens():
                raise DashboardError(
                    401,
                    f"this dashboard listens on {self.host} and no API token exists, so it "
                    "answers no one: create one with `lowcarb tokens create --admin` "
                    "(or `--team T`)",
                    headers={"WWW-Authenticate": 'Bearer realm="lowcarb"'},
                )
        check = self.tokens.check(presented)
        if check.token is None:
            error = "invalid_request" if check.problem == "missing" else "invalid_token"
            raise DashboardError(
                401,
                check.message,
                headers={"WWW-Authenticate": f'Bearer realm="lowcarb", error="{error}"'},
            )
        t = check.token
        return Principal(
            token_id=t.id,
            team=None if t.admin else t.team,
            admin=t.admin,
            scopes=frozenset(t.scopes),
            via_cookie=via_cookie,
        )

    def for_write(self, request: Request, scope: str = "write") -> Principal:
        """The principal of a write request, which must hold ``scope``.

        Raises:
            DashboardError: 401 without a token; 403 without the scope, or a cookie-authenticated
                write from another origin.
        """
        who = self.principal(request)
        who.require(scope)
        if who.via_cookie:
            origin = request.headers.get("origin")
            own = f"{request.url.scheme}://{request.url.netloc}"
            if origin is None or urlsplit(origin)._replace(path="").geturl() != own:
                raise DashboardError(
                    403,
                    "a write with the login cookie must come from this dashboard's own pages "
                    "(Origin header); API clients send `Authorization: Bearer lcb_...`",
                )
        return who
