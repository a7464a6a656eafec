"""What the ``lowcarb monitor`` subcommands share: the flags naming the windows and the model's
columns, the drift check's options and checker built from them, the ledger, the warning line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from lowcarb._config import resolve_ledger_url
from lowcarb._text import plain
from lowcarb.cli._common import CliContext
from lowcarb.errors import UsageError

if TYPE_CHECKING:
    from lowcarb.monitoring import CheckOptions, DriftChecker, RetrainPolicy

__all__ = [
    "MAX_WINDOW_BYTES",
    "check_options",
    "drift_checker",
    "feature_list",
    "ledger_url",
    "model_options",
    "warn_unevaluated",
    "window_arguments",
]

#: The largest window file read (both windows are parsed in memory).
MAX_WINDOW_BYTES = 256 << 20


def window_arguments(p: argparse.ArgumentParser) -> None:
    """Add the REFERENCE and CURRENT window arguments."""
    p.add_argument(
        "reference", type=Path, metavar="REFERENCE", help="reference window (.csv, .parquet)"
    )
    p.add_argument(
        "current",
        type=Path,
        metavar="CURRENT",
        help="current window (.csv, .parquet, or a serving log .jsonl of lowcarb serve "
        "--log-features)",
    )


def model_options(p: argparse.ArgumentParser) -> None:
    """Add the flags naming the model's columns and, in a serving log, the model."""
    p.add_argument(
        "--categorical", metavar="A,B", help="features compared as categories (integer codes)"
    )
    p.add_argument(
        "--score-columns",
        metavar="A,B",
        help="the model's class probabilities, in class order (binary: the positive class' "
        "alone will do); with --label-column on the reference, accuracy is estimated by CBPE",
    )
    p.add_argument(
        "--label-column", metavar="C", help="true labels (reference; current when they arrived)"
    )
    p.add_argument(
        "--prediction-column", metavar="C", help="the model's predictions (default: from scores)"
    )
    p.add_argument(
        "--classes", metavar="A,B", help="class labels in score-column order (default: sorted)"
    )
    p.add_argument("--model", metavar="NAME", help="a serving log: the served model to read")


def feature_list(text: str | None, flag: str = "--features") -> list[str] | None:
    """The names of a comma-separated ``flag`` (None when not given)."""
    if text is None:
        return None
    names = [f.strip() for f in text.split(",")]
    if not all(names):
        raise UsageError(f"{flag} {text!r} has an empty name; give e.g. {flag} a,b")
    return names


def check_options(args: argparse.Namespace, *, features: list[str] | None = None) -> CheckOptions:
    """The drift check's options, from the flags."""
    from lowcarb.monitoring import CheckOptions, ModelColumns

    scores = feature_list(args.score_columns, "--score-columns") or []
    classes = feature_list(args.classes, "--classes")
    columns = ModelColumns(
        scores=tuple(scores),
        label=args.label_column,
        prediction=args.prediction_column,
        classes=None if classes is None else tuple(classes),
    )
    return CheckOptions(
        features=None if features is None else tuple(features),
        categorical=tuple(feature_list(args.categorical, "--categorical") or ()),
        statistic=getattr(args, "statistic", None),
        drift_share=getattr(args, "drift_share", None),
        columns=columns,
        model=args.model,
    )


def drift_checker(
    args: argparse.Namespace, options: CheckOptions, policy: RetrainPolicy | None
) -> DriftChecker:
    """A checker of the REFERENCE window, under ``policy`` if any."""
    from lowcarb.monitoring import DriftChecker, read_window

    reference = read_window(
        args.reference,
        what="reference window",
        max_bytes=MAX_WINDOW_BYTES,
        log=DriftChecker.reference_log_columns(options),
    )
    return DriftChecker(reference, options=options, policy=policy)


def warn_unevaluated(ctx: CliContext, warnings: tuple[str, ...] | list[str]) -> None:
    """The policy rules not evaluated, in one line (the JSON and the ledger list each)."""
    if warnings:
        text = "; ".join(warnings)
        if "figure" in text or "labels" in text:  # missing input, not a method mismatch
            text += "; name the model's columns with --score-columns, --label-column"
        print(f"lowcarb: warning: {plain(text)}", file=ctx.stderr)


def ledger_url(args: argparse.Namespace, ctx: CliContext) -> str:
    """The ledger of ``--ledger`` (default: LOWCARB_LEDGER or the config file)."""
    url = resolve_ledger_url(args.ledger, environ=ctx.environ)
    assert url is not None  # without default=None the resolver always answers
    return url
