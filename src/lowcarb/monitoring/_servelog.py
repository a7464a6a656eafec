"""A serving log as a window: the JSON Lines ``lowcarb serve --log-features FILE`` appends.

One JSON object per answered request, one line each::

    {"time": "2026-12-04T14:00:00.123456Z", "model": "churn", "rows": [[0.5, "north"], ...],
     "predictions": [1, ...], "probabilities": [[0.2, 0.8], ...]}

(``probabilities`` is null for a model without ``predict_proba``.) :func:`read_serving_log`
turns the requests of one model into a window, one row per feature row: the features first, named
by position (``feature_names`` when it has the rows' width, else ``f0``..``fN-1``), then the
prediction (column :attr:`LogColumns.prediction`) and, where the log has them, the class
probabilities (:attr:`LogColumns.scores`, else ``score_0``..``score_K-1``). Those output columns
are listed in the frame's ``attrs["lowcarb_outputs"]`` (``{"prediction": name, "scores": [...],
"width": N, "named": bool}``), so the drift check leaves them out, the performance estimate finds
them, and a log whose width did not match the names is explained.

Every line must be a whole, valid request: one that is not (bad JSON, a missing key, rows of
another width, a prediction count that differs from the rows) is refused in one line naming the
file and the line number. The one exception is a last line without its newline that is not yet
valid JSON: the server is still writing it, and it is left for the next read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lowcarb._text import plain
from lowcarb.errors import DataError, MissingDependencyError, UsageError

try:
    import pandas as pd  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - the monitor extra is part of dev installs
    raise MissingDependencyError("pandas", "monitor") from None

__all__ = ["OUTPUTS_ATTR", "LogColumns", "looks_like_serving_log", "read_serving_log"]

#: Key of ``DataFrame.attrs`` naming a log window's output columns.
OUTPUTS_ATTR = "lowcarb_outputs"
#: File name suffixes that mean a serving log whatever the content.
LOG_SUFFIXES = (".jsonl", ".ndjson")
_KEYS = ("time", "model", "rows", "predictions", "probabilities")
_SHOWN_MODELS = 10


@dataclass(frozen=True, slots=True)
class LogColumns:
    """How the requests of a serving log become a window.

    Attributes:
        feature_names: Names of the features by position (the reference window's feature
            columns); used when the log's rows have as many values, else ``f0``..``fN-1``.
        prediction: Column of the model's predictions.
        scores: Columns of the class probabilities, in the model's class order; None names them
            ``score_0``..``score_K-1``.
        model: The served model whose requests are read (the ``model`` field); None when the
            log holds one model only.
        since: Keep requests at or after this time (timezone-aware), or None.
        until: Keep requests before this time (exclusive), or None.
    """

    feature_names: tuple[str, ...] | None = None
    prediction: str = "prediction"
    scores: tuple[str, ...] | None = None
    model: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def looks_like_serving_log(data: bytes, name: str) -> bool:
    """A ``.jsonl``/``.ndjson`` name, or content whose first non-blank character is ``{``."""
    if name.lower().endswith(LOG_SUFFIXES):
        return True
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")


def _time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"time must be an ISO 8601 text, got {_short(value)}")
    text = value.strip()
    candidate = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        when = datetime.fromisoformat(candidate)
    except ValueError:
        raise ValueError(f"time {_short(value)} is not an ISO 8601 time") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"time {_short(value)} has no time zone (add Z)")
    return when.astimezone(UTC)


def _short(value: object) -> str:
    text = repr(value)
    return plain(text if len(text) <= 60 else text[:57] + "...")


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


@dataclass
class _Request:
    when: datetime
    model: str
    rows: list[list[Any]]
    predictions: list[Any]
    probabilities: list[list[float]] | None


def _request(obj: object) -> _Request:
    """One line's request, checked (ValueError says what is wrong)."""
    if not isinstance(obj, dict):
        raise ValueError(f"not a JSON object but {type(obj).__name__}")
    missing = [k for k in _KEYS if k not in obj]
    if missing:
        raise ValueError(f"has no {', '.join(missing)} (a request has {', '.join(_KEYS)})")
    model = obj["model"]
    if not isinstance(model, str) or not model:
        raise ValueError(f"model must be a name, got {_short(model)}")
    rows, predictions, probabilities = obj["rows"], obj["predictions"], obj["probabilities"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise ValueError("rows must be a list of rows (lists of values)")
    for row in rows:
        for v in row:
            if not _scalar(v):
                raise ValueError(f"a row holds {_short(v)}; values must be numbers, text or null")
    if not isinstance(predictions, list) or len(predictions) != len(rows):
        count = len(predictions) if isinstance(predictions, list) else _short(predictions)
        raise ValueError(f"{len(rows)} rows but predictions is {count}; give one per row")
    if not all(_scalar(p) for p in predictions):
        raise ValueError("predictions must be numbers or text")
    if probabilities is not None:
        if not isinstance(probabilities, list) or len(probabilities) != len(rows):
            raise ValueError("probabilities must be null or one list of class scores per row")
        widths = set()
        for p in probabilities:
            if not isinstance(p, list) or not all(
                isinstance(x, int | float) and not isinstance(x, bool) for x in p
            ):
                raise ValueError("probabilities must be lists of numbers")
            widths.add(len(p))
        if len(widths) > 1:
            raise ValueError("probabilities rows have different numbers of classes")
    return _Request(_time(obj["time"]), model, rows, predictions, probabilities)


def _decode(data: bytes, what: str, shown: str) -> str:
    if b"\x00" in data:
        raise DataError(f"{what} {shown!r} is a binary file, not a serving log")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{what} {shown!r} is not UTF-8 text (bad byte at offset {exc.start}); a serving log "
            "is JSON Lines"
        ) from None


def read_serving_log(
    data: bytes, *, source: str, what: str = "window", columns: LogColumns | None = None
) -> Any:
    """The requests of one model in a serving log, as a window (see the module docstring).

    Args:
        data: The log's bytes.
        source: Where it was read (quoted in messages).
        what: How messages name it (``current window``).
        columns: Names, the model and the period to read; defaults for everything when None.

    Returns:
        A ``pandas.DataFrame``: the features, the prediction and the probabilities, one row per
        feature row, with ``attrs["lowcarb_outputs"]`` naming the output columns.

    Raises:
        DataError: A bad line (its number and what is wrong), rows of different widths, several
            models and none chosen, no request in the period, a feature named like an output.
        UsageError: ``model`` names a model the log does not hold.
    """
    cols = columns or LogColumns()
    text = _decode(data, what, source)
    lines = text.split("\n")
    partial = not text.endswith("\n")
    widths: dict[str, int] = {}
    classes_by_model: dict[str, int] = {}
    models: dict[str, int] = {}
    rows: list[list[Any]] = []
    predictions: list[Any] = []
    probabilities: list[list[float] | None] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{what} {source!r} line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if partial and number == len(lines):
                break  # the server is still writing it: left for the next read
            raise DataError(
                f"{where}: not JSON ({exc.msg} at column {exc.colno}); each line must be one "
                "request object as `lowcarb serve --log-features` writes"
            ) from None
        try:
            req = _request(obj)
        except ValueError as exc:
            raise DataError(f"{where}: {exc}; fix or remove the line") from None
        models[req.model] = models.get(req.model, 0) + 1
        for row in req.rows:
            width = widths.setdefault(req.model, len(row))
            if len(row) != width:
                raise DataError(
                    f"{where}: a row of model {req.model!r} has {len(row)} values, earlier rows "
                    f"{width}; one model's rows must all have the same width"
                )
        if req.probabilities:
            k = classes_by_model.setdefault(req.model, len(req.probabilities[0]))
            if len(req.probabilities[0]) != k:
                raise DataError(
                    f"{where}: {len(req.probabilities[0])} class probabilities per row of model "
                    f"{req.model!r}, earlier lines {k}; fix or remove the line"
                )
        if cols.model is not None and req.model != cols.model:
            continue
        if cols.since is not None and req.when < cols.since:
            continue
        if cols.until is not None and req.when >= cols.until:
            continue
        rows.extend(req.rows)
        predictions.extend(req.predictions)
        probs = req.probabilities
        probabilities.extend(probs if probs is not None else [None] * len(req.rows))
    _check_models(models, cols.model, what, source)
    if not rows:
        raise DataError(f"{what} {source!r} has no request{_period(cols)}; {_fix(cols)}")
    model = cols.model if cols.model is not None else next(iter(models))
    return _frame(
        rows,
        predictions,
        probabilities,
        widths.get(model, 0),
        classes_by_model.get(model),
        cols,
        what,
        source,
    )


def _check_models(models: dict[str, int], model: str | None, what: str, shown: str) -> None:
    names = sorted(models)
    listed = ", ".join(repr(m) for m in names[:_SHOWN_MODELS])
    if len(names) > _SHOWN_MODELS:
        listed += f" and {len(names) - _SHOWN_MODELS} more"
    if model is None and len(names) > 1:
        raise DataError(
            f"{what} {shown!r} holds requests of {len(names)} models ({listed}); choose one "
            "with --model NAME"
        )
    if model is not None and names and model not in models:
        raise UsageError(f"{what} {shown!r} has no request of model {model!r}; it has {listed}")


def _period(cols: LogColumns) -> str:
    parts = []
    if cols.model is not None:
        parts.append(f" of model {cols.model!r}")
    if cols.since is not None:
        parts.append(f" at or after {cols.since.isoformat()}")
    if cols.until is not None:
        parts.append(f" before {cols.until.isoformat()}")
    return "".join(parts)


def _fix(cols: LogColumns) -> str:
    if cols.since is not None or cols.until is not None:
        return "widen --since/--until"
    return "serve some requests with --log-features first"


def _frame(
    rows: list[list[Any]],
    predictions: list[Any],
    probabilities: Sequence[list[float] | None],
    width: int,
    classes: int | None,
    cols: LogColumns,
    what: str,
    shown: str,
) -> Any:
    names = cols.feature_names
    features = (
        list(names)
        if names is not None and len(names) == width
        else [f"f{i}" for i in range(width)]
    )
    frame = pd.DataFrame(rows, columns=features)
    outputs: dict[str, Any] = {
        "prediction": cols.prediction,
        "scores": [],
        "width": width,
        "named": features != [f"f{i}" for i in range(width)],
    }
    taken = set(features)
    if cols.prediction in taken:
        raise DataError(
            f"{what} {shown!r}: a feature is named {cols.prediction!r}, like the predictions' "
            "column; name the predictions' column otherwise (--prediction-column)"
        )
    frame[cols.prediction] = pd.Series(predictions, dtype=object)
    taken.add(cols.prediction)
    if classes is not None:
        scores = (
            list(cols.scores) if cols.scores is not None else [f"score_{i}" for i in range(classes)]
        )
        if len(scores) != classes:
            raise DataError(
                f"{what} {shown!r} has {classes} class probabilities per row but "
                f"{len(scores)} score columns are named ({', '.join(scores)}); name one per class"
            )
        clash = [s for s in scores if s in taken]
        if clash:
            raise DataError(
                f"{what} {shown!r}: score column {clash[0]!r} is also a feature or the "
                "predictions' column; name the score columns otherwise (--score-columns)"
            )
        matrix = [p if p is not None else [math.nan] * classes for p in probabilities]
        for i, name in enumerate(scores):
            frame[name] = [row[i] for row in matrix]
        outputs["scores"] = scores
    frame.attrs[OUTPUTS_ATTR] = outputs
    return frame
