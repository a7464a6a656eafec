"""``lowcarb gate``: may the candidate replace the baseline? Exit 1 on reject (for CI).

Two sources of profiles: files (``--candidate``/``--baseline``, the DESIGN.md contract) or an
MLflow registry (``--mlflow-model NAME --candidate-version V`` against the ``champion`` alias,
which moves only on promote). Every verdict, with the SHA-256 of its inputs, is appended to the
ledger (``--ledger`` or ``LOWCARB_LEDGER``) as a ``decision`` record. The logic lives in
:mod:`lowcarb.governance` (and :mod:`lowcarb.integrations.mlflow` for the registry).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from lowcarb._config import resolve_ledger_url
from lowcarb._files import read_input_bytes
from lowcarb._text import check_name
from lowcarb.cli._common import CliContext, emit_json
from lowcarb.errors import DataError, PolicyError, UsageError
from lowcarb.units import parse_timestamp

__all__ = ["parse_now", "register"]


def parse_now(text: str | None) -> datetime | None:
    """``--now``: an ISO 8601 time with a zone (the one timestamp rule of every command)."""
    return None if text is None else parse_timestamp(text, what="--now")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb gate``."""
    p = sub.add_parser(
        "gate",
        help="promote or reject a candidate model under a policy (exit 1 on reject)",
        description=(
            "Compare a candidate's efficiency profile with the baseline's under a YAML policy. "
            "Prints the verdict and its reasons; exit 0 promote, 1 reject, 2 bad input. Every "
            "verdict, with the SHA-256 of its inputs, is appended to the ledger."
        ),
    )
    p.add_argument("--policy", required=True, type=Path, help="policy YAML file")
    p.add_argument("--candidate", type=Path, help="candidate profile JSON")
    p.add_argument("--baseline", type=Path, help="baseline profile JSON")
    p.add_argument("--mlflow-model", metavar="NAME", help="gate a registered MLflow model")
    p.add_argument("--candidate-version", metavar="V", help="MLflow version to gate")
    p.add_argument(
        "--alias", default="champion", help="MLflow alias of the baseline (default champion)"
    )
    p.add_argument(
        "--tracking-uri", help="MLflow tracking/registry URI (default: MLFLOW_TRACKING_URI)"
    )
    p.add_argument("--ledger", help="ledger URL (default: LOWCARB_LEDGER)")
    p.add_argument("--team", help="team charged (default: the candidate profile's team)")
    p.add_argument("--project", help="project charged (default: the candidate profile's project)")
    p.add_argument("--now", help="decision time, ISO 8601 (default: now; for audits and tests)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=_gate)


def _gate(args: argparse.Namespace, ctx: CliContext) -> int:
    from lowcarb.governance import GateInput, gate_files, parse_policy, print_verdict
    from lowcarb.integrations.mlflow import gate_registered_model, mlflow_client
    from lowcarb.profiling import sha256_hex

    # The one resolver (flag > LOWCARB_LEDGER > config file); the ledger is opened before the
    # verdict is computed, so a bad one fails before acting and no verdict goes astray.
    # Names are checked when written (they go into the decision record), before anything else.
    check_name(args.team, what="--team")
    check_name(args.project, what="--project")
    now = parse_now(args.now)
    ledger_url = resolve_ledger_url(args.ledger, environ=ctx.environ, default=None)
    if ledger_url:
        from lowcarb.ledger import open_ledger

        with open_ledger(ledger_url, environ=ctx.environ):
            pass
    if args.mlflow_model:
        if args.candidate or args.baseline:
            raise UsageError(
                "--mlflow-model reads profiles from MLflow; drop --candidate/--baseline"
            )
        if not args.candidate_version:
            raise UsageError("--mlflow-model needs --candidate-version V")
        try:
            raw = read_input_bytes(args.policy, what="policy", max_bytes=1 << 20)
        except (DataError, UsageError) as exc:
            raise PolicyError(str(exc)) from None
        uri = args.tracking_uri or ctx.environ.get("MLFLOW_TRACKING_URI")
        outcome = gate_registered_model(
            parse_policy(raw, source=str(args.policy)),
            policy_input=GateInput("policy", str(args.policy), sha256_hex(raw)),
            client=mlflow_client(uri),
            name=args.mlflow_model,
            candidate_version=str(args.candidate_version),
            ledger_url=ledger_url,
            alias=args.alias,
            team=args.team,
            project=args.project,
            now=now,
            environ=ctx.environ,
        )
    else:
        if args.candidate_version:
            raise UsageError("--candidate-version goes with --mlflow-model NAME")
        if args.candidate is None or args.baseline is None:
            raise UsageError(
                "give --candidate FILE and --baseline FILE (or --mlflow-model NAME "
                "--candidate-version V)"
            )
        outcome = gate_files(
            policy=args.policy,
            candidate=args.candidate,
            baseline=args.baseline,
            ledger_url=ledger_url,
            team=args.team,
            project=args.project,
            now=now,
            environ=ctx.environ,
        )
    if args.json:
        emit_json(ctx, outcome.to_dict())
    else:
        print_verdict(ctx.console(), outcome)
    if outcome.record_id is None:
        print(
            "lowcarb: note: verdict not recorded: no ledger configured "
            "(--ledger, LOWCARB_LEDGER or ledger in lowcarb.toml)",
            file=ctx.stderr,
        )
    return 0 if outcome.verdict.decision == "promote" else 1
