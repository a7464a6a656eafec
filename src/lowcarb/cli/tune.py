"""``lowcarb tune``: search a space of scikit-learn models under a hard energy or CO2e budget."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from lowcarb._config import resolve_ledger_url
from lowcarb._text import safe
from lowcarb.cli._common import CliContext, emit_json, positive_float, positive_int
from lowcarb.errors import UsageError
from lowcarb.tuning import (
    BudgetState,
    EnergyBudget,
    EnergyHalvingPruner,
    TrialOutcome,
    TuneResult,
    load_space,
    tune,
)
from lowcarb.units import parse_duration, parse_ledger_url, parse_timestamp

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb tune``."""
    p = sub.add_parser(
        "tune",
        help="hyperparameter search on Optuna under a hard energy (or CO2e) budget",
        description=(
            "Search the space in SPACE.yaml (see examples/tuning/) with Optuna. Every trial is "
            "measured; it reserves its expected cost in the study's storage before it starts and "
            "is stopped from inside when the budget runs out, so the whole study (all workers) "
            "stays within it. Prints the Pareto front and the best configuration."
        ),
    )
    p.add_argument("space", type=Path, metavar="SPACE.yaml", help="the search space file")
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--budget-kwh", type=positive_float, metavar="X", help="energy budget")
    budget.add_argument(
        "--budget-co2e-kg", type=positive_float, metavar="X", help="CO2e budget instead"
    )
    p.add_argument("--workers", type=positive_int, default=1, metavar="N", help="worker processes")
    p.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna RDB storage shared by the workers (sqlite:///study.db, postgresql+psycopg://"
        "...); in memory when omitted (one worker)",
    )
    p.add_argument("--study", default="lowcarb-tune", metavar="NAME", help="study name")
    p.add_argument("--n-trials", type=positive_int, metavar="N", help="stop after N trials")
    p.add_argument("--timeout", metavar="D", help="stop starting trials after D (30m, 2h)")
    p.add_argument("--zone", metavar="Z", help="where the trials run (pricing, pacing)")
    p.add_argument(
        "--deadline",
        metavar="D",
        help="with --zone: run trials in the cleanest windows that end by D (ISO time or 24h)",
    )
    p.add_argument("--ledger", metavar="URL", help="append every trial to this ledger")
    p.add_argument("--seed", type=int, metavar="N", help="sampler seed")
    p.add_argument(
        "--prune-min-j",
        type=positive_float,
        metavar="J",
        help="prune on joules: successive halving with its first rung at J joules",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=_tune)


def _tune(args: argparse.Namespace, ctx: CliContext) -> int:
    budget = EnergyBudget.of(kwh=args.budget_kwh, co2e_kg=args.budget_co2e_kg)
    space = load_space(args.space)
    storage = None if args.storage is None else parse_ledger_url(args.storage, what="--storage")
    ledger = resolve_ledger_url(args.ledger, environ=ctx.environ, default=None) or ""
    zone = args.zone or ctx.environ.get("LOWCARB_ZONE") or None
    deadline = None
    if args.deadline is not None:
        if zone is None:
            raise UsageError("--deadline paces trials in a zone: give --zone (or LOWCARB_ZONE)")
        deadline = parse_timestamp(args.deadline, now=datetime.now(UTC), what="--deadline")
    timeout = None
    if args.timeout is not None:
        timeout = parse_duration(args.timeout, what="--timeout", maximum=timedelta(days=30))
    console = ctx.err_console()
    progress = Progress(
        TextColumn("[bold]tune[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.fields[spent]} of {task.fields[limit]}  best {task.fields[best]}"),
        console=console,
        transient=False,
    )
    task = progress.add_task(
        safe(args.study), total=budget.limit, spent="0", limit=budget.label(), best="-"
    )
    best: list[float] = []

    def on_trial(trial: Any, outcome: TrialOutcome, state: BudgetState) -> None:
        if outcome.stop_reason is None and outcome.result is not None:
            best.append(float(outcome.result["metric"]))
        progress.update(
            task,
            completed=min(state.spent, budget.limit),
            spent=budget.label(state.spent),
            best=f"{max(best):.4f}" if best else "-",
        )

    try:
        result = tune(
            space,
            budget=budget,
            study_name=args.study,
            storage=storage,
            workers=args.workers,
            n_trials=args.n_trials,
            timeout_s=timeout.total_seconds() if timeout else None,
            zone=zone,
            ledger=ledger,
            deadline=deadline,
            seed=args.seed,
            pruner=EnergyHalvingPruner(min_j=args.prune_min_j) if args.prune_min_j else None,
            environ=ctx.environ,
            on_trial=on_trial,
            on_start=progress.start,
        )
    finally:
        progress.stop()
    if args.json:
        emit_json(ctx, result.to_dict())
    else:
        _print(ctx, result)
    return 0


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return safe(str(value))


def _print(ctx: CliContext, result: TuneResult) -> None:
    console = ctx.console()
    methods = "/".join(result.energy_methods) or "none"
    console.print(
        f"study {safe(result.study_name)}: {sum(result.trials.values())} trials "
        f"({', '.join(f'{n} {k}' for k, n in sorted(result.trials.items()))}); "
        f"spent {result.budget.label(result.spent)} of {result.budget.label()} "
        f"(energy {methods}); stopped: {result.stopped_reason}"
    )
    table = Table(title="Pareto front", title_justify="left")
    names = list(result.pareto[0]["values"]) if result.pareto else []
    # The objectives first, then what else a reader weighs: test score, both energies, precision.
    extra = {
        "test": "test_metric",
        "train kWh": "energy_kwh",
        "J/1k infer": "inference_energy_j_per_1k",
        "precision": "precision",
    }
    headers = {"energy": "train kWh", "inference_energy": "J/1k infer"}
    shown = [headers.get(n, n) for n in names]
    extras = [(h, k) for h, k in extra.items() if h not in shown]
    for column in ("trial", *shown, *(h for h, _ in extras)):
        table.add_column(column, justify="right")
    for point in result.pareto:
        table.add_row(
            str(point["trial"]),
            *(_fmt(point["values"][n]) for n in names),
            *(_fmt(point.get(k)) for _, k in extras),
        )
    console.print(table)
    for point in result.pareto:
        params = " ".join(f"{k}={_fmt(v, 3)}" for k, v in point["params"].items())
        console.print(f"  trial {point['trial']}: {params}")
    if result.best is not None:
        params = ", ".join(f"{k}={_fmt(v, 4)}" for k, v in result.best["params"].items())
        console.print(
            f"best: trial {result.best['trial']}, {result.objectives[0]} "
            f"{_fmt(result.best['value'])} (test {_fmt(result.best.get('test_metric'))}): {params}"
        )
    else:
        console.print("best: no trial finished within the budget; raise the budget")
    if result.stops:
        stops = ", ".join(f"{s['trial']} ({s['reason']})" for s in result.stops[:10])
        console.print(f"stopped from inside: {stops}")
    if result.co2e_saved_g is not None:
        console.print(
            f"pacing saved {result.co2e_saved_g:.4g} g CO2e against starting every trial at once "
            "(forecast)"
        )
