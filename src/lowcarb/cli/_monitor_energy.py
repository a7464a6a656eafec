"""``lowcarb monitor energy``: an energy regression of a model version against the champion (see
:mod:`lowcarb.cli.monitor`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lowcarb._files import read_input_bytes
from lowcarb._text import check_name, plain
from lowcarb.cli._common import CliContext, emit_json
from lowcarb.cli._monitor_common import ledger_url
from lowcarb.errors import UsageError

__all__ = ["register_energy"]


def register_energy(msub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb monitor energy``."""
    e = msub.add_parser(
        "energy",
        help="energy regression of a model version against the champion (exit 1 on an alert)",
        description=(
            "Compare joules per 1,000 inferences of a candidate (a profile, or a serving "
            "/metrics scrape, since the server started or since a --previous scrape) with the "
            "baseline profile under the policy's energy_regression "
            "rule; record the check in the ledger, and with rollback: true move the MLflow "
            "alias back to the previous champion. Exit 0 within tolerance, 1 alert."
        ),
    )
    e.add_argument("--policy", type=Path, required=True, help="policy YAML (energy_regression)")
    e.add_argument("--baseline", type=Path, required=True, help="the champion's profile JSON")
    e.add_argument("--candidate", type=Path, help="the candidate's profile JSON")
    e.add_argument("--metrics", metavar="URL_OR_FILE", help="a /metrics URL or a saved scrape")
    e.add_argument("--model", metavar="NAME", help="the served model label in --metrics")
    e.add_argument(
        "--version", metavar="V", help="the served version behind --metrics (ledger, rollback)"
    )
    e.add_argument(
        "--previous",
        metavar="URL_OR_FILE",
        help="an earlier scrape of --metrics: the figure covers the requests between the two",
    )
    e.add_argument("--mlflow-model", metavar="NAME", help="registered model to roll back")
    e.add_argument("--tracking-uri", help="MLflow tracking/registry URI")
    e.add_argument("--ledger", help="ledger URL (default: LOWCARB_LEDGER or the config file)")
    e.add_argument("--team", help="team charged")
    e.add_argument("--project", help="project charged")
    e.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    e.set_defaults(func=_energy)


def _energy(args: argparse.Namespace, ctx: CliContext) -> int:
    from lowcarb.ledger import open_ledger
    from lowcarb.monitoring import (
        act_on_regression,
        check_energy_regression,
        energy_from_metrics,
        energy_from_profile,
        load_retrain_policy,
    )
    from lowcarb.profiling import load_profile

    check_name(args.team, what="--team")
    check_name(args.project, what="--project")
    policy = load_retrain_policy(args.policy)
    rule = policy.require_energy_regression()
    if (args.candidate is None) == (args.metrics is None):
        raise UsageError("give either --candidate PROFILE or --metrics URL_OR_FILE --model NAME")
    if rule.rollback and not args.mlflow_model:
        raise UsageError(
            "the policy says rollback: true; give --mlflow-model NAME (and --tracking-uri), or "
            "set rollback: false"
        )
    baseline = energy_from_profile(
        load_profile(args.baseline, role="baseline"), location=str(args.baseline)
    )
    if args.candidate is not None:
        if args.version is not None or args.previous is not None:
            raise UsageError(
                "--version and --previous go with --metrics; a --candidate profile carries its "
                "own version and covers its own run"
            )
        candidate = energy_from_profile(
            load_profile(args.candidate, role="candidate"), location=str(args.candidate)
        )
    else:
        if not args.model:
            raise UsageError("--metrics needs --model NAME (the served model's label)")
        if args.version is not None:
            check_name(args.version, what="--version")
        text = _scrape(args.metrics, what="--metrics")
        previous = _scrape(args.previous, what="--previous") if args.previous else None
        candidate = energy_from_metrics(
            text,
            model=args.model,
            version=args.version,
            previous=previous,
            location=args.metrics,
        )
    regression = check_energy_regression(candidate, baseline, rule)
    rollback = None
    if args.mlflow_model:
        from lowcarb.integrations.mlflow import MlflowAliasRollback, mlflow_client

        uri = args.tracking_uri or ctx.environ.get("MLFLOW_TRACKING_URI")
        rollback = MlflowAliasRollback(mlflow_client(uri), name=args.mlflow_model, alias=rule.alias)
    with open_ledger(ledger_url(args, ctx), environ=ctx.environ) as ledger:
        outcome = act_on_regression(
            regression,
            policy,
            ledger=ledger,
            rollback=rollback,
            team=args.team,
            project=args.project,
        )
    if args.json:
        emit_json(ctx, outcome.to_dict())
    else:
        print(
            ("ALERT: " if regression.alert else "ok: ") + plain(regression.message), file=ctx.stdout
        )
        for note in regression.notes:
            print(f"note: {plain(note)}", file=ctx.stdout)
    return 1 if regression.alert else 0


def _scrape(where: str, *, what: str) -> bytes:
    from lowcarb.monitoring import fetch_metrics

    if where.startswith(("http://", "https://")):
        return fetch_metrics(where)
    return read_input_bytes(Path(where), what=what)
