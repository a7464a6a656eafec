"""The feature log of ``lowcarb serve --log-features PATH``: what the model was asked, for drift.

JSON Lines, appended, one object per answered request::

    {"time": "2026-12-04T14:00:00.123456Z", "model": "NAME", "rows": [[f0, f1, ...], ...],
     "predictions": [...], "probabilities": null}

``time`` is when the answer was sent (UTC, fixed width); ``rows`` are the request's feature rows as
validated (finite numbers); ``predictions`` one per row; ``probabilities`` is null (the served
graph gives labels). ``lowcarb monitor check REFERENCE LOG.jsonl`` reads it as the current window
(``lowcarb.monitoring``), naming the columns after the reference's. A write that fails (disk full)
is logged once and the server goes on answering: the log is for monitoring, not for the audit
trail, which is the ledger.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

__all__ = ["FeatureLog"]

log = logging.getLogger(__name__)


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats as None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


class FeatureLog:
    """Appends one JSON line per answered request to ``path`` (thread-safe).

    Args:
        path: The log file; created if missing, appended to otherwise.
        clock: Wall clock, timezone-aware (injected for tests).
    """

    def __init__(
        self, path: Path, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._failed = False

    def open(self) -> None:
        """Open the file for appending (raises ``OSError`` when it cannot be)."""
        self._file = self.path.open("a", encoding="utf-8")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def write(self, model: str, rows: list[list[float]], predictions: list[Any]) -> None:
        """Append one request (rows as validated, one prediction per row)."""
        now = self._clock().astimezone(UTC)
        record = {
            "time": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "model": model,
            "rows": rows,
            "predictions": predictions,
            "probabilities": None,
        }
        try:
            line = json.dumps(record, separators=(",", ":"), allow_nan=False)
        except ValueError:  # a non-finite prediction
            line = json.dumps(_finite(record), separators=(",", ":"), allow_nan=False)
        with self._lock:
            if self._file is None:
                return
            try:
                self._file.write(line + "\n")
                self._file.flush()
            except OSError as exc:
                if not self._failed:
                    log.error("feature log %s: %s; requests are still answered", self.path, exc)
                    self._failed = True
