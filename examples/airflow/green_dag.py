"""A green nightly training DAG for Airflow 3: wait for the greenest 2 h, then train, measured.

``GreenWindowSensor`` plans the greenest contiguous 2 hours in Germany (DE) that still finish
12 hours after it starts, from the embedded month x hour-of-day profile (offline), and defers to
the triggerer until then (no worker slot is held). ``measured()`` runs the training task under a
lowcarb Tracker. Both append to the ledger: a ``schedule`` record (planned vs immediate
intensity) and a ``run`` record (the task's energy and CO2e, with dag_id, task_id and run_id).

Deployed, the ledger comes from ``LOWCARB_LEDGER`` or the lowcarb config file on the workers
(or pass ``ledger_conn_id=`` to use an Airflow connection whose extra holds ``ledger_url``).

Run it once here, in about a minute, with Airflow's ``dag.test()``: the wait is replayed 3600
times faster (an hour a second) on a clock that starts now::

    pip install 'lowcarb[airflow]'
    export AIRFLOW_HOME=/tmp/airflow AIRFLOW__CORE__LOAD_EXAMPLES=False
    export AIRFLOW__CORE__DAGS_FOLDER=examples/airflow  # dag.test() runs DAGs of its folder
    airflow db migrate
    python examples/airflow/green_dag.py [--speed 3600] [--ledger sqlite:///green.db]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import DAG, task

from lowcarb.integrations.airflow import GreenWindowSensor, measured
from lowcarb.ledger import RecordFilter, open_ledger

DAG_ID = "lowcarb_green_training"


def build_dag(
    *, ledger: str | None = None, replay_from: str | None = None, replay_speed: float = 1.0
) -> DAG:
    """The DAG; ``replay_from``/``replay_speed`` replay the wait faster (demos and tests)."""
    with DAG(
        DAG_ID,
        schedule="@daily",
        start_date=datetime(2025, 1, 1, tzinfo=UTC),
        catchup=False,
        tags=["lowcarb"],
    ) as dag:
        wait = GreenWindowSensor(
            task_id="green_window",
            zone="DE",
            duration="2h",
            deadline="12h",
            ledger=ledger,
            team="vision",
            project="detector",
            replay_from=replay_from,
            replay_speed=replay_speed,
        )

        @task
        def train(decision: dict[str, Any]) -> float:
            """Stands in for training: a second of arithmetic, started in the green window."""
            print(f"released at {decision['released_at']}, planned {decision['planned_start']}")
            total, end = 0.0, time.monotonic() + 1.0
            while time.monotonic() < end:
                total += sum(i * i for i in range(10_000))
            return total

        trained = measured(
            train(wait.output),
            team="vision",
            project="detector",
            model="resnet",
            zone="DE",
            ledger=ledger,
        )
        wait >> trained
    return dag


dag = build_dag()


def run_once(*, ledger: str, speed: float = 3600.0) -> None:
    """Run the DAG once with ``dag.test()`` on a replay clock; print what the ledger holds."""
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.monotonic()
    run = build_dag(ledger=ledger, replay_from=now.isoformat(), replay_speed=speed).test()
    print(f"dag run {run.state} in {time.monotonic() - started:.1f} s")
    with open_ledger(ledger) as book:
        (decision,) = book.records(RecordFilter(kind="schedule", since=now))  # this run's
        runs = list(book.records(RecordFilter(kind="run", since=now)))
    m = decision.metadata
    print(
        f"green window: planned {m['planned_start']}, released {m['released_at']} "
        f"(waited {m['waited_h']:.1f} h, {m['replans']} re-plans); "
        f"{m['planned_intensity_g_per_kwh']:.0f} gCO2e/kWh expected vs "
        f"{m['immediate_intensity_g_per_kwh']:.0f} at once ({m['expected_savings_pct']:.1f}% less)"
    )
    for r in runs:
        a = r.metadata["airflow"]
        print(
            f"measured {a['dag_id']}.{a['task_id']} ({r.metadata['outcome']}): "
            f"{r.energy_kwh:.3g} kWh, {r.co2e_g:.3g} gCO2e; record {r.id}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=3600.0, help="replay speed (3600: 1 h/s)")
    parser.add_argument("--ledger", default="sqlite:///green-dag-ledger.db", help="ledger URL")
    args = parser.parse_args()
    run_once(ledger=args.ledger, speed=args.speed)
