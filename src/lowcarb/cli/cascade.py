"""``lowcarb cascade fit|profile``: fit a cascade of models, and profile it for the gate.

The logic lives in :mod:`lowcarb.compression` (``fit_cascade``, ``load_cascade``,
``cascade_profile``); this module loads the inputs, measures each stage's energy, and renders.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lowcarb._files import check_output_path, write_atomic
from lowcarb._text import check_name, safe
from lowcarb.cli._common import CliContext, emit_json, non_negative_float, positive_float
from lowcarb.errors import InvalidValueError, UsageError

__all__ = ["register"]

#: Grid intensity above which ``cascade profile`` counts the grid as dirty, g/kWh.
DEFAULT_DIRTY_ABOVE_G_PER_KWH = 300.0


def _loss_pts(text: str) -> float:
    value = non_negative_float(text)
    if value > 100:
        raise argparse.ArgumentTypeError(f"value must be 0..100 points, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"value must be 0..1 (e.g. 0.95), got {text!r}")
    return value


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb cascade fit`` and ``lowcarb cascade profile``."""
    p = sub.add_parser(
        "cascade",
        help="fit a cascade of models (cheap first) and profile it like a single model",
        description=(
            "A cascade answers each request with the cheapest model that is sure enough and "
            "escalates the rest. `fit` chooses thresholds on held-out data for the least "
            "expected energy within an accuracy loss against the largest model; `profile` "
            "measures the cascade as the gate judges a model."
        ),
    )
    cmds = p.add_subparsers(dest="cascade_command", metavar="COMMAND", required=True)

    fit = cmds.add_parser(
        "fit",
        help="fit thresholds on held-out data and write the cascade file",
        description=(
            "Measure each model's energy per 1,000 requests at batch 1, then fit one threshold "
            "per model but the last: the fitted point (least expected energy within "
            "--max-accuracy-loss-pts of the last model's accuracy) and cheaper points at 1, 2 "
            "and 5 points of loss for a dirty grid."
        ),
    )
    fit.add_argument("models", nargs="+", type=Path, metavar="MODEL", help="models, cheapest first")
    _data_flags(fit)
    fit.add_argument(
        "--max-accuracy-loss-pts",
        type=_loss_pts,
        required=True,
        help="accuracy points the cascade may lose against the last model (e.g. 0.5)",
    )
    fit.add_argument("-o", "--output", type=Path, required=True, help="cascade file to write")
    fit.add_argument(
        "--energy-seconds",
        type=positive_float,
        default=0.5,
        help="energy window per model, s (default 0.5)",
    )
    fit.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    fit.set_defaults(func=_fit)

    prof = cmds.add_parser(
        "profile",
        help="profile a cascade on held-out data (a profile file the gate reads)",
        description=(
            "Answer held-out requests one at a time through the cascade: accuracy, latency, "
            "energy per 1,000 requests (router included) and the share answered per stage. "
            "With --intensity or --zone, a dirty grid moves the cascade to its cheapest point "
            "at or above --accuracy-floor."
        ),
    )
    prof.add_argument("cascade", type=Path, metavar="CASCADE", help="cascade file (JSON)")
    _data_flags(prof)
    grid = prof.add_mutually_exclusive_group()
    grid.add_argument(
        "--intensity", type=non_negative_float, help="grid intensity now (or forecast), g/kWh"
    )
    grid.add_argument(
        "--zone",
        help="grid zone: use its intensity for the current UTC hour (the hourly profile "
        "`lowcarb serve` uses; its source is shown)",
    )
    grid.add_argument("--point", help="use this operating point by name (e.g. fitted, loss-2pt)")
    prof.add_argument(
        "--dirty-above",
        type=non_negative_float,
        default=DEFAULT_DIRTY_ABOVE_G_PER_KWH,
        help=f"g/kWh above which the grid is dirty (default {DEFAULT_DIRTY_ABOVE_G_PER_KWH:g})",
    )
    prof.add_argument(
        "--accuracy-floor",
        type=_fraction,
        default=0.0,
        help="never use a point below this validation accuracy, 0..1",
    )
    prof.add_argument(
        "--now",
        metavar="TIMESTAMP",
        help="with --zone: the hour whose intensity to use, ISO 8601 (default: the clock)",
    )
    prof.add_argument("--name", default="cascade", help="model name in the profile")
    prof.add_argument(
        "--model-version", dest="model_version", default="1", help="version in the profile"
    )
    prof.add_argument(
        "--energy-seconds", type=positive_float, default=2.0, help="energy window, s (default 2)"
    )
    prof.add_argument("-o", "--output", type=Path, help="also write the profile JSON here")
    prof.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    prof.set_defaults(func=_profile)


def _data_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, type=Path, help="held-out set (.npz X/y, or .csv)")
    p.add_argument("--target", help="label column of a CSV held-out set (default: last column)")
    p.add_argument(
        "--allow-pickle",
        action="store_true",
        help="load .pkl/.pickle/.joblib models: runs any code they contain (trusted files only)",
    )


def _fit(args: argparse.Namespace, ctx: CliContext) -> int:
    from lowcarb.compression import (
        cascade_to_dict,
        fit_cascade,
        measure_stage_energy,
        save_cascade,
    )
    from lowcarb.profiling import check_features, load_dataset, load_model

    check_output_path(args.output, what="--output")  # before minutes of measuring
    if len(args.models) < 2:
        raise UsageError(f"a cascade needs at least 2 models, got {len(args.models)}")
    x, y, described = load_dataset(args.data, target=args.target)
    loaded = []
    for path in args.models:
        model, _ = load_model(path, allow_pickle=args.allow_pickle)
        check_features(model, x, data=f"--data {str(args.data)!r} for {str(path)!r}")
        loaded.append((path, model))
    energies, methods = [], []
    for path, model in loaded:
        if getattr(model, "classes_", None) is None or not callable(
            getattr(model, "predict_proba", None)
        ):
            raise UsageError(
                f"model {str(path)!r} ({type(model).__name__}) gives no class probabilities "
                "(predict_proba and classes_); use a scikit-learn classifier saved with skops, "
                "or an ONNX classifier exported by skl2onnx or lowcarb compress"
            )
        stats = measure_stage_energy(
            model,
            x,
            environ=ctx.environ,
            min_duration_s=args.energy_seconds,
            max_duration_s=max(2.0, args.energy_seconds * 2),
        )
        energies.append(stats.energy_per_1k_j)
        methods.append(stats.method)
    cascade = fit_cascade(
        loaded,
        x,
        y,
        max_accuracy_loss_pts=args.max_accuracy_loss_pts,
        energy_per_1k_j=energies,
        energy_method=methods,
        dataset=described,
    )
    save_cascade(args.output, cascade)
    data = cascade_to_dict(cascade, relative_to=args.output.parent)
    if args.json:
        emit_json(ctx, {"output": str(args.output), **data})
        return 0
    console = ctx.console()
    fo = cascade.fitted_on
    console.print(
        f"cascade of {len(cascade.stages)} models fitted on {safe(fo.dataset)}: largest model "
        f"accuracy {fo.largest_accuracy:.4f}, allowed loss {fo.max_accuracy_loss_pts:g} pt"
    )
    for s in cascade.stages:
        console.print(
            f"  {safe(s.path)}: {s.energy_per_1k_j:.4g} J per 1k requests ({s.energy_method})"
        )
    for pt in cascade.points:
        console.print(
            f"  point {safe(pt.name)}: thresholds {', '.join(f'{t:.4g}' for t in pt.thresholds)}; "
            f"accuracy {pt.accuracy:.4f}; {pt.energy_per_1k_j:.4g} J per 1k; shares "
            + ", ".join(f"{v:.3f}" for v in pt.share_per_stage)
        )
    console.print(f"cascade written to {safe(args.output)}")
    return 0


def _profile(args: argparse.Namespace, ctx: CliContext) -> int:
    from lowcarb.compression import cascade_profile, load_cascade
    from lowcarb.profiling import ProfileSettings, load_dataset

    if args.output is not None:
        check_output_path(args.output, what="--output")
    name = check_name(args.name, what="--name") or "cascade"
    version = check_name(args.model_version, what="--model-version") or "1"
    intensity = args.intensity
    source: str | None = None  # --intensity: the caller's own figure, named as such
    if args.now is not None and args.zone is None:
        raise UsageError("--now picks the hour of --zone's intensity; give --zone too")
    if args.zone is not None:
        from lowcarb.grid import resolve_zone
        from lowcarb.tracking import intensity_for_hours
        from lowcarb.units import parse_timestamp

        zone = resolve_zone(args.zone, environ=ctx.environ, config_zone=None)
        now = parse_timestamp(args.now, what="--now") if args.now else datetime.now(UTC)
        # The lookup `lowcarb serve` makes for a cascade (serving's TrackerEnergy.intensity).
        hourly = intensity_for_hours(
            zone, start=now.replace(minute=0, second=0, microsecond=0), duration_s=3600.0
        )
        intensity, source = hourly.intensity_g_per_kwh, hourly.source
    cascade = load_cascade(args.cascade, allow_pickle=args.allow_pickle)
    x, y, described = load_dataset(args.data, target=args.target)
    if args.point is not None:
        point: Any = cascade.point(args.point)
        if point.accuracy < args.accuracy_floor:
            raise InvalidValueError(
                f"point {args.point!r} has accuracy {point.accuracy:.4f}, below --accuracy-floor "
                f"{args.accuracy_floor!r}; choose another point or lower the floor"
            )
    else:
        point = cascade.select_point(
            intensity,
            dirty_above_g_per_kwh=args.dirty_above,
            accuracy_floor=args.accuracy_floor,
            intensity_source=source,
        )
    settings = ProfileSettings(
        energy_min_duration_s=args.energy_seconds,
        energy_max_duration_s=max(10.0, args.energy_seconds),
    )
    result = cascade_profile(
        cascade,
        x,
        y,
        point=point,
        name=name,
        version=version,
        settings=settings,
        environ=ctx.environ,
        dataset=described,
    )
    profile = result.profile.to_dict()
    if args.output is not None:
        write_atomic(args.output, json.dumps(profile, indent=2) + "\n")
    if args.json:
        emit_json(ctx, result.to_dict())
        return 0
    console = ctx.console()
    pt = result.point
    console.print(
        f"operating point {safe(pt.name)} (thresholds "
        f"{', '.join(f'{t:.4g}' for t in pt.thresholds)})"
        + (f": {safe(result.choice.reason)}" if result.choice is not None else "")
    )
    for s, share in zip(cascade.stages, result.stage_shares, strict=True):
        console.print(f"  {safe(s.path.name)}: answered {share:.1%} of requests")
    console.print(
        f"accuracy {result.profile.accuracy:.4f}; {result.profile.energy_per_1k_j:.4g} J per 1k "
        f"requests ({result.profile.energy_method}); latency p95 "
        f"{result.profile.latency_p95_ms:.3f} ms; router p95 {result.router_p95_ms:.4f} ms"
    )
    if args.output is not None:
        console.print(f"profile written to {safe(args.output)}")
    return 0
