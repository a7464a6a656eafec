"""``lowcarb dashboard``: the web dashboard and the Carbon Aware SDK-compatible API, in one app.

Thin: parses, builds :func:`lowcarb.reporting.dashboard.create_dashboard_app`, serves it. Bound
to 127.0.0.1 by default; ``--host`` exposes it, with a warning on stderr while the ledger has no
API token (the dashboard then answers no one until one is made).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lowcarb._config import resolve_ledger_url
from lowcarb.cli._common import CliContext, positive_int
from lowcarb.errors import MissingDependencyError
from lowcarb.grid import PROVIDER_NAMES

__all__ = ["register"]

_WEB_MODULES = frozenset({"fastapi", "starlette", "pydantic", "uvicorn", "jinja2", "plotly"})


def _port(text: str) -> int:
    port = positive_int(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"port must be 1..65535, got {text!r}")
    return port


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb dashboard``."""
    p = sub.add_parser(
        "dashboard",
        help="serve the web dashboard over the ledger (and the Carbon Aware SDK API)",
        description=(
            "Pages (overview, records, teams, models, jobs, decisions, grid) with charts, filters "
            "by period, team and project, and links from every figure to its records; each page "
            "is JSON too (/api/..., or ?format=json). /emissions/... answers the Carbon Aware "
            "SDK's WebAPI. Access: `Authorization: Bearer` tokens from `lowcarb tokens create`; "
            "without any token, only on 127.0.0.1."
        ),
    )
    p.add_argument(
        "--ledger",
        help="ledger URL (default: LOWCARB_LEDGER, the config file, or sqlite:///.lowcarb/ledger.db)",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")
    p.add_argument(
        "--trace",
        type=Path,
        metavar="FILE",
        help="grid intensity trace for the grid view and /emissions (default: the embedded "
        "month x hour profile)",
    )
    p.add_argument(
        "--provider",
        choices=PROVIDER_NAMES,
        help="live intensities for the grid view and /emissions instead: electricitymaps "
        "(ELECTRICITYMAPS_API_TOKEN; every zone) or ukci (GB only); failures fall back to the "
        "embedded profile, labelled in X-Lowcarb-Source",
    )
    p.set_defaults(func=_dashboard)


def _dashboard(args: argparse.Namespace, ctx: CliContext) -> int:
    try:
        from lowcarb.reporting.carbonaware import carbon_aware_source
        from lowcarb.reporting.dashboard import create_dashboard_app, is_loopback, run_dashboard
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in _WEB_MODULES:
            raise MissingDependencyError(str(exc.name), "report") from None
        raise

    url = resolve_ledger_url(args.ledger, environ=ctx.environ)
    # Everything that can fail on bad input fails here, before a port is bound.
    source = carbon_aware_source(args.trace, provider=args.provider, environ=ctx.environ)
    app = create_dashboard_app(url, source=source, environ=ctx.environ, host=args.host)
    if not is_loopback(args.host) and not app.state.dashboard.tokens.has_tokens():
        print(
            f"lowcarb: warning: the dashboard listens on {args.host} and the ledger has no API "
            "token, so it will answer no one: create one with `lowcarb tokens create --admin` "
            "(or --team T)",
            file=ctx.stderr,
        )
    # The rollup catches up with the ledger now, not on the first page someone opens (over a
    # million new records this takes a minute).
    status = app.state.dashboard.refresh()
    if status.rolled:
        print(
            f"lowcarb: rolled up {status.rolled:,} ledger records in {status.seconds:.1f} s",
            file=ctx.stderr,
        )
    print(f"lowcarb dashboard on http://{args.host}:{args.port}/ (Ctrl-C stops)", file=ctx.stderr)
    run_dashboard(app, host=args.host, port=args.port)
    return 0
