"""Backtest inputs: named policies and workload files of submissions.

A workload file is a CSV with a header and one job per row::

    submit,duration,deadline,interruptible
    2022-03-01T09:00Z,4h,2022-03-02T09:00Z,false
    2022-03-01T09:30Z,90m,24h,true

``duration`` is a duration (``4h``, ``90m``, or hours); ``deadline`` an ISO time or a duration
after ``submit``; ``interruptible`` is optional (``true``/``false``/``1``/``0``).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from lowcarb._files import read_text_file
from lowcarb.errors import DataError, InvalidValueError, LowcarbError, UsageError
from lowcarb.grid import (
    AnchoredForecaster,
    Forecaster,
    IntensitySeries,
    SeasonalNaiveForecaster,
    forecaster_names,
    make_forecaster,
)
from lowcarb.scheduling._policies import (
    ForecastWindow,
    OraclePolicy,
    RollingReplan,
    RunNow,
    SchedulingPolicy,
    SimJob,
    Threshold,
)
from lowcarb.scheduling._window import work_weights
from lowcarb.units import parse_duration_h
from lowcarb.units import parse_timestamp as parse_time

__all__ = ["POLICY_NAMES", "Submission", "load_workload", "make_policies", "to_sim_jobs"]

#: Policy names understood by :func:`make_policies` (and ``lowcarb backtest --policy``).
POLICY_NAMES = ("run-now", "threshold", "seasonal-naive", "forecast", "rolling", "oracle")
_HOUR = timedelta(hours=1)


def make_policies(
    names: Sequence[str],
    *,
    model: str = "profile-blend",
    series: IntensitySeries | None = None,
    threshold_quantile: float = 0.25,
) -> list[SchedulingPolicy]:
    """Policies by name, in the order given.

    Args:
        names: From :data:`POLICY_NAMES`.
        model: The forecast behind ``forecast`` and ``rolling``: a name from
            :func:`lowcarb.grid.forecaster_names` (``lag-ridge`` refits at every origin: slow).
        series: The zone's series (needed by models that use timestamps: ``lag-ridge``,
            ``profile``).
        threshold_quantile: Quantile of the trailing week for the threshold gate.

    Raises:
        UsageError: Unknown policy or model name.
    """
    if model not in forecaster_names():
        raise UsageError(f"unknown model {model!r}; choose {', '.join(forecaster_names())}")
    forecast: Forecaster = make_forecaster(model)
    if not forecast.vectorised:
        # Calendar features and the embedded profile need the timestamps of the series.
        if series is None:
            raise UsageError(f"the {model} model needs the zone's series (its timestamps)")
        forecast = AnchoredForecaster(forecast, start=series.start, zone=series.zone)
    out: list[SchedulingPolicy] = []
    for name in names:
        if name == "run-now":
            out.append(RunNow())
        elif name == "threshold":
            out.append(Threshold(quantile=threshold_quantile))
        elif name == "seasonal-naive":
            out.append(ForecastWindow(SeasonalNaiveForecaster()))
        elif name == "forecast":
            out.append(ForecastWindow(forecast))
        elif name == "rolling":
            out.append(RollingReplan(forecast))
        elif name == "oracle":
            out.append(OraclePolicy())
        else:
            raise UsageError(f"unknown policy {name!r}; choose from {', '.join(POLICY_NAMES)}")
    return out


@dataclass(frozen=True, slots=True)
class Submission:
    """One job of a workload file."""

    submit: datetime
    duration_h: float
    deadline: datetime
    interruptible: bool = False


def load_workload(path: str | Path) -> list[Submission]:
    """Read a workload CSV (see the module docstring).

    Raises:
        DataError: Unreadable file, missing columns, or a bad row (its line number is given).
    """
    p = Path(path)
    # Never a FIFO or device (it would hang), not binary, UTF-8, bounded: one reader for files.
    text = read_text_file(p, what="workload file", max_bytes=16 << 20)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    if not rows:
        raise DataError(f"{p.name}: no jobs (expected a header submit,duration,deadline)")
    missing = {"submit", "duration", "deadline"} - set(rows[0])
    if missing:
        raise DataError(f"{p.name}: missing column(s) {sorted(missing)}")
    out = []
    for line, row in enumerate(rows, start=2):
        try:
            submit = parse_time(row["submit"], what="submit")
            duration = parse_duration_h(row["duration"], what="duration")
            deadline = parse_time(row["deadline"], now=submit, what="deadline")
            flag = (row.get("interruptible") or "false").strip().lower()
            if flag not in {"true", "false", "1", "0", "yes", "no", ""}:
                raise InvalidValueError(f"interruptible must be true or false, got {flag!r}")
        except LowcarbError as exc:
            raise DataError(f"{p.name} line {line}: {exc}") from None
        if deadline - submit < timedelta(hours=duration):
            raise DataError(f"{p.name} line {line}: the deadline leaves less than the duration")
        out.append(Submission(submit, duration, deadline, flag in {"true", "1", "yes"}))
    return out


def to_sim_jobs(
    submissions: Sequence[Submission], series: IntensitySeries
) -> tuple[list[SimJob], int]:
    """Jobs in slot units of ``series`` (hourly); jobs outside the series are dropped.

    Submissions are rounded up to the next hour and deadlines down, so no job gains time.

    Returns:
        (jobs, number dropped).
    """
    jobs = []
    dropped = 0
    for sub in submissions:
        first = math.ceil((sub.submit - series.start) / _HOUR)
        end = math.floor((sub.deadline - series.start) / _HOUR)
        weights = work_weights(sub.duration_h)
        if first < 0 or end > len(series) or end - first < weights.size:
            dropped += 1
            continue
        jobs.append(SimJob(first, weights, end, sub.interruptible))
    return jobs, dropped
