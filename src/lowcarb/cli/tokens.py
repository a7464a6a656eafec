"""``lowcarb tokens``: API tokens for the dashboard (create, list, revoke).

Thin: parses, calls :class:`lowcarb.ledger.TokenStore`, prints. A new token's secret is printed
once; the ledger keeps only its SHA-256.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from lowcarb._config import resolve_ledger_url
from lowcarb._text import safe
from lowcarb.cli._common import CliContext, emit_json
from lowcarb.units import parse_duration

__all__ = ["register"]


def _ledger_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ledger",
        help="ledger URL (default: LOWCARB_LEDGER, the config file, or sqlite:///.lowcarb/ledger.db)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb tokens create|list|revoke``."""
    p = sub.add_parser(
        "tokens",
        help="API tokens for `lowcarb dashboard` (create, list, revoke)",
        description=(
            "A team token reads its team's records in the dashboard and its API; --write lets it "
            "add notes; an --admin token reads every team and manages tokens. Clients send "
            "`Authorization: Bearer lcb_...`. Once a token exists the dashboard refuses "
            "anonymous requests."
        ),
    )
    tsub = p.add_subparsers(dest="tokens_command", metavar="COMMAND", required=True)
    c = tsub.add_parser("create", help="make a token and print it (once)")
    c.add_argument("--team", metavar="T", help="the team it reads (required unless --admin)")
    c.add_argument(
        "--admin", action="store_true", help="every team, and token management (not with --team)"
    )
    c.add_argument("--write", action="store_true", help="may also write (notes on records)")
    c.add_argument(
        "--expires", metavar="DURATION", help="lifetime, e.g. 90d (default: never expires)"
    )
    _ledger_flag(c)
    c.set_defaults(func=_create)
    ls = tsub.add_parser("list", help="every token and its state (never a secret)")
    _ledger_flag(ls)
    ls.set_defaults(func=_list)
    r = tsub.add_parser("revoke", help="revoke a token now")
    r.add_argument("token_id", metavar="ID", help="the token's id (from `lowcarb tokens list`)")
    _ledger_flag(r)
    r.set_defaults(func=_revoke)


def _store(args: argparse.Namespace, ctx: CliContext) -> Any:
    from lowcarb.ledger import open_token_store

    url = resolve_ledger_url(args.ledger, environ=ctx.environ)
    return open_token_store(url, environ=ctx.environ)


def _create(args: argparse.Namespace, ctx: CliContext) -> int:
    expires = parse_duration(args.expires, what="--expires") if args.expires else None
    with _store(args, ctx) as store:
        issued = store.create(
            team=args.team,
            admin=args.admin,
            scopes=("read", "write") if args.write else ("read",),
            expires_in=expires,
        )
    now = datetime.now(UTC)
    if args.json:
        emit_json(ctx, issued.to_dict(now))
        return 0
    t = issued.token
    who = "every team (admin)" if t.admin else f"team {safe(t.team)}"
    until = t.to_dict()["expires_at"] or "never"
    print(
        f"token {t.id} for {who}, scopes {', '.join(t.scopes)}, expires {until}:", file=ctx.stdout
    )
    print(issued.bearer, file=ctx.stdout)
    print(
        "Keep it now: it is shown once and never stored (the ledger keeps its SHA-256). "
        "Send it as `Authorization: Bearer <token>`.",
        file=ctx.stdout,
    )
    return 0


def _list(args: argparse.Namespace, ctx: CliContext) -> int:
    with _store(args, ctx) as store:
        tokens = store.list_tokens()
    now = datetime.now(UTC)
    if args.json:
        emit_json(ctx, {"tokens": [t.to_dict(now) for t in tokens]})
        return 0
    if not tokens:
        print("no token yet: make one with `lowcarb tokens create --team T`", file=ctx.stdout)
        return 0
    table = Table("id", "team", "scopes", "created", "expires", "state")
    for t in tokens:
        d = t.to_dict(now)
        table.add_row(
            t.id,
            "(every team)" if t.admin else safe(t.team),
            ", ".join(t.scopes),
            d["created_at"],
            d["expires_at"] or "never",
            d["state"],
        )
    ctx.console().print(table)
    return 0


def _revoke(args: argparse.Namespace, ctx: CliContext) -> int:
    with _store(args, ctx) as store:
        token = store.revoke(args.token_id)
    now = datetime.now(UTC)
    if args.json:
        emit_json(ctx, token.to_dict(now))
        return 0
    who = "(every team)" if token.admin else f"of team {safe(token.team)}"
    print(f"revoked token {token.id} {who} at {token.to_dict()['revoked_at']}", file=ctx.stdout)
    return 0
