"""``lowcarb report``: who emitted what in a period, as HTML, Markdown, CSV or JSON.

Thin: parses, calls :func:`lowcarb.reporting.report.collect` and
:func:`~lowcarb.reporting.report.build_report`, writes the document. Exit 1 when the ledger's
chain is broken (the report is still written, saying so), 2 on bad input.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lowcarb._config import resolve_ledger_url
from lowcarb._files import check_output_path, write_atomic
from lowcarb.cli._common import CliContext, emit_json
from lowcarb.errors import UsageError

if TYPE_CHECKING:
    from lowcarb.reporting.report import ReportData

__all__ = ["register"]

_FORMATS = ("html", "md", "csv", "json")
_MAX_PROFILES = 100


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb report``."""
    p = sub.add_parser(
        "report",
        help="a carbon report for a period: HTML, Markdown, CSV or JSON",
        description=(
            "Emissions over time and by team, project and model; measured vs estimated energy; "
            "Scope 2 location- and market-based; model versions; scheduler savings; tuning "
            "fronts; gate, budget and retrain decisions; and an audit section (ledger head, "
            "verification, data sources and licences, methodology). The HTML file is "
            "self-contained (charts embedded, opens without a network)."
        ),
        epilog=(
            "market factor file (--market-factors): YAML `factors: {DE: {intensity_g_per_kwh: "
            "536, source: 'AIB residual mix 2023'}}` or CSV `zone,intensity_g_per_kwh,source`; "
            "without it, market-based Scope 2 counts only records' own instruments and is "
            "reported as not available where energy has no contractual factor."
        ),
    )
    p.add_argument(
        "--ledger",
        help="ledger URL (default: LOWCARB_LEDGER, the config file, or sqlite:///.lowcarb/ledger.db)",
    )
    p.add_argument(
        "--since", help="start of the period, ISO 8601 or a date (default: 30 days before --until)"
    )
    p.add_argument("--until", help="end of the period, exclusive (default: now)")
    p.add_argument("--team", help="only records charged to this team")
    p.add_argument("--project", help="only records of this project")
    p.add_argument(
        "--format",
        choices=_FORMATS,
        help="html, md, csv or json (default: from --output's suffix, else md)",
    )
    p.add_argument(
        "--output", "-o", type=Path, help="write the report to this file (default: stdout)"
    )
    p.add_argument(
        "--market-factors",
        type=Path,
        metavar="FILE",
        help="contractual emission factors per zone for market-based Scope 2 (YAML or CSV)",
    )
    p.add_argument(
        "--profile",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="a model profile (lowcarb profile --json) to show in the model table; repeatable",
    )
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="skip verifying the ledger's hash chain (the audit section then says so)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object on stdout: the report itself with --format json and no "
        "--output, else a summary of the file written",
    )
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace, ctx: CliContext) -> int:
    from lowcarb.ledger import open_ledger
    from lowcarb.profiling import load_profile
    from lowcarb.reporting.report import (
        build_report,
        collect,
        format_for_path,
        load_market_factors,
        query_from_text,
    )

    output: Path | None = args.output
    fmt = args.format or (format_for_path(str(output)) if output else None) or "md"
    if args.json and output is None and fmt != "json":
        raise UsageError(
            f"--json prints one JSON object on stdout, so the {fmt} report needs --output FILE "
            "(or use --format json)"
        )
    if output is not None:
        check_output_path(output, what="--output")
    if len(args.profile) > _MAX_PROFILES:
        raise UsageError(f"{len(args.profile)} --profile files; give at most {_MAX_PROFILES}")
    query = query_from_text(args.since, args.until, team=args.team, project=args.project)
    factors = load_market_factors(args.market_factors) if args.market_factors else None
    profiles = [load_profile(path) for path in args.profile]
    url = resolve_ledger_url(args.ledger, environ=ctx.environ)
    with open_ledger(url, environ=ctx.environ, create=False) as ledger:
        data = collect(
            ledger, query, market_factors=factors, profiles=profiles, verify=not args.no_verify
        )
    document = build_report(data, fmt)
    if output is None:
        ctx.stdout.write(document)
        ctx.stdout.flush()
    else:
        write_atomic(output, document)
        if args.json:
            emit_json(ctx, _summary(data, fmt, str(output), len(document.encode())))
        else:
            print(
                f"wrote {output} ({fmt}, {len(document.encode()):,} bytes): "
                f"{data.totals.records:,} records, {_kg(data.totals.co2e_g)} kg CO2e",
                file=ctx.stdout,
            )
    verify = data.audit.verify
    if verify is not None and not verify.get("ok"):
        print(f"lowcarb: ledger verification failed: {verify.get('reason')}", file=ctx.stderr)
        return 1
    return 0


def _summary(data: ReportData, fmt: str, output: str, size: int) -> dict[str, Any]:
    t, a = data.totals, data.audit
    return {
        "format": fmt,
        "output": output,
        "bytes": size,
        **data.query.to_dict(),
        "records": t.records,
        "energy_kwh": t.energy_kwh,
        "co2e_g": t.co2e_g,
        "market_co2e_g": data.scope2.market_co2e_g,
        "measured_share": t.measured_share,
        "verified": a.verified,
        "ledger_ok": None if a.verify is None else a.verify.get("ok"),
        "head_hash": a.head_hash,
        "notes": list(data.notes),
    }


def _kg(co2e_g: float) -> str:
    kg = co2e_g / 1000.0
    return f"{kg:,.3f}" if kg == 0 or abs(kg) >= 0.0005 else f"{kg:.3g}"
