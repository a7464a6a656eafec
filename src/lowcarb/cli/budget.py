"""``lowcarb budget status|check``: carbon budgets from the policy, spend from the ledger.

``status`` reports each budget's spend in its current period. ``check`` is the warn-or-refuse
step before a run or job submission: exit 1 when ``--co2e-kg`` more would exceed a hard
(``on_exceed: refuse``) budget, 0 otherwise (with warnings for soft ones). An unreachable or
missing ledger is an error (exit 2): budgets fail closed. Logic: :mod:`lowcarb.governance`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lowcarb._config import resolve_ledger_url
from lowcarb._text import plain, safe
from lowcarb.cli._common import CliContext, emit_json, non_negative_float
from lowcarb.cli.gate import parse_now
from lowcarb.errors import BudgetExceededError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb budget``."""
    p = sub.add_parser(
        "budget",
        help="carbon budgets: status, or check before a run (exit 1 when refused)",
        description="Carbon budgets per team/project and period, defined in the policy YAML.",
    )
    actions = p.add_subparsers(dest="budget_command", metavar="ACTION", required=True)
    for name, help_text in (
        ("status", "spend so far in each budget's current period"),
        ("check", "refuse (exit 1) or warn when --co2e-kg more would exceed a budget"),
    ):
        a = actions.add_parser(name, help=help_text, description=help_text)
        a.add_argument("--policy", required=True, type=Path, help="policy YAML with `budgets:`")
        a.add_argument(
            "--ledger",
            help="ledger URL (default: LOWCARB_LEDGER, the config file, or "
            "sqlite:///.lowcarb/ledger.db)",
        )
        a.add_argument("--team", help="only budgets of this team" if name == "status" else "team")
        a.add_argument(
            "--project", help="only budgets of this project" if name == "status" else "project"
        )
        a.add_argument("--now", help="time to evaluate the periods at, ISO 8601 (default: now)")
        a.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        if name == "check":
            a.add_argument(
                "--co2e-kg",
                type=non_negative_float,
                default=0.0,
                help="expected CO2e of the run or submission, kg (default 0: is any budget spent?)",
            )
            a.set_defaults(func=_check)
        else:
            a.set_defaults(func=_status)


def _status(args: argparse.Namespace, ctx: CliContext) -> int:
    from lowcarb.governance import budget_report, load_policy, print_budgets

    statuses = budget_report(
        load_policy(args.policy),
        ledger_url=resolve_ledger_url(args.ledger, environ=ctx.environ),
        team=args.team,
        project=args.project,
        now=parse_now(args.now),
        environ=ctx.environ,
    )
    if args.json:
        emit_json(ctx, {"budgets": [s.to_dict() for s in statuses]})
    else:
        print_budgets(ctx.console(), statuses)
    return 0


def _check(args: argparse.Namespace, ctx: CliContext) -> int:
    from lowcarb.governance import check_budgets, load_policy

    team = args.team or ctx.environ.get("LOWCARB_TEAM") or None
    project = args.project or ctx.environ.get("LOWCARB_PROJECT") or None
    try:
        statuses, warnings = check_budgets(
            load_policy(args.policy),
            ledger_url=resolve_ledger_url(args.ledger, environ=ctx.environ),
            team=team,
            project=project,
            co2e_kg=args.co2e_kg,
            now=parse_now(args.now),
            environ=ctx.environ,
        )
    except BudgetExceededError as exc:
        if args.json:
            emit_json(ctx, {"allowed": False, "reason": str(exc), "warnings": []})
        print(f"lowcarb: refused: {plain(exc)}", file=ctx.stderr)
        return exc.exit_code
    if args.json:
        emit_json(
            ctx,
            {
                "allowed": True,
                "reason": None,
                "warnings": warnings,
                "budgets": [s.to_dict() for s in statuses],
            },
        )
    else:
        console = ctx.console()
        if not statuses:
            console.print(f"no budget applies to team={safe(team)} project={safe(project)}")
        for s in statuses:
            console.print(f"ok: {safe(s.describe())}")
    return 0  # warnings were logged to stderr by enforce_budgets
