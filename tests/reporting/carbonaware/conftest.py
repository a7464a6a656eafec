"""Fixtures for the Carbon Aware SDK-compatible API: a tiny exact trace, the real traces."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from carbonaware_helpers import REAL_NOW, TINY_NOW, TestClient, client_for, write_tiny_trace

from lowcarb.grid import IntensitySource
from lowcarb.reporting.carbonaware import (
    CarbonAwareLimits,
    carbon_aware_source,
    create_carbon_aware_app,
)
from lowcarb.scheduling import ZoneSources


@pytest.fixture
def tiny_trace(tmp_path: Path) -> Path:
    return write_tiny_trace(tmp_path / "tiny.csv")


@pytest.fixture
def make_tiny_client(tiny_trace: Path) -> Callable[..., TestClient]:
    """Build a client over the tiny trace (seasonal-naive forecasts), clock at TINY_NOW."""

    def make(*, now: datetime = TINY_NOW, limits: CarbonAwareLimits | None = None) -> TestClient:
        source = carbon_aware_source(tiny_trace, model="seasonal-naive")
        return client_for(create_carbon_aware_app(source, clock=lambda: now, limits=limits))

    return make


@pytest.fixture
def tiny_client(make_tiny_client: Callable[..., TestClient]) -> TestClient:
    return make_tiny_client()


@pytest.fixture(scope="session")
def real_source(grid_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> IntensitySource:
    """Real traces: Electricity Maps 2022 (123 zones) for eastus, DE and aws us-west-2, and the
    Electricity Maps data-portal files of US-CAL-CISO (westus) for 2021 and 2022 joined, as the
    SDK's own tests ask for westus in December 2021."""
    em2022 = carbon_aware_source(grid_data_dir / "em2022_123zones/em2022_lca_hourly_123zones.csv")
    raw = grid_data_dir / "em_raw_2021_2023"
    rows_2021 = (raw / "US-CAL-CISO_2021_hourly.csv").read_text("utf-8").splitlines()
    rows_2022 = (raw / "US-CAL-CISO_2022_hourly.csv").read_text("utf-8").splitlines()
    joined = tmp_path_factory.mktemp("ciso") / "US-CAL-CISO_2021_2022_hourly.csv"
    joined.write_text("\n".join([*rows_2021, *rows_2022[1:]]) + "\n", encoding="utf-8")
    ciso = carbon_aware_source(joined)
    return ZoneSources(
        {"US-MIDA-PJM": em2022, "DE": em2022, "US-NW-BPAT": em2022, "US-CAL-CISO": ciso}
    )


@pytest.fixture(scope="session")
def real_client(real_source: IntensitySource) -> TestClient:
    return client_for(create_carbon_aware_app(real_source, clock=lambda: REAL_NOW))


@pytest.fixture(scope="session")
def profile_client() -> TestClient:
    """The default app: no trace configured, so the embedded profile table answers."""
    return client_for(create_carbon_aware_app(clock=lambda: REAL_NOW))
