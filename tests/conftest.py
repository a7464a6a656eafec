"""Shared fixtures: the real PostgreSQL server, skipped with a reason only where allowed."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_HOST = os.environ.get("LOWCARB_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("LOWCARB_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("LOWCARB_TEST_PG_USER", "postgres")
# The real traces live beside the checkout (../shared/data/grid); LOWCARB_GRID_DATA overrides.
SHARED_DATA = Path(
    os.environ.get("LOWCARB_GRID_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "grid"
)


def _pg_admin_conninfo() -> str:
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres connect_timeout=3"


def _postgres_unavailable_reason() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'lowcarb[postgres]')"
    try:
        with psycopg.connect(_pg_admin_conninfo()) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means "not reachable" here
        return f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable: {exc}".splitlines()[0]
    return None


@pytest.fixture(scope="session")
def _postgres_available() -> None:
    reason = _postgres_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("LOWCARB_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"LOWCARB_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def postgres_url(_postgres_available: None) -> Iterator[str]:
    """A SQLAlchemy URL to a fresh, empty PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"lowcarb_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(_pg_admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLAlchemy URL to a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Both backends, for conformance suites."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def grid_data_dir() -> Path:
    """The shared real grid traces (../shared/data/grid); skipped with a reason if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"shared grid data not found at {SHARED_DATA}; set LOWCARB_GRID_DATA to its folder"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def digits_cascade(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A two-stage cascade file (logistic regression, then an MLP, fitted on digits) and 40
    held-out rows (an array) to send it. Shared by the session: tests only read it."""
    import warnings

    import skops.io as sio
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    from lowcarb.compression import fit_cascade, save_cascade

    root = tmp_path_factory.mktemp("cascade")
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small = LogisticRegression(max_iter=50).fit(x[:900], y[:900])
        large = MLPClassifier((64,), max_iter=100, random_state=0).fit(x[:900], y[:900])
    sio.dump(small, root / "small.skops")
    sio.dump(large, root / "large.skops")
    models = [(root / "small.skops", small), (root / "large.skops", large)]
    cascade = fit_cascade(
        models, x[900:1300], y[900:1300], max_accuracy_loss_pts=0.5, energy_per_1k_j=[1.0, 9.0]
    )
    save_cascade(root / "digits.json", cascade)
    return root / "digits.json", x[1300:1340]
