"""Helpers of the Carbon Aware API tests: the tiny exact trace, the clocks, the test client."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():  # starlette 1.x prefers httpx2 for its TestClient; httpx works
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

#: The tiny trace runs 2022-03-01T00:00Z..2022-03-04T23:00Z; its API's clock is inside it.
TINY_START = datetime(2022, 3, 1, tzinfo=UTC)
TINY_HOURS = 96
TINY_NOW = datetime(2022, 3, 4, 12, 30, tzinfo=UTC)
#: The real traces' API clock: inside 2022, where every real file has data.
REAL_NOW = datetime(2022, 6, 1, 12, 30, tzinfo=UTC)


def tiny_de(hour: int) -> float:
    """DE in the tiny trace: 300 at 00:00 UTC, +10 each hour of the day."""
    return 300.0 + 10 * (hour % 24)


def tiny_pjm(hour: int) -> float:
    """US-MIDA-PJM (eastus, aws us-east-1): 500 at 00:00, -10 each hour (270 at 23:00)."""
    return 500.0 - 10 * (hour % 24)


def tiny_bpat(hour: int) -> float:
    """US-NW-BPAT (aws us-west-2): 300 every hour (ties DE's daily minimum)."""
    return 300.0


def write_tiny_trace(path: Path) -> Path:
    """A wide CSV with three zones of exactly known hourly values."""
    lines = ["datetime_utc,DE,US-MIDA-PJM,US-NW-BPAT"]
    for h in range(TINY_HOURS):
        t = TINY_START + timedelta(hours=h)
        lines.append(f"{t:%Y-%m-%d %H:%M:%S},{tiny_de(h):g},{tiny_pjm(h):g},{tiny_bpat(h):g}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def client_for(app: FastAPI) -> TestClient:
    """A test client that answers with the app's own error responses."""
    return TestClient(app, raise_server_exceptions=False)
