"""`lowcarb ledger verify|show|export|totals|checkpoint|keygen`: the audit trail from a shell.

Every subcommand only reads the ledger (``keygen`` writes key files); the library does the work.
``verify`` exits 1 when the chain is broken and names the first bad record.
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from lowcarb._config import resolve_ledger_url
from lowcarb._files import check_output_path, read_text_file, write_atomic
from lowcarb._text import plain, safe
from lowcarb.cli._common import CliContext, emit_json, positive_int
from lowcarb.errors import InvalidValueError, UsageError
from lowcarb.ledger import (
    EXPORT_FORMATS,
    Checkpoint,
    Ed25519Signer,
    Ledger,
    RecordFilter,
    open_ledger,
    record_dict,
)
from lowcarb.units import parse_timestamp

__all__ = ["register"]

_GROUPS = ("team", "project", "model", "month", "kind", "zone")


def _when(text: str) -> datetime:
    """argparse type: the one timestamp parser (a date is the UTC day; a time needs a zone)."""
    try:
        return parse_timestamp(text, what="time")
    except InvalidValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_common(p: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    p.add_argument(
        "--ledger",
        metavar="URL",
        help="ledger URL (default: $LOWCARB_LEDGER, else `ledger` in lowcarb.toml, else "
        "sqlite:///.lowcarb/ledger.db)",
    )
    if json_flag:
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--team", help="only records of this team")
    p.add_argument("--project", help="only records of this project")
    p.add_argument("--model", help="only records of this model")
    p.add_argument("--kind", help="only records of this kind (run, inference, correction, ...)")
    p.add_argument("--since", type=_when, metavar="TIME", help="appended at or after (UTC)")
    p.add_argument("--until", type=_when, metavar="TIME", help="appended before (UTC)")


def _filter(args: argparse.Namespace) -> RecordFilter | None:
    fields = {k: getattr(args, k) for k in ("team", "project", "model", "kind", "since", "until")}
    return RecordFilter(**fields) if any(v is not None for v in fields.values()) else None


def _open(args: argparse.Namespace, ctx: CliContext) -> Ledger:
    url = resolve_ledger_url(args.ledger, environ=ctx.environ)
    return open_ledger(url, environ=ctx.environ, create=False)


def _verify(args: argparse.Namespace, ctx: CliContext) -> int:
    checkpoint = None
    if args.checkpoint is not None:
        text = read_text_file(args.checkpoint, what="--checkpoint", max_bytes=64 << 10)
        checkpoint = Checkpoint.from_json(text)
    with _open(args, ctx) as ledger:
        result = ledger.verify(public_key=args.public_key or None, checkpoint=checkpoint)
    if args.json:
        emit_json(ctx, result.to_dict())
    else:
        for warning in result.warnings:
            print(f"lowcarb: warning: {plain(warning)}", file=ctx.stderr)
        if result.ok and result.entries == 0:
            print(f"ledger EMPTY: {plain(result.reason)}", file=ctx.stdout)
        elif result.ok:
            head = (result.head_hash or "")[:16]
            print(f"ledger OK: {plain(result.reason)} (head {head}...)", file=ctx.stdout)
        else:
            rid = f" (id {plain(result.first_bad_id)})" if result.first_bad_id else ""
            print(
                f"ledger TAMPERED: first bad record #{result.first_bad}{rid}: "
                f"{plain(result.reason)}",
                file=ctx.stdout,
            )
        limits = result.limits or {}
        if limits.get("ruled_out"):
            print("ruled out: " + "; ".join(limits["ruled_out"]), file=ctx.stdout)
        if limits.get("not_ruled_out"):
            print("not ruled out: " + "; ".join(limits["not_ruled_out"]), file=ctx.stdout)
    return 0 if result.ok else 1


_VERIFY_DESCRIPTION = (
    "Check the hash chain. The chain alone rules out an edited, deleted, inserted or reordered "
    "record; a truncated tail, a chain rewritten from scratch or every record deleted need a "
    "checkpoint (--checkpoint), and forged records need signatures (--public-key). Records "
    "after a checkpoint are reported as unanchored. An empty ledger exits 0 with `ledger "
    "EMPTY` (JSON: ok true, entries 0, reason `empty: ...`): nothing to verify, not intact. "
    "JSON: {ok, entries, first_bad, reason, unanchored, limits, ...}; exit 1 when broken."
)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _show(args: argparse.Namespace, ctx: CliContext) -> int:
    with _open(args, ctx) as ledger:
        if args.id is not None:
            records = [ledger.get(args.id)]
        else:
            records = list(ledger.records(_filter(args), limit=args.limit, newest_first=True))
            records.reverse()
    if args.json:
        emit_json(ctx, {"count": len(records), "records": [record_dict(r) for r in records]})
        return 0
    from rich import box
    from rich.table import Table

    table = Table(
        title=f"{len(records)} record(s), oldest first (energy with PUE)",
        expand=False,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("time (UTC)", no_wrap=True)
    for name in ("kind", "team", "project", "model"):
        table.add_column(name, overflow="fold", ratio=1)
    for name in ("kWh", "gCO2e"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("id (end)", no_wrap=True)
    for r in records:
        a = r.attribution
        table.add_row(
            str(r.seq),
            r.timestamp.strftime("%Y-%m-%d %H:%M"),
            safe(r.kind),
            safe(a.team or ""),
            safe(a.project or ""),
            safe(a.model or ""),
            _num(r.energy_kwh),
            _num(r.co2e_g),
            r.id[-8:],  # ids are time-ordered: their end is what tells them apart
        )
    ctx.console().print(table)
    return 0


def _export(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.format == "parquet" and args.output is None:
        raise UsageError("Parquet is binary: give --output FILE")
    if args.output is not None:
        check_output_path(args.output, what="--output")
    with _open(args, ctx) as ledger:
        n = ledger.export(args.format, args.output or ctx.stdout, _filter(args))
    where = args.output or "stdout"
    print(f"lowcarb: exported {n} record(s) as {args.format} to {where}", file=ctx.stderr)
    return 0


def _totals(args: argparse.Namespace, ctx: CliContext) -> int:
    with _open(args, ctx) as ledger:
        totals = ledger.totals(args.by, _filter(args))
    if args.json:
        emit_json(ctx, totals.to_dict())
        return 0
    from rich.table import Table

    table = Table(title=f"Scope 2 totals by {args.by}")
    table.add_column(args.by, overflow="fold")  # a long name wraps; it is never cut off
    for name in ("records", "energy kWh", "location kgCO2e", "market kgCO2e", "instruments"):
        table.add_column(name, justify="right")
    for row in (*totals.rows, totals.total):
        is_total = row is totals.total
        table.add_row(
            "TOTAL" if is_total else (safe(row.key) if row.key is not None else "(none)"),
            str(row.records),
            f"{row.energy_kwh:.6g}",
            f"{row.location_co2e_g / 1000:.6g}",
            f"{row.market_co2e_g / 1000:.6g}",
            f"{row.market_records}/{row.records}",
            end_section=row is (totals.rows[-1] if totals.rows else None),
        )
    ctx.console().print(table)
    if totals.superseded:
        print(
            f"({totals.superseded} corrected record(s) replaced by their corrections)",
            file=ctx.stdout,
        )
    return 0


def _checkpoint(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.output is not None:
        check_output_path(args.output, what="--output")
    with _open(args, ctx) as ledger:
        cp = ledger.checkpoint()
    if args.output is not None:
        write_atomic(args.output, cp.to_json() + "\n")
        print(
            f"lowcarb: checkpoint of {cp.count} record(s) written to {args.output}", file=ctx.stderr
        )
    emit_json(ctx, cp.to_dict())
    return 0


def _keygen(args: argparse.Namespace, ctx: CliContext) -> int:
    private, public = Path(args.private_key), Path(args.public_key)
    if private == public:
        raise UsageError("--private-key and --public-key name the same file; give two paths")
    for flag, path in (("--private-key", private), ("--public-key", public)):
        if path.exists() or path.is_symlink():
            raise UsageError(f"{flag} {str(path)!r} exists; lowcarb never overwrites a key file")
        check_output_path(path, what=flag)
    signer = Ed25519Signer.generate()
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(signer.private_pem())
    public.write_bytes(signer.public_pem())
    out: dict[str, Any] = {"key_id": signer.key_id, "private_key": str(private)}
    out["public_key"] = str(public)
    if args.json:
        emit_json(ctx, out)
    else:
        print(
            f"key {signer.key_id}: private {private} (keep secret; set "
            f"LOWCARB_LEDGER_SIGNING_KEY to it on the writer), public {public} (give to verifiers)",
            file=ctx.stdout,
        )
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb ledger ...``."""
    parser = sub.add_parser(
        "ledger", help="verify, query and export the carbon ledger", description=__doc__
    )
    cmds = parser.add_subparsers(dest="ledger_command", metavar="SUBCOMMAND", required=True)

    p = cmds.add_parser(
        "verify",
        help="check the hash chain; exit 1 naming the first bad record",
        description=_VERIFY_DESCRIPTION,
    )
    _add_common(p)
    p.add_argument(
        "--public-key",
        action="append",
        metavar="FILE",
        help="trusted writer public key (PEM); every record must be signed by one (repeatable)",
    )
    p.add_argument("--checkpoint", metavar="FILE", help="a checkpoint the ledger must extend")
    p.set_defaults(func=_verify)

    p = cmds.add_parser("show", help="list recent records")
    _add_common(p)
    _add_filters(p)
    p.add_argument("--limit", type=positive_int, default=20, help="newest N records (default 20)")
    p.add_argument("--id", help="show only the record with this id")
    p.set_defaults(func=_show)

    p = cmds.add_parser("export", help="write records as CSV, JSON lines or Parquet")
    _add_common(p, json_flag=False)
    _add_filters(p)
    p.add_argument("--format", choices=EXPORT_FORMATS, required=True)
    p.add_argument("--output", metavar="FILE", help="file to write (default: stdout)")
    p.set_defaults(func=_export)

    p = cmds.add_parser("totals", help="energy and Scope 2 CO2e by team, project, model, month")
    _add_common(p)
    _add_filters(p)
    p.add_argument("--by", choices=_GROUPS, default="team", help="grouping (default team)")
    p.set_defaults(func=_totals)

    p = cmds.add_parser("checkpoint", help="print the head hash and count to publish elsewhere")
    _add_common(p)
    p.add_argument("--output", metavar="FILE", help="also write the checkpoint to FILE")
    p.set_defaults(func=_checkpoint)

    p = cmds.add_parser("keygen", help="create an Ed25519 key pair for signing appends")
    p.add_argument("--private-key", required=True, metavar="FILE")
    p.add_argument("--public-key", required=True, metavar="FILE")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=_keygen)
