"""Walk-forward forecast benchmark on the Electricity Maps 2022 traces (issue 4).

For every zone of ``em2022_lca_hourly_123zones.csv``, a 24 h forecast is issued every day at
00:00 UTC and at 12:00 UTC (from the first day with 24 h of history), each trained only on data
before its origin (the :class:`lowcarb.grid.Forecaster` contract slices the history). Per zone:
MAPE and MAE of seasonal-naive (same hour yesterday) and lowcarb's ``lag-ridge`` model, and the
share of perfect-foresight scheduling savings captured when a 1 h job submitted at the origin,
with a 24 h deadline, starts at the hour each forecast says is cleanest. For DE, GB and FR the
capture is also computed for a job submitted at every hour of the year (forecast issued hourly),
the setting of the reference figures in ../shared/data/grid/README.md.

Prints one JSON line. Usage::

    .venv/bin/python benchmarks/forecast.py [--trace PATH] [--workers N] [--zones DE,GB,FR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from lowcarb.grid import (
    Forecaster,
    IntensitySeries,
    LagRidgeForecaster,
    SeasonalNaiveForecaster,
    load_trace_table,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TRACE = (
    REPO.parent / "shared" / "data" / "grid" / "em2022_123zones" / "em2022_lca_hourly_123zones.csv"
)
#: Constant in 2022 (yearly estimates), per the data README: excluded from the summaries.
CONSTANT_ZONES = ("HK", "ID", "US-NW-SCL")
FOCUS_ZONES = ("DE", "GB", "FR")
ORIGIN_HOURS = (0, 12)
HORIZON_H = 24
TARGET_REDUCTION = 0.30


def _models(lag_ridge: dict[str, Any]) -> dict[str, Forecaster]:
    return {
        "seasonal_naive": SeasonalNaiveForecaster(),
        "lag_ridge": LagRidgeForecaster(**lag_ridge),
    }


def evaluate_zone(
    zone: str, start_iso: str, values: np.ndarray, lag_ridge: dict[str, Any]
) -> dict[str, Any]:
    """Walk forward over one zone; returns per-model, per-origin-hour error sums and savings."""
    series = IntensitySeries(
        zone=zone, start=datetime.fromisoformat(start_iso), values_g_per_kwh=values, source="bench"
    )
    y = series.values_g_per_kwh
    out: dict[str, Any] = {"zone": zone}
    fit_s: list[float] = []
    fallbacks = 0
    for name, model in _models(lag_ridge).items():
        per_hour: dict[str, dict[str, float]] = {}
        for hour in ORIGIN_HOURS:
            ape = ae = realized = perfect = 0.0
            points = origins = 0
            i = 24 + hour  # first origin with a full day of history
            while i + HORIZON_H <= len(y):
                origin = series.time_at(i)
                t0 = time.perf_counter()
                fc = model.forecast(series, origin=origin, horizon_h=HORIZON_H)
                if name == "lag_ridge":
                    fit_s.append(time.perf_counter() - t0)
                    fallbacks += "fallback" in fc.source
                pred = fc.values_g_per_kwh
                truth = y[i : i + HORIZON_H]
                ape += float(np.sum(np.abs(pred - truth) / truth))
                ae += float(np.sum(np.abs(pred - truth)))
                points += HORIZON_H
                origins += 1
                # A 1 h job submitted at the origin, deadline 24 h: start at the forecast minimum.
                realized += float(truth[0] - truth[int(np.argmin(pred))])
                perfect += float(truth[0] - truth.min())
                i += 24
            per_hour[f"{hour:02d}"] = {
                "mape_pct": 100.0 * ape / points,
                "mae_g_per_kwh": ae / points,
                "realized_savings": realized,
                "perfect_savings": perfect,
                "origins": origins,
            }
        out[name] = per_hour
    out["fit_s"] = fit_s
    out["fallback_origins"] = fallbacks
    if zone in FOCUS_ZONES:
        out["hourly_capture"] = _hourly_capture(series, lag_ridge)
    return out


def _hourly_capture(series: IntensitySeries, lag_ridge: dict[str, Any]) -> dict[str, float]:
    """Savings captured for a 1 h job submitted at every hour, 24 h deadline (forecast hourly)."""
    y = series.values_g_per_kwh
    result: dict[str, float] = {}
    for name, model in _models(lag_ridge).items():
        realized = perfect = 0.0
        for i in range(24, len(y) - HORIZON_H + 1):
            fc = model.forecast(series, origin=series.time_at(i), horizon_h=HORIZON_H)
            truth = y[i : i + HORIZON_H]
            realized += float(truth[0] - truth[int(np.argmin(fc.values_g_per_kwh))])
            perfect += float(truth[0] - truth.min())
        result[name] = round(realized / perfect, 3) if perfect > 0 else float("nan")
    return result


def _both(per_hour: dict[str, dict[str, float]], key: str) -> float:
    return statistics.fmean(per_hour[f"{h:02d}"][key] for h in ORIGIN_HOURS)


def _capture(per_hour: dict[str, dict[str, float]], hours: tuple[str, ...]) -> float | None:
    perfect = sum(per_hour[h]["perfect_savings"] for h in hours)
    realized = sum(per_hour[h]["realized_savings"] for h in hours)
    return realized / perfect if perfect > 0 else None


def _summary(results: list[dict[str, Any]], zones: set[str]) -> dict[str, Any]:
    rows = [r for r in results if r["zone"] in zones]
    summary: dict[str, Any] = {"zones": len(rows)}
    if not rows:
        return summary
    for label, hours in (("00", ("00",)), ("12", ("12",)), ("both", ("00", "12"))):
        block: dict[str, Any] = {}
        for model in ("seasonal_naive", "lag_ridge"):
            mape = [statistics.fmean(r[model][h]["mape_pct"] for h in hours) for r in rows]
            mae = [statistics.fmean(r[model][h]["mae_g_per_kwh"] for h in hours) for r in rows]
            capture = [c for r in rows if (c := _capture(r[model], hours)) is not None]
            block[model] = {
                "mape_pct_median": round(statistics.median(mape), 3),
                "mape_pct_mean": round(statistics.fmean(mape), 3),
                "mae_g_per_kwh_median": round(statistics.median(mae), 3),
                "mae_g_per_kwh_mean": round(statistics.fmean(mae), 3),
                "savings_captured_median": round(statistics.median(capture), 3)
                if capture
                else None,
                "savings_captured_mean": round(statistics.fmean(capture), 3) if capture else None,
            }
        sn = block["seasonal_naive"]["mape_pct_median"]
        model = block["lag_ridge"]["mape_pct_median"]
        block["median_mape_reduction"] = round(1.0 - model / sn, 3) if sn > 0 else None
        block["target_met"] = bool(sn > 0 and 1.0 - model / sn >= TARGET_REDUCTION)
        summary[label] = block
    return summary


def _ratios(all_zones: dict[str, Any], focus: dict[str, Any]) -> dict[str, float | None]:
    """Each model against its reference, measured in the same run, per forecast origin (00, 12
    UTC, both): lag-ridge's median MAPE over seasonal-naive's (below 1: better), and the share
    of the oracle's savings a one-hour job captures when planned on each forecast (the savings
    figures are already that share)."""
    out: dict[str, float | None] = {}
    for label, block in (("all_zones", all_zones), ("de_gb_fr", focus)):
        for horizon, summary in block.items():
            if not isinstance(summary, dict):  # the zone count
                continue
            sn = summary["seasonal_naive"]["mape_pct_median"]
            model = summary["lag_ridge"]["mape_pct_median"]
            key = f"{label}_{horizon}_lag_ridge_mape_vs_seasonal_naive"
            out[key] = round(model / sn, 3) if sn > 0 else None
            for name in ("lag_ridge", "seasonal_naive"):
                captured = summary[name]["savings_captured_median"]
                out[f"{label}_{horizon}_{name}_savings_vs_oracle"] = captured
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", type=Path, default=DEFAULT_TRACE)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--zones", help="comma-separated subset (default: every zone)")
    parser.add_argument(
        "--lag-ridge",
        default="{}",
        metavar="JSON",
        help="LagRidgeForecaster settings to try, e.g. '{\"hour_band_h\": 2}' (default: defaults)",
    )
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    table = load_trace_table(args.trace)
    zones = list(table.zones) if not args.zones else args.zones.split(",")
    settings = json.loads(args.lag_ridge)
    jobs = []
    for zone in zones:
        s = table.series(zone)
        jobs.append((s.zone, s.start.isoformat(), np.asarray(s.values_g_per_kwh), settings))
    if args.workers <= 1:
        results = [evaluate_zone(*job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            results = list(pool.map(evaluate_zone, *zip(*jobs, strict=True)))
    fit_s = np.array([t for r in results for t in r["fit_s"]])
    variable = {r["zone"] for r in results} - set(CONSTANT_ZONES)
    all_zones, focus = _summary(results, variable), _summary(results, set(FOCUS_ZONES))
    report = {
        "benchmark": "forecast-walk-forward",
        "ratios": _ratios(all_zones, focus),
        "trace": args.trace.name,
        "horizon_h": HORIZON_H,
        "origin_hours_utc": list(ORIGIN_HOURS),
        "models": {"baseline": "seasonal_naive", "lowcarb": "lag_ridge"},
        "lag_ridge_settings": {**LagRidgeForecaster().__dict__, **settings},
        "target": f"median MAPE >= {int(TARGET_REDUCTION * 100)}% below seasonal-naive",
        "excluded_constant_zones": list(CONSTANT_ZONES),
        "all_zones": all_zones,
        "de_gb_fr": focus,
        "savings_captured_1h_job_submitted_every_hour": {
            r["zone"]: r["hourly_capture"] for r in results if "hourly_capture" in r
        },
        "per_zone": {
            r["zone"]: {
                "seasonal_naive_mape_pct": round(_both(r["seasonal_naive"], "mape_pct"), 3),
                "lag_ridge_mape_pct": round(_both(r["lag_ridge"], "mape_pct"), 3),
                "seasonal_naive_mae": round(_both(r["seasonal_naive"], "mae_g_per_kwh"), 3),
                "lag_ridge_mae": round(_both(r["lag_ridge"], "mae_g_per_kwh"), 3),
            }
            for r in results
        },
        "lag_ridge_fit_s": {
            "mean": round(float(fit_s.mean()), 5) if fit_s.size else None,
            "p99": round(float(np.percentile(fit_s, 99)), 5) if fit_s.size else None,
            "max": round(float(fit_s.max()), 5) if fit_s.size else None,
        },
        "lag_ridge_fallback_origins": sum(r["fallback_origins"] for r in results),
        "origins_per_zone_and_model": sum(
            results[0]["lag_ridge"][f"{h:02d}"]["origins"] for h in ORIGIN_HOURS
        )
        if results
        else 0,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
