"""Rich rendering of verdicts and budget status (used by the CLI and the demo)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from lowcarb._text import safe
from lowcarb.governance._budget import BudgetStatus
from lowcarb.governance._decide import GateOutcome

__all__ = ["print_budgets", "print_verdict"]

_STYLE = {
    "pass": "green",
    "fail": "bold red",
    "excused": "yellow",
    "overridden": "magenta",
    "skipped": "dim",
    "warn": "yellow",
}


def print_verdict(console: Console, outcome: GateOutcome) -> None:
    """The decision, one row per check, warnings, and where the verdict was recorded."""
    v = outcome.verdict
    # Names, versions and messages come from profile and policy files: data, never markup.
    base = "none (first version)" if v.baseline is None else safe(v.baseline.label)
    style = "bold green" if v.decision == "promote" else "bold red"
    console.print(
        f"[{style}]{v.decision.upper()}[/] {safe(v.candidate.label)} against {base} "
        f"(policy {safe(v.policy_name)})"
    )
    table = Table(title_justify="left")
    table.add_column("rule", overflow="fold")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for c in v.checks:
        table.add_row(safe(c.rule), f"[{_STYLE[c.status]}]{c.status}[/]", safe(c.message))
    if v.checks:
        console.print(table)
    else:
        console.print("no rules applied")
    for w in v.warnings:
        console.print(f"warning: {safe(w)}", style="yellow")
    for i in outcome.inputs:
        # The full hash is in --json and in the ledger record; 16 hex digits identify it here.
        console.print(f"{i.role:<9} sha256:{i.sha256[:16]}  {safe(i.location)}", style="dim")
    if outcome.record_id:
        console.print(f"recorded in {safe(outcome.ledger)} as decision {outcome.record_id}")


def print_budgets(console: Console, statuses: Sequence[BudgetStatus]) -> None:
    """One row per budget: scope, period, spend against limit, state."""
    table = Table(title="carbon budgets", title_justify="left")
    table.add_column("scope", overflow="fold")
    table.add_column("period", overflow="fold")
    table.add_column("spent / limit", justify="right")
    table.add_column("used", justify="right")
    table.add_column("state")
    for s in statuses:
        state_style = {"ok": "green", "warning": "yellow", "exhausted": "bold red"}[s.state]
        table.add_row(
            safe(s.budget.scope),
            f"{safe(s.budget.period)} from {s.period_start:%Y-%m-%d}",
            f"{s.spent_kg:.3f} / {s.budget.co2e_kg:g} kg",
            f"{s.used_pct:.1f}%",
            f"[{state_style}]{s.state}[/] ({s.budget.on_exceed})",
        )
    console.print(table)
