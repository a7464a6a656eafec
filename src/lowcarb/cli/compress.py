"""``lowcarb compress``: a cheaper model, profiled before and after and judged by the policy."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from lowcarb._text import check_name, safe
from lowcarb.cli._common import CliContext, emit_json, positive_float
from lowcarb.errors import UsageError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb compress``."""
    from lowcarb.compression import METHODS

    p = sub.add_parser(
        "compress",
        help="make a cheaper model (int8, fp16, pruning, distillation) and prove it",
        description=(
            "Export MODEL to ONNX and make every cheaper variant that applies (dynamic and static "
            "int8, fp16, structured pruning, distillation); profile each like `lowcarb profile` "
            "and judge it against the original under the promotion policy. The best variant that "
            "passes is written; exit 1 when none does. MODEL may be an ONNX graph: it is then "
            "quantized or converted to fp16 itself (and distilled when it outputs probabilities). "
            "Calibration and distillation use --calibration rows (features only; labels are not "
            "needed), or half of --data, shuffled with a fixed seed and split class by class "
            "(then only the other half is used to judge)."
        ),
    )
    p.add_argument(
        "model", type=Path, metavar="MODEL", help="a .skops, .onnx or .pt2 (PyTorch) model file"
    )
    p.add_argument("--data", required=True, type=Path, help="held-out set (.npz X/y, or .csv)")
    p.add_argument("--target", help="label column of a CSV held-out set (default: last column)")
    p.add_argument(
        "--calibration",
        type=Path,
        help="rows for calibration and distillation (.npz with X, or .csv; labels not needed)",
    )
    p.add_argument("--method", choices=METHODS, default="auto", help="what to try (default auto)")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        help="the compressed model, a new .onnx file (default MODEL.compressed.onnx)",
    )
    p.add_argument("--policy", type=Path, help="promotion policy (default: 1 pt, no energy rise)")
    p.add_argument("--name", help="model name (default: the file's stem)")
    p.add_argument("--model-version", default="1", help="version of the model (default 1)")
    p.add_argument("--zone", help="grid zone (default LOWCARB_ZONE)")
    p.add_argument(
        "--energy-seconds", type=positive_float, default=1.0, help="energy window per model"
    )
    p.add_argument(
        "--allow-pickle", action="store_true", help="load a pickled model (runs its code)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=_compress)


def _compress(args: argparse.Namespace, ctx: CliContext) -> int:
    from lowcarb.compression import check_compress_output, compress, split_heldout
    from lowcarb.governance import load_policy
    from lowcarb.profiling import (
        ProfileSettings,
        check_features,
        load_dataset,
        load_features,
        load_model,
    )

    output = args.output or args.model.with_name(f"{args.model.stem}.compressed.onnx")
    if args.output is None and output.exists():
        raise UsageError(f"{str(output)!r} exists; give --output to choose where to write")
    check_compress_output(output, model_path=args.model)  # before minutes of work
    policy = load_policy(args.policy) if args.policy is not None else None
    name = check_name(args.name or args.model.stem, what="--name") or args.model.stem
    version = check_name(args.model_version, what="--model-version") or "1"
    model, size = load_model(args.model, allow_pickle=args.allow_pickle)
    x, y, described = load_dataset(args.data, target=args.target)
    check_features(model, x, data=f"--data {str(args.data)!r}")
    if args.calibration is not None:
        x_cal, _ = load_features(args.calibration, target=args.target, model=model)
        check_features(model, x_cal, data=f"--calibration {str(args.calibration)!r}")
        x_eval, y_eval = x, y
    else:
        x_cal, x_eval, y_eval = split_heldout(x, y)
        described = f"{args.data.name} (a {len(x_eval)}-row stratified half)"
    settings = ProfileSettings(
        latency_calls=200,
        energy_min_duration_s=args.energy_seconds,
        energy_max_duration_s=max(5.0, args.energy_seconds),
        energy_min_inferences=500,
    )
    report = compress(
        model,
        x_calibration=x_cal,
        x_eval=x_eval,
        y_eval=y_eval,
        name=name,
        version=version,
        size_bytes=size,
        method=args.method,
        policy=policy,
        output=output,
        model_path=args.model,
        settings=settings,
        zone=args.zone or ctx.environ.get("LOWCARB_ZONE") or None,
        environ=ctx.environ,
    )
    made = [c for c in report.candidates if c.profile is not None]
    if not made:  # nothing could be made at all: the model (or the method) is the problem
        first = report.candidates[0]
        raise UsageError(
            f"{str(args.model)!r} cannot be compressed with {args.method}: {first.error}"
        )
    if args.json:
        emit_json(ctx, report.to_dict())
    else:
        _print(ctx, report, described)
    return 0 if report.chosen is not None else 1


def _row(label: str, p: Any) -> list[str]:
    return [
        label,
        f"{p.size_bytes:,}",
        f"{p.latency_p50_ms:.4f} / {p.latency_p95_ms:.4f}" if p.latency_p50_ms else "-",
        f"{p.latency_batch_p50_ms:.4f} / {p.latency_batch_p95_ms:.4f}"
        if p.latency_batch_p50_ms
        else "-",
        f"{p.energy_per_1k_j:.4g} ({p.energy_method})",
        f"{p.accuracy:.2%}",
    ]


def _print(ctx: CliContext, report: Any, described: str) -> None:
    console = ctx.console()
    before = report.before
    batch = before.latency_batch_size or 64
    table = Table(title=f"lowcarb compress: {safe(before.model)} on {safe(described)}")
    for column in (
        "variant",
        "size B",
        "p50 / p95 ms (batch 1)",
        f"p50 / p95 ms (batch {batch})",
        "J per 1k",
        "accuracy",
    ):
        table.add_column(column, justify="right" if column != "variant" else "left")
    table.add_row(*_row("original", before))
    if report.reference is not None:
        table.add_row(*_row("  onnx fp32 (reference)", report.reference))
    for c in report.candidates:
        if c.profile is not None:
            mark = "✓" if c.passed else "✗"
            chosen = " (chosen)" if c is report.chosen else ""
            table.add_row(*_row(f"{mark} {c.method}{chosen}", c.profile))
    console.print(table)
    for c in report.candidates:
        if c.error:
            console.print(f"{c.method}: not made: {safe(c.error)}")
        elif not c.passed and c.verdict is not None:
            reasons = "; ".join(safe(v.message) for v in c.verdict.violations)
            console.print(f"{c.method}: rejected by policy {safe(report.policy)}: {reasons}")
    if report.chosen is not None and report.chosen.profile is not None:
        a = report.chosen.profile
        console.print(
            f"chosen: {report.chosen.method}, {before.size_bytes / a.size_bytes:.2f}x smaller, "
            f"{before.latency_p50_ms / a.latency_p50_ms:.2f}x faster at batch 1, "
            f"{(a.accuracy - before.accuracy) * 100:+.2f} pt accuracy, "
            f"{a.energy_per_1k_j / before.energy_per_1k_j:.2f}x the energy per 1k "
            f"({a.energy_method}); written to {safe(str(report.output))}"
        )
        if report.reference is not None:
            r = report.reference
            console.print(
                f"against the plain ONNX FP32 export: {r.size_bytes / a.size_bytes:.2f}x smaller, "
                f"{r.latency_p50_ms / a.latency_p50_ms:.2f}x faster at batch 1, "
                f"{(a.accuracy - r.accuracy) * 100:+.2f} pt"
            )
    else:
        console.print(f"no variant passed policy {safe(report.policy)}; nothing was written")
