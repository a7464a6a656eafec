"""Write a reference and a current window for ``lowcarb monitor`` from a real grid trace.

The features are what a next-hour carbon-intensity model of one zone sees: hour of day, weekday,
the intensity one hour and one day before, and the intensity itself. The reference window is
January 2022, the current one July 2022 (Electricity Maps 2022 hourly, life-cycle; read from
``../shared/data/grid``, never copied into the repository; see its README for the licence).

    .venv/bin/python examples/monitoring/make_windows.py --zone DE --out /tmp/mon
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

TRACE = Path(__file__).resolve().parents[3] / "shared/data/grid/em2022_123zones"
TRACE_FILE = TRACE / "em2022_lca_hourly_123zones.csv"


def windows(zone: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pd.read_csv(TRACE_FILE, usecols=["datetime_utc", zone])
    t = pd.to_datetime(raw["datetime_utc"], utc=True)
    y = raw[zone].astype(float)
    frame = pd.DataFrame({
        "hour": t.dt.hour, "weekday": t.dt.day_of_week, "lag_1": y.shift(1), "lag_24": y.shift(24),
        "intensity": y, "month": t.dt.month,
    }).dropna()  # fmt: skip
    ref = frame[frame.month == 1].drop(columns="month")
    cur = frame[frame.month == 7].drop(columns="month")
    return ref, cur


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zone", default="DE")
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    ref, cur = windows(args.zone)
    args.out.mkdir(parents=True, exist_ok=True)
    ref.to_csv(args.out / "reference.csv", index=False)
    cur.to_csv(args.out / "current.csv", index=False)
    print(f"{args.out / 'reference.csv'}: {len(ref)} rows; {args.out / 'current.csv'}: {len(cur)}")


if __name__ == "__main__":
    main()
