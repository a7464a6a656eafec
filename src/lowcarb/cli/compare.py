"""``lowcarb compare``: models side by side (accuracy, p95 latency, training CO2e, energy/1k).

Profiles come from files or from MLflow model versions (``--mlflow-model NAME --versions ...``).
Output: a Rich table (default), Markdown (``--format markdown``, for PRs and model cards) or JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lowcarb.cli._common import CliContext, emit_json
from lowcarb.errors import UsageError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb compare``."""
    p = sub.add_parser(
        "compare",
        help="compare model profiles side by side (table, Markdown or JSON)",
        description=(
            "Compare efficiency profiles: accuracy, p95 latency, training CO2e and inference "
            "energy per 1,000, with changes relative to the first."
        ),
    )
    p.add_argument("profiles", nargs="*", type=Path, metavar="PROFILE", help="profile JSON files")
    p.add_argument("--mlflow-model", metavar="NAME", help="read profiles from this MLflow model")
    p.add_argument("--versions", nargs="+", metavar="V", help="MLflow versions to compare")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    p.add_argument(
        "--format",
        choices=("table", "markdown", "json"),
        default="table",
        help="output format (default table)",
    )
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.set_defaults(func=_compare)


def _compare(args: argparse.Namespace, ctx: CliContext) -> int:
    from lowcarb.governance import (
        comparison_json,
        comparison_markdown,
        comparison_rows,
        comparison_table,
    )
    from lowcarb.integrations.mlflow import mlflow_client, read_model_version_profile
    from lowcarb.profiling import load_profile

    if args.mlflow_model:
        if args.profiles or not args.versions:
            raise UsageError("--mlflow-model NAME takes --versions V1 V2 ... instead of files")
        client = mlflow_client(args.tracking_uri or ctx.environ.get("MLFLOW_TRACKING_URI"))
        profiles = [
            read_model_version_profile(client, args.mlflow_model, str(v)).profile
            for v in args.versions
        ]
    else:
        if args.versions:
            raise UsageError("--versions goes with --mlflow-model NAME")
        if not args.profiles:
            raise UsageError("give at least one PROFILE file (or --mlflow-model NAME --versions)")
        profiles = [load_profile(p) for p in args.profiles]
    rows = comparison_rows(profiles)
    fmt = "json" if args.json else args.format
    if fmt == "json":
        emit_json(ctx, comparison_json(rows))
    elif fmt == "markdown":
        ctx.stdout.write(comparison_markdown(rows))
    else:
        ctx.console().print(comparison_table(rows))
    return 0
