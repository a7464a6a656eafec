"""The Airflow example DAGs run once with ``dag.test()``, in Airflow's own virtualenv.

Airflow 3.3 caps FastAPI below what the dev extra installs, so this module runs under ``make
airflow-test`` (``.venv-airflow``, ``lowcarb[airflow]``); elsewhere it skips with the reason, and
``LOWCARB_REQUIRE_AIRFLOW=1`` turns that skip into a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = sorted((ROOT / "examples" / "airflow").glob("*.py"))


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    try:
        import airflow  # noqa: F401
    except ImportError:
        reason = "Airflow is not installed (pip install 'lowcarb[airflow]'; make airflow-test)"
        if os.environ.get("LOWCARB_REQUIRE_AIRFLOW") == "1":
            pytest.fail(f"LOWCARB_REQUIRE_AIRFLOW=1 but {reason}")
        pytest.skip(reason)
    home = tmp_path_factory.mktemp("airflow")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOWCARB_", "AIRFLOW"))}
    env.update(
        HOME=str(home),
        AIRFLOW_HOME=str(home / "airflow"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "examples" / "airflow"),
    )
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
    return env


@pytest.mark.parametrize("dag_file", DAGS, ids=lambda p: p.name)
def test_example_dag_runs(dag_file: Path, airflow_env: dict[str, str], tmp_path: Path) -> None:
    ledger = f"sqlite:///{tmp_path / 'green.db'}"
    proc = subprocess.run(
        [sys.executable, str(dag_file), "--speed", "3600", "--ledger", ledger],
        cwd=tmp_path,
        env=airflow_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{dag_file.name} exited {proc.returncode}:\n{out[-4000:]}"
    assert "dag run success" in out, out[-4000:]
    assert "green window: planned" in out, out[-4000:]


def test_there_is_an_example_dag() -> None:
    assert DAGS, "examples/airflow holds no DAG"
