"""Exporting records: CSV and Parquet (one flat row per record) and JSON lines (full records)."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from lowcarb._text import csv_cell
from lowcarb.errors import LedgerError, MissingDependencyError, UsageError
from lowcarb.ledger._canonical import format_time, record_dict
from lowcarb.ledger._record import Record, thaw

__all__ = ["EXPORT_FORMATS", "FLAT_COLUMNS", "export_records", "flat_row"]

EXPORT_FORMATS = ("csv", "jsonl", "parquet")

#: Columns of a CSV or Parquet export, in order. Energy in kWh, CO2e in grams.
FLAT_COLUMNS = (
    "seq",
    "id",
    "timestamp",
    "kind",
    "team",
    "project",
    "model",
    "model_version",
    "run_id",
    "stage",
    "user",
    "corrects",
    "energy_kwh",
    "it_energy_kwh",
    "pue",
    "co2e_g",
    "market_co2e_g",
    "market_source",
    "zone",
    "intensity_g_per_kwh",
    "intensity_source",
    "intensity_signal",
    "intensity_scope",
    "intensity_kind",
    "energy_method",
    "duration_s",
    "started_at",
    "components",
    "metadata",
    "signer",
    "prev_hash",
    "hash",
    "signature",
)


def flat_row(record: Record) -> dict[str, Any]:
    """A record as one flat row (components and metadata as JSON text)."""
    fp = record.footprint
    a = record.attribution
    row: dict[str, Any] = {
        "seq": record.seq,
        "id": record.id,
        "timestamp": format_time(record.timestamp),
        "kind": record.kind,
        "team": a.team,
        "project": a.project,
        "model": a.model,
        "model_version": a.model_version,
        "run_id": a.run_id,
        "stage": a.stage,
        "user": a.user,
        "corrects": record.corrects,
        "energy_kwh": record.energy_kwh,
        "it_energy_kwh": fp.it_energy_kwh if fp else None,
        "pue": fp.pue if fp else None,
        "co2e_g": record.co2e_g,
        "market_co2e_g": record.market_co2e_g,
        "market_source": record.market.source if record.market else None,
        "zone": fp.intensity.zone if fp else None,
        "intensity_g_per_kwh": fp.intensity.intensity_g_per_kwh if fp else None,
        "intensity_source": fp.intensity.source if fp else None,
        "intensity_signal": fp.intensity.signal if fp else None,
        "intensity_scope": fp.intensity.scope if fp else None,
        "intensity_kind": fp.intensity.kind if fp else None,
        "energy_method": fp.measurement.method if fp else None,
        "duration_s": fp.measurement.duration_s if fp else None,
        "started_at": format_time(fp.measurement.started_at) if fp else None,
        "components": json.dumps(
            [
                {
                    "name": c.name,
                    "energy_j": c.energy_j,
                    "method": c.method,
                    "source": c.source,
                    "detail": c.detail,
                }
                for c in fp.measurement.components
            ]
        )
        if fp
        else None,
        "metadata": json.dumps(thaw(record.metadata), sort_keys=True),
        "signer": record.signer,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
        "signature": record.signature,
    }
    return row


@contextmanager
def _text_out(destination: IO[str] | str | Path) -> Iterator[IO[str]]:
    """A file written whole or not at all (temporary file renamed over), or the stream given."""
    if not isinstance(destination, str | Path):
        yield destination
        return
    target = Path(destination)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise LedgerError(f"cannot write export {str(target)!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise LedgerError(f"cannot write export {str(target)!r}: {exc.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_parquet(records: Iterable[Record], destination: IO[str] | str | Path) -> int:
    if not isinstance(destination, str | Path):
        raise UsageError("a Parquet export needs a file: give --output FILE")
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependencyError("pyarrow", "parquet") from None
    floats = {"energy_kwh", "it_energy_kwh", "pue", "co2e_g", "market_co2e_g"}
    floats |= {"intensity_g_per_kwh", "duration_s"}
    schema = pa.schema(
        [
            (
                name,
                pa.int64() if name == "seq" else pa.float64() if name in floats else pa.string(),
            )
            for name in FLAT_COLUMNS
        ]
    )
    rows = [flat_row(r) for r in records]
    table = pa.Table.from_pylist(rows, schema=schema)
    try:
        pq.write_table(table, str(destination))
    except OSError as exc:
        raise LedgerError(f"cannot write export {str(destination)!r}: {exc}") from None
    return len(rows)


def export_records(records: Iterable[Record], fmt: str, destination: IO[str] | str | Path) -> int:
    """Write ``records`` to ``destination`` in ``fmt``; return how many were written.

    Args:
        records: The records, e.g. ``ledger.records(flt)``.
        fmt: ``csv`` (flat, :data:`FLAT_COLUMNS`), ``jsonl`` (one full record per line, as
            :meth:`Record.to_dict`) or ``parquet`` (flat; needs ``pyarrow``).
        destination: A text stream (csv, jsonl) or a file path.

    Raises:
        UsageError: Unknown format, or Parquet to a stream.
        MissingDependencyError: Parquet without pyarrow.
    """
    if fmt not in EXPORT_FORMATS:
        choices = ", ".join(EXPORT_FORMATS)
        raise UsageError(f"unknown export format {fmt!r}; choose one of {choices}")
    if fmt == "parquet":
        return _write_parquet(records, destination)
    n = 0
    with _text_out(destination) as out:
        if fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=FLAT_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for r in records:
                # Spreadsheets run cells that start like formulas: names are untrusted text.
                writer.writerow({k: csv_cell(v) for k, v in flat_row(r).items()})
                n += 1
        else:
            for r in records:
                out.write(json.dumps(record_dict(r), sort_keys=True) + "\n")
                n += 1
    return n
