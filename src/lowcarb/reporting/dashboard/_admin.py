"""Token management for admins: the list of tokens (never their secrets) and revocation.

Creating tokens stays on the command line (``lowcarb tokens create``): a secret shown once in a
terminal is not left in a browser's history or a proxy's log.
"""

from __future__ import annotations

from typing import Any

from lowcarb.errors import UsageError
from lowcarb.reporting.dashboard._auth import Principal
from lowcarb.reporting.dashboard._errors import DashboardError
from lowcarb.reporting.dashboard._service import Dashboard

__all__ = ["revoke_token", "tokens_page"]


def tokens_page(d: Dashboard, who: Principal) -> dict[str, Any]:
    """Every token with its state (admin only)."""
    who.require("admin")
    now = d.now()
    tokens = [t.to_dict(now) for t in d.tokens.list_tokens()]
    for t in tokens:
        t["links"] = {"revoke": f"/api/tokens/{t['id']}/revoke" if t["state"] == "active" else None}
    return {"page": "tokens", "viewer": who.to_dict(), "tokens": tokens}


def revoke_token(d: Dashboard, token_id: str, who: Principal) -> dict[str, Any]:
    """Revoke a token now (admin only); revoking a revoked token changes nothing."""
    who.require("admin")
    try:
        token = d.tokens.revoke(token_id)
    except UsageError as exc:
        status = 404 if "no token with id" in str(exc) else 400
        raise DashboardError(status, str(exc), param="token_id") from None
    return {"page": "token", "viewer": who.to_dict(), "token": token.to_dict(d.now())}
