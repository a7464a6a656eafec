"""``lowcarb serve``: an inference server that reports the energy and CO2e of every request."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lowcarb._files import check_output_path
from lowcarb.cli._common import CliContext, non_negative_float, positive_int
from lowcarb.errors import MissingDependencyError, UsageError

__all__ = ["register"]


def _port(text: str) -> int:
    port = positive_int(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"port must be 1..65535, got {text!r}")
    return port


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb serve``."""
    p = sub.add_parser(
        "serve",
        help="serve a model over HTTP with per-request energy and Prometheus metrics",
        description=(
            'POST /predict with {"rows": [[...], ...]} answers the predictions with the '
            "request's energy (measured or estimated) and CO2e; GET /healthz, /readyz, /metrics "
            "(Prometheus), /openapi.json. SIGTERM drains: requests in flight finish."
        ),
    )
    p.add_argument(
        "model",
        metavar="MODEL_OR_CASCADE",
        help="model file (.onnx, .skops, or a pickle) or cascade file (.json, lowcarb cascade fit)",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8080, help="TCP port (default 8080)")
    p.add_argument(
        "--zone", metavar="Z", help="grid zone pricing the energy (default: LOWCARB_ZONE, ...)"
    )
    p.add_argument("--name", metavar="NAME", help="model name (default: the file's stem)")
    p.add_argument(
        "--point", metavar="NAME", help="a cascade's operating point (default: the fitted one)"
    )
    p.add_argument(
        "--dirty-above",
        type=float,
        metavar="G",
        help="a cascade moves to its cheapest pre-fitted point above G gCO2e/kWh (--zone's grid)",
    )
    p.add_argument(
        "--accuracy-floor",
        type=float,
        default=0.0,
        metavar="A",
        help="no operating point below this validation accuracy, 0..1 (with --dirty-above)",
    )
    p.add_argument(
        "--max-batch", type=positive_int, default=64, metavar="N", help="rows per batch (64)"
    )
    p.add_argument(
        "--batch-wait-ms",
        type=non_negative_float,
        default=2.0,
        metavar="MS",
        help="longest wait for a batch to fill, milliseconds (default 2)",
    )
    p.add_argument(
        "--max-body-bytes",
        type=positive_int,
        default=1_000_000,
        metavar="B",
        help="largest request body, bytes (default 1000000)",
    )
    p.add_argument(
        "--max-rows", type=positive_int, default=10_000, metavar="N", help="rows per request"
    )
    p.add_argument(
        "--allow-pickle",
        action="store_true",
        help="load a pickle/joblib model, which runs any code in it (only files you trust)",
    )
    p.add_argument(
        "--no-energy-headers",
        dest="energy_headers",
        action="store_false",
        help="leave out the X-Lowcarb-Energy-J and X-Lowcarb-Energy-Method response headers "
        "(the figures stay in the JSON body and the metrics)",
    )
    p.add_argument(
        "--log-features",
        metavar="PATH",
        help="append each answered request's rows and predictions to this JSON Lines file, "
        "which `lowcarb monitor check REFERENCE PATH` reads as the current window",
    )
    # Internal: the benchmark's baseline, the same server without energy metering.
    p.add_argument("--no-metering", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=_serve)


_SERVE_MODULES = frozenset({"fastapi", "starlette", "pydantic", "uvicorn", "prometheus_client"})


def _serve(args: argparse.Namespace, ctx: CliContext) -> int:
    try:
        from lowcarb.serving import (
            ServeConfig,
            TrackerEnergy,
            create_app,
            load_served_model,
            run_server,
        )
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in _SERVE_MODULES:
            raise MissingDependencyError(str(exc.name), "serve") from None
        raise

    # Everything that can fail on bad input fails here, before a port is bound.
    feature_log = None
    if args.log_features is not None:
        feature_log = check_output_path(Path(args.log_features), what="--log-features")
    served = load_served_model(
        args.model, allow_pickle=args.allow_pickle, name=args.name, point=args.point
    )
    try:
        config = ServeConfig(
            max_batch=args.max_batch,
            batch_wait_ms=args.batch_wait_ms,
            max_body_bytes=args.max_body_bytes,
            max_rows=args.max_rows,
            energy_headers=args.energy_headers,
            feature_log=feature_log,
            dirty_above_g_per_kwh=args.dirty_above,
            accuracy_floor=args.accuracy_floor,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.dirty_above is not None:
        if not served.is_cascade:
            raise UsageError("--dirty-above moves a cascade between operating points; serve one")
        # A floor above every point, or a negative limit, fails now rather than on a request.
        served.model.select_point(
            None, dirty_above_g_per_kwh=args.dirty_above, accuracy_floor=args.accuracy_floor
        )
    energy = None if args.no_metering else TrackerEnergy(zone=args.zone, environ=ctx.environ)
    app = create_app(served, config=config, energy=energy)
    run_server(app, host=args.host, port=args.port)
    return 0
