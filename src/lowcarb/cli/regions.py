"""``lowcarb regions rank``: the cleanest of the cloud regions a workload may run in.

Built to be the program of Terraform's ``external`` data source, whose protocol is: the program
reads a JSON object of strings on stdin (the data source's ``query``; ``{}`` without one), prints
one JSON object whose values are all strings on stdout and exits 0; on error it prints a
human-readable line on stderr and exits non-zero (Terraform then shows that line and ignores
stdout). So with ``--json`` this command prints one flat object of strings
(:meth:`lowcarb.scheduling.RegionRanking.to_flat_dict`), and without ``--candidates`` it reads
the query from stdin: ``{"candidates": "aws:eu-west-1,aws:eu-north-1", "window": "24h"}``.
Errors are one line and exit 2, as for every lowcarb command. The ranking is
:func:`lowcarb.scheduling.rank_regions`; this module parses, picks the source and renders.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import IO, Any

from rich.table import Table

from lowcarb._text import plain, safe
from lowcarb.cli._common import ArgumentParser, CliContext, emit_json
from lowcarb.cli.plan import add_provider_flag
from lowcarb.errors import InvalidValueError, UsageError
from lowcarb.grid import (
    IntensitySource,
    TraceIntensitySource,
    forecaster_names,
    load_trace_table,
    make_forecaster,
    open_provider,
)
from lowcarb.scheduling import ProfileSource, RegionRanking, rank_regions
from lowcarb.units import parse_duration_h, parse_timestamp

__all__ = ["MAX_QUERY_BYTES", "QUERY_KEYS", "register"]

#: The largest query read from stdin, bytes (a list of every mapped region is under 2 KiB).
MAX_QUERY_BYTES = 64 * 1024
#: Keys a stdin query may hold (Terraform's ``query`` map), each the flag of the same name.
QUERY_KEYS = ("candidates", "window")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb regions`` and its ``rank`` action."""
    p = sub.add_parser(
        "regions",
        help="rank cloud regions by the carbon intensity of their grid",
        description="Cloud regions (AWS, GCP, Azure) and the grids that power them.",
    )
    actions = p.add_subparsers(
        dest="regions_command", metavar="ACTION", required=True, parser_class=ArgumentParser
    )
    r = actions.add_parser(
        "rank",
        help="the cleanest of the candidate regions, now or over a forecast window",
        description=(
            "Rank candidate cloud regions by the carbon intensity of the grid zone that powers "
            "each (lowcarb's region map): the latest value, or with --window the mean forecast "
            "over that long from now. With --json, one flat JSON object of strings: the program "
            "protocol of Terraform's `external` data source. Without --candidates, the "
            "candidates are read from a JSON query on stdin, as Terraform sends it: "
            '{"candidates": "aws:eu-west-1,aws:eu-north-1", "window": "24h"}. Without --trace '
            "or --provider, the embedded month x hour-of-day profile is used (offline, labelled "
            "estimated)."
        ),
    )
    r.add_argument(
        "--candidates",
        action="append",
        metavar="R1,R2,...",
        help="allowed regions, provider:region (aws:eu-west-1); comma-separated or repeated",
    )
    r.add_argument(
        "--window",
        metavar="D",
        help="rank by the mean forecast over D from now (24h; whole hours, at most 168h); "
        "default or 'now': the latest value",
    )
    r.add_argument("--trace", metavar="FILE", help="trace CSV (any DESIGN format) to rank from")
    r.add_argument("--now", metavar="TIMESTAMP", help="decision time, ISO 8601 (default: now)")
    add_provider_flag(r)
    r.add_argument(
        "--forecaster",
        "--model",
        dest="model",
        choices=forecaster_names(),
        default=None,
        help="forecast model for --trace with --window (default profile-blend)",
    )
    r.add_argument(
        "--json",
        action="store_true",
        help="print one flat JSON object of strings (Terraform's external data source)",
    )
    r.set_defaults(func=_rank)


def read_query(stream: IO[str] | None) -> dict[str, str]:
    """The JSON object of strings on ``stream`` (Terraform's ``query``); {} for empty input.

    Raises:
        UsageError: No stream, or a terminal (nobody is sending a query).
        InvalidValueError: Not a JSON object of strings, too large, or an unknown key.
    """
    if stream is None or stream.closed or stream.isatty():
        raise UsageError(
            "give --candidates provider:region,... (or a JSON query on stdin, as Terraform's "
            'external data source sends it: {"candidates": "aws:eu-west-1,aws:eu-north-1"})'
        )
    text = stream.read(MAX_QUERY_BYTES + 1)
    if len(text.encode("utf-8")) > MAX_QUERY_BYTES:
        raise InvalidValueError(f"the query on stdin is over {MAX_QUERY_BYTES} bytes")
    if not text.strip():
        return {}
    try:
        query = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidValueError(
            f"the query on stdin is not JSON ({exc.msg} at line {exc.lineno}); send an object "
            'of strings, e.g. {"candidates": "aws:eu-west-1,aws:eu-north-1"}'
        ) from None
    if not isinstance(query, dict):
        raise InvalidValueError(
            f"the query on stdin must be a JSON object of strings, got {type(query).__name__}"
        )
    for key, value in query.items():
        if key not in QUERY_KEYS:
            raise InvalidValueError(
                f"unknown query key {plain(key)!r}; known: {', '.join(QUERY_KEYS)}"
            )
        if not isinstance(value, str):
            raise InvalidValueError(
                f"query value {key!r} must be a string (Terraform's query is a map of strings), "
                f"got {type(value).__name__}"
            )
    return query


def _window_h(text: str | None) -> int:
    if text is None or text.strip().lower() in ("", "now", "0"):
        return 0
    hours = parse_duration_h(text, what="--window")
    if hours != int(hours):
        raise InvalidValueError(f"--window must be whole hours (24h), got {text!r}")
    return int(hours)


def _source(args: argparse.Namespace, ctx: CliContext, window_h: int) -> IntensitySource:
    if args.provider:
        if args.trace:
            raise UsageError("give either --trace or --provider, not both")
        return open_provider(args.provider, ctx.environ)
    if args.trace:
        forecaster = make_forecaster(args.model or "profile-blend")
        return TraceIntensitySource(load_trace_table(args.trace), forecaster=forecaster)
    if args.model not in (None, "profile"):
        raise UsageError(f"--model {args.model} needs --trace (history to fit it on)")
    return ProfileSource()


def _rank(args: argparse.Namespace, ctx: CliContext) -> int:
    query: dict[str, str] = {}
    if not args.candidates:
        query = read_query(getattr(ctx, "stdin", None) or sys.stdin)
        if not query.get("candidates", "").strip():
            raise UsageError(
                "no candidate region given; put them in the query's 'candidates' "
                '({"candidates": "aws:eu-west-1,aws:eu-north-1"}) or give --candidates'
            )
    candidates = args.candidates or [query["candidates"]]
    window_h = _window_h(args.window if args.window is not None else query.get("window"))
    now = parse_timestamp(args.now, what="--now") if args.now is not None else datetime.now(UTC)
    ranking = rank_regions(candidates, _source(args, ctx, window_h), now=now, window_h=window_h)
    if args.json:
        emit_json(ctx, ranking.to_flat_dict())
    else:
        _render(ctx, ranking)
    return 0


def _render(ctx: CliContext, ranking: RegionRanking) -> None:
    table = Table(title=f"Cloud regions by {safe(ranking.basis)}")
    for col in ("#", "region", "location", "zone", "gCO2e/kWh", "source"):
        table.add_column(col, justify="right" if col in ("#", "gCO2e/kWh") else "left")
    for n, r in enumerate(ranking.ranked, 1):
        table.add_row(
            str(n),
            safe(r.region.key),
            safe(r.region.location),
            safe(r.region.zone_id),
            f"{r.intensity_g_per_kwh:.1f}",
            safe(f"{r.source} ({r.kind})"),
        )
    table.caption = safe(ranking.reason)
    ctx.console().print(table)
