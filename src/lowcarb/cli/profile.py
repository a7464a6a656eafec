"""``lowcarb profile``: measure a model's efficiency profile on this machine (DESIGN.md JSON).

The logic lives in :func:`lowcarb.profiling.profile_model`; this module loads the inputs,
reads training CO2e from the ledger, and renders or writes the profile.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lowcarb._config import resolve_ledger_url
from lowcarb._files import check_output_path, write_atomic
from lowcarb._text import check_name, safe
from lowcarb.cli._common import CliContext, emit_json, non_negative_float, positive_int
from lowcarb.errors import UsageError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb profile``."""
    p = sub.add_parser(
        "profile",
        help="measure a model's size, FLOPs, latency, energy per 1k inferences and accuracy",
        description=(
            "Profile a fitted scikit-learn model (.pkl/.pickle/.joblib) or an ONNX graph (.onnx, "
            "run with onnxruntime: pip install 'lowcarb[onnx]') on a held-out set (.npz with X "
            "and y, or .csv): size, parameters, "
            "FLOPs, latency p50/p95 at batch 1 and a larger batch, energy per 1,000 inferences "
            "measured with the Tracker (labelled measured or estimated), accuracy, and training "
            "CO2e from the ledger. Prints the profile JSON of DESIGN.md with --json."
        ),
    )
    p.add_argument(
        "--model-file",
        "--model",
        dest="model",
        required=True,
        type=Path,
        help="model file (.onnx, .skops; .pkl/.joblib need --allow-pickle)",
    )
    p.add_argument(
        "--allow-pickle",
        action="store_true",
        help="load a .pkl/.pickle/.joblib model: this runs any code the file contains, so give "
        "it only for files you trust (prefer ONNX or skops)",
    )
    p.add_argument("--data", required=True, type=Path, help="held-out set (.npz X/y, or .csv)")
    p.add_argument("--target", help="label column of a CSV held-out set (default: last column)")
    p.add_argument("--name", help="model name (default: the model file's stem)")
    # dest differs from the top-level `lowcarb --version` flag, which shares the namespace.
    p.add_argument(
        "--model-version", "--version", dest="model_version", required=True, help="model version"
    )
    p.add_argument("--zone", help="grid zone to price energy in (default: LOWCARB_ZONE)")
    p.add_argument("--ledger", help="ledger to read training CO2e from (default: LOWCARB_LEDGER)")
    p.add_argument("--team", help="team the model belongs to (budgets)")
    p.add_argument("--project", help="project the model belongs to (budgets)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="larger batch (default 64)")
    p.add_argument(
        "--latency-calls", type=positive_int, default=200, help="timed calls per batch size"
    )
    p.add_argument(
        "--energy-seconds",
        type=non_negative_float,
        default=2.0,
        help="minimum length of the energy window, s (default 2)",
    )
    p.add_argument(
        "--energy-inferences",
        type=positive_int,
        default=1000,
        help="minimum inferences in the energy window (default 1000)",
    )
    p.add_argument("-o", "--output", type=Path, help="also write the profile JSON to this file")
    p.add_argument("--mlflow-model", metavar="NAME", help="tag this registered MLflow model ...")
    p.add_argument("--mlflow-version", metavar="V", help="... version with the profile")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=_profile)


def _profile(args: argparse.Namespace, ctx: CliContext) -> int:
    from lowcarb.integrations.mlflow import mlflow_client, tag_model_version
    from lowcarb.ledger import open_ledger
    from lowcarb.profiling import (
        ProfileSettings,
        TrainingCO2e,
        check_features,
        load_dataset,
        load_model,
        print_profile,
        profile_model,
        training_co2e,
    )

    if bool(args.mlflow_model) != bool(args.mlflow_version):
        raise UsageError("--mlflow-model NAME and --mlflow-version V go together")
    if args.output is not None:
        check_output_path(args.output, what="--output")  # before minutes of profiling
    if args.zone is not None:  # a typo fails now, not after loading and timing the model
        from lowcarb.grid import resolve_zone, static_intensity

        static_intensity(resolve_zone(args.zone, environ=ctx.environ, config_zone=None))
    name = check_name(args.name or args.model.stem, what="--name") or args.model.stem
    version = check_name(args.model_version, what="--version") or args.model_version
    team = check_name(args.team or ctx.environ.get("LOWCARB_TEAM") or None, what="--team")
    project = check_name(
        args.project or ctx.environ.get("LOWCARB_PROJECT") or None, what="--project"
    )
    zone = check_name(args.zone, what="--zone")
    ledger_url = resolve_ledger_url(args.ledger, environ=ctx.environ, default=None)
    training: TrainingCO2e | None = None
    if ledger_url:  # opened before the work: a bad ledger fails in the first second
        with open_ledger(ledger_url, environ=ctx.environ, create=False) as ledger:
            training = training_co2e(ledger, model=name, version=version)
    model, size = load_model(args.model, allow_pickle=args.allow_pickle)
    x, y, described = load_dataset(args.data, target=args.target)
    check_features(model, x, data=f"--data {str(args.data)!r}")
    settings = ProfileSettings(
        batch_size=args.batch_size,
        latency_calls=args.latency_calls,
        energy_min_duration_s=args.energy_seconds,
        energy_max_duration_s=max(10.0, args.energy_seconds),
        energy_min_inferences=args.energy_inferences,
    )
    profile = profile_model(
        model,
        x,
        y,
        name=name,
        version=version,
        size_bytes=size,
        settings=settings,
        zone=zone,
        training=training,
        team=team,
        project=project,
        dataset=described,
        environ=ctx.environ,
    )
    data = profile.to_dict()
    if args.output is not None:
        write_atomic(args.output, json.dumps(data, indent=2) + "\n")
    if args.mlflow_model:
        uri = args.tracking_uri or ctx.environ.get("MLFLOW_TRACKING_URI")
        tag_model_version(mlflow_client(uri), args.mlflow_model, str(args.mlflow_version), profile)
    if args.json:
        emit_json(ctx, data)
    else:
        print_profile(ctx.console(), profile)
        if args.output is not None:
            ctx.console().print(f"profile written to {safe(args.output)}")
    return 0
