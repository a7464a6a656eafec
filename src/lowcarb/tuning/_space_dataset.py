"""The ``dataset`` key of a space file (:mod:`._space`): a bundled set's name, or a CSV file
whose header is read at load time to check its target column."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lowcarb._files import check_input_file
from lowcarb.errors import ConfigError, LowcarbError, close_matches
from lowcarb.tuning._datasets import BUNDLED_DATASETS, DatasetSpec
from lowcarb.tuning._space_values import as_string, bad_value, no_unknown_keys

__all__ = ["parse_dataset"]

#: Header bytes read from a CSV to check its target column at load time.
_CSV_HEADER_BYTES = 1 << 20


def parse_dataset(raw: Any, source: str, base_dir: Path | None) -> DatasetSpec:
    """The ``dataset`` value ``raw`` of the file ``source``; a relative CSV path is taken from
    ``base_dir``.

    Raises:
        ConfigError: An unknown bundled set, a missing or unreadable CSV, or a CSV without the
            target column (or without a feature beside it).
    """
    if isinstance(raw, str):
        if raw not in BUNDLED_DATASETS:
            hint = close_matches(raw, BUNDLED_DATASETS)
            did = f"did you mean {', '.join(repr(h) for h in hint)}? " if hint else ""
            raise ConfigError(
                f"{source}: dataset: unknown dataset {raw!r}; {did}use one of: "
                f"{', '.join(BUNDLED_DATASETS)}, or {{csv: FILE, target: COLUMN}}"
            )
        return DatasetSpec(name=raw)
    if not isinstance(raw, Mapping):
        raise bad_value(source, "dataset", raw, "a bundled set name or {csv: FILE, target: COLUMN}")
    no_unknown_keys(raw, ("csv", "target"), source, "dataset.")
    if "csv" not in raw:
        raise ConfigError(f"{source}: dataset.csv: missing; give the CSV file's path")
    path = Path(as_string(raw["csv"], source, "dataset.csv"))
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    target = raw.get("target")
    if target is not None:
        target = as_string(target, source, "dataset.target")
    try:
        check_input_file(path, what="dataset CSV")
        header = _csv_header(path)
    except LowcarbError as exc:
        raise ConfigError(f"{source}: dataset.csv: {exc}") from None
    column = header[-1] if target is None else target
    if column not in header or len(header) < 2:
        shown = ", ".join(header[:20]) + (", ..." if len(header) > 20 else "")
        raise ConfigError(
            f"{source}: dataset.target: {column!r} is not a column of {str(path)!r} "
            f"(columns: {shown}); name the label column, with at least one feature beside it"
        )
    return DatasetSpec(name=None, csv=path, target=target)


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open("rb") as fh:
            first = fh.readline(_CSV_HEADER_BYTES)
    except OSError as exc:
        raise ConfigError(f"{str(path)!r} cannot be read: {exc.strerror}") from None
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{str(path)!r} is not UTF-8 text; save it as UTF-8") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ConfigError(f"{str(path)!r} is not valid CSV: {exc}") from None
    if not rows or not rows[0]:
        raise ConfigError(f"{str(path)!r} has no header row; add one naming the columns")
    return rows[0]
