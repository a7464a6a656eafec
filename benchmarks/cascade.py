"""Cascades side by side: the large model alone, the small model alone, and the cascade.

For each dataset (scikit-learn's digits and breast-cancer sets, bundled, no download) and each
pair of models (logistic regression in front of a 300-tree random forest, logistic regression in
front of an MLP 256x256, the MLP in front of the forest), both models are trained on 60% of the
rows, and served two ways: as scikit-learn estimators, and as ONNX graphs run by ONNX Runtime
(skl2onnx export, one thread), the cascade then routing between ONNX stages. The cascade's
thresholds are fitted on 20% (validation) with each stage's energy measured at batch 1 on those
rows; everything is then judged on the other 20%
(test rows, never seen by the fit). For the large model alone, the small model alone, and the
cascade at each of its operating points (plus the point a dirty grid selects) the line gives
joules per 1,000 requests and test accuracy. Every figure is measured the same way: requests
answered one at a time (batch 1), the cascade's through its router, so the router's own cost is
in the energy; the router's decision cost alone (confidences, comparisons, selection; not the
models) is timed per request, p50/p95.

Targets (issue 15): the fitted cascade at <= 40% of the large model's energy with <= 0.5 point of
accuracy lost, router p95 < 1 ms per request.

    .venv/bin/python benchmarks/cascade.py          # about 1-2 minutes on 2 cores

Prints one JSON line on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from lowcarb.compression import (
    DEFAULT_MARGIN_SD,
    Cascade,
    fit_cascade,
    inference_energy,
    measure_stage_energy,
    router_cost_ms,
)

DIRTY_G_PER_KWH = 600.0
DIRTY_ABOVE_G_PER_KWH = 300.0
FLOOR_LOSS_PTS = 2.0  # the dirty-grid floor: at most 2 points below the large model (validation)


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _data(name: str) -> tuple[Any, ...]:
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = (load_digits if name == "digits" else load_breast_cancer)(return_X_y=True)
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, random_state=0, stratify=y
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=0, stratify=y_rest
    )
    scaler = StandardScaler().fit(x_train)
    t = scaler.transform
    return t(x_train), y_train, t(x_val), y_val, t(x_test), y_test


#: Cascades benchmarked, as (small, large): the small model answers what it is sure of.
PAIRS = {
    "logreg>forest": ("logistic_regression", "random_forest_300"),
    "logreg>mlp": ("logistic_regression", "mlp_256x256"),
    "mlp>forest": ("mlp_256x256", "random_forest_300"),
}


def _train(name: str, x: Any, y: Any) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if name == "logistic_regression":
        return LogisticRegression(max_iter=1000).fit(x, y)
    if name == "random_forest_300":
        return RandomForestClassifier(n_estimators=300, random_state=0).fit(x, y)
    return MLPClassifier((256, 256), max_iter=300, random_state=0).fit(x, y)


def _stage(model: Any, path: Path, runtime: str, x: Any) -> tuple[Path, Any]:
    """The stage as the runtime serves it: the estimator, or its ONNX graph run by ORT."""
    if runtime == "sklearn":
        import skops.io as sio

        sio.dump(model, path.with_suffix(".skops"))
        return path.with_suffix(".skops"), model
    from skl2onnx import to_onnx

    from lowcarb.profiling import load_model

    sample = np.asarray(x[:1], dtype=np.float32)
    graph = to_onnx(model, sample, options={id(model): {"zipmap": False}})
    path.with_suffix(".onnx").write_bytes(graph.SerializeToString())
    loaded, _ = load_model(path.with_suffix(".onnx"))
    return path.with_suffix(".onnx"), loaded


def _energy(predict: Callable[[Any], Any], x: Any, seconds: float) -> dict[str, Any]:
    stats = inference_energy(
        predict,
        x,
        batch_size=1,
        min_inferences=100,
        min_duration_s=seconds,
        max_duration_s=seconds * 3,
    )
    return {"energy_per_1k_j": round(stats.energy_per_1k_j, 5), "energy_method": stats.method}


def _case(
    dataset: str, pair: str, runtime: str, root: Path, seconds: float, margin_sd: float
) -> dict[str, Any]:
    began = time.perf_counter()
    x_train, y_train, x_val, y_val, x_test, y_test = _data(dataset)
    small_name, large_name = PAIRS[pair]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = [_train(n, x_train, y_train) for n in (small_name, large_name)]
    tag = f"{dataset}-{pair.replace('>', '-')}-{runtime}"
    (small_path, small), (large_path, large) = (
        _stage(m, root / f"{tag}-{i}", runtime, x_train) for i, m in enumerate(fitted)
    )
    paths = [small_path, large_path]
    stage_energy = [measure_stage_energy(m, x_val, min_duration_s=seconds) for m in (small, large)]
    cascade: Cascade = fit_cascade(
        list(zip(paths, (small, large), strict=True)),
        x_val,
        y_val,
        max_accuracy_loss_pts=0.5,
        energy_per_1k_j=[s.energy_per_1k_j for s in stage_energy],
        energy_method=[s.method for s in stage_energy],
        dataset=f"{dataset} validation",
        margin_sd=margin_sd,
    )
    floor = cascade.fitted_on.largest_accuracy - FLOOR_LOSS_PTS / 100.0
    dirty = cascade.select_point(
        DIRTY_G_PER_KWH, dirty_above_g_per_kwh=DIRTY_ABOVE_G_PER_KWH, accuracy_floor=floor
    )

    def acc(pred: Any) -> float:
        return round(float(np.mean(np.asarray(pred) == y_test)), 5)

    large_only = {"accuracy": acc(large.predict(x_test)), **_energy(large.predict, x_test, seconds)}
    small_only = {"accuracy": acc(small.predict(x_test)), **_energy(small.predict, x_test, seconds)}
    points: dict[str, Any] = {}
    for point in cascade.points:
        routed = cascade.predict(x_test, point=point)
        shares = np.bincount(routed.stages, minlength=2) / len(y_test)
        p50, p95 = router_cost_ms(cascade, x_test, point=point, requests=len(x_test))
        points[point.name] = {
            "thresholds": [round(t, 5) for t in point.thresholds],
            "accuracy": acc(routed.predictions),
            **_energy(
                lambda b, pt=point: cascade.predict(b, point=pt).predictions, x_test, seconds
            ),
            "share_per_stage": [round(float(s), 4) for s in shares],
            "router_p50_ms": round(p50, 5),
            "router_p95_ms": round(p95, 5),
            "validation": {
                "accuracy": round(point.accuracy, 5),
                "expected_energy_per_1k_j": round(point.energy_per_1k_j, 5),
                "max_accuracy_loss_pts": point.max_accuracy_loss_pts,
            },
        }
    fitted = points["fitted"]
    big_j = large_only["energy_per_1k_j"]
    ratio = round(fitted["energy_per_1k_j"] / big_j, 4) if big_j else None
    loss = round((large_only["accuracy"] - fitted["accuracy"]) * 100.0, 3)
    dirty_row = points[dirty.point.name]
    wall = round(time.perf_counter() - began, 1)
    log(f"{dataset} {pair} {runtime}: fitted energy ratio {ratio}, loss {loss} pt, {wall} s")
    return {
        "dataset": dataset,
        "cascade": pair,
        "runtime": runtime,
        "large_model": large_name,
        "small_model": small_name,
        "rows": {"train": len(y_train), "validation": len(y_val), "test": len(y_test)},
        "stage_energy_validation_per_1k_j": [round(s.energy_per_1k_j, 5) for s in stage_energy],
        "large_only": large_only,
        "small_only": small_only,
        "points": points,
        "dirty_grid": {
            "intensity_g_per_kwh": DIRTY_G_PER_KWH,
            "dirty_above_g_per_kwh": DIRTY_ABOVE_G_PER_KWH,
            "accuracy_floor": round(floor, 5),
            "point": dirty.point.name,
            "reason": dirty.reason,
            "energy_vs_large": round(dirty_row["energy_per_1k_j"] / big_j, 4) if big_j else None,
            "accuracy_loss_pts": round((large_only["accuracy"] - dirty_row["accuracy"]) * 100, 3),
        },
        "fitted_energy_vs_large": ratio,
        "fitted_accuracy_loss_pts": loss,
        "router_p95_ms": max(p["router_p95_ms"] for p in points.values()),
        "targets_met": {
            "energy_le_40pct_of_large": ratio is not None and ratio <= 0.40,
            "accuracy_loss_le_0_5_pts": loss <= 0.5,
            "router_p95_lt_1_ms": max(p["router_p95_ms"] for p in points.values()) < 1.0,
        },
        "wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="digits,breast_cancer")
    parser.add_argument("--pairs", default=",".join(PAIRS), help="cascades (small>large)")
    parser.add_argument("--runtimes", default="sklearn,onnx", help="sklearn, onnx or both")
    parser.add_argument("--energy-seconds", type=float, default=1.0, help="per energy window")
    parser.add_argument("--margin-sd", type=float, default=DEFAULT_MARGIN_SD, help="fit margin")
    args = parser.parse_args()
    load_before = os.getloadavg()
    began = time.perf_counter()
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets.split(","):
            for pair in args.pairs.split(","):
                for runtime in args.runtimes.split(","):
                    cases.append(
                        _case(
                            dataset, pair, runtime, Path(tmp), args.energy_seconds, args.margin_sd
                        )
                    )
    ratios = {}
    for c in cases:
        key = f"{c['dataset']}_{c['cascade']}_{c['runtime']}"
        ratios[f"{key}_fitted_energy_vs_large"] = c["fitted_energy_vs_large"]
        ratios[f"{key}_fitted_accuracy_loss_pts"] = c["fitted_accuracy_loss_pts"]
        ratios[f"{key}_dirty_energy_vs_large"] = c["dirty_grid"]["energy_vs_large"]
    met = {
        f"{c['dataset']}_{c['cascade']}_{c['runtime']}": all(c["targets_met"].values())
        for c in cases
    }
    print(
        json.dumps(
            {
                "benchmark": "lowcarb.compression.cascade",
                "ratios": ratios,
                "targets": {
                    "energy_vs_large_le": 0.40,
                    "accuracy_loss_pts_le": 0.5,
                    "router_p95_ms_lt": 1.0,
                },
                "targets_met": met,
                "energy_method": sorted({c["large_only"]["energy_method"] for c in cases}),
                "cases": cases,
                "machine": {
                    "cpus": os.cpu_count(),
                    "cpu_model": platform.processor() or platform.machine(),
                    "python": platform.python_version(),
                    "threads": "OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1",
                    "load_average_before": [round(v, 2) for v in load_before],
                    "load_average_after": [round(v, 2) for v in os.getloadavg()],
                },
                "notes": [
                    "energy per 1,000 requests at batch 1, requests answered one at a time (the "
                    "cascade's through its router); estimated from CPU time where the machine "
                    "has no counters (energy_method says which)",
                    "thresholds fitted on the validation rows; accuracy and energy on test rows "
                    "the fit never saw",
                    "router cost: routing logic alone per request, models excluded",
                ],
                "margin_sd": args.margin_sd,
                "wall_s": round(time.perf_counter() - began, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
