"""Serving: ``lowcarb serve`` under loopback HTTP load, with and without energy metering.

Prints ONE JSON line on stdout (progress goes to stderr). Two real uvicorn servers run the same
ONNX model (logistic regression on scikit-learn's digits, 64 features) with the same settings;
one meters energy per request (the default), the other runs with the internal ``--no-metering``
flag. Requests (one row each) are sent by ``C`` client threads, each with its own keep-alive
``httpx.Client``, for concurrencies ``C`` in ``--concurrency`` (default 1, 4, 16); the two
servers are measured in alternating rounds so that both see the same machine.

Per concurrency and server: ``throughput_rps``, latency ``p50_ms``/``p95_ms``/``p99_ms``/
``mean_ms``; for the metered server ``joules_per_1k_requests`` (from its own
``lowcarb_energy_joules_total``, with ``energy_method``). ``direct_predict_ms``: the model's
``predict`` on one row called in-process (median), so ``http_overhead_ms`` = metered p50 minus it.
``metering``: metered over unmetered, p95 in percent and mean in milliseconds per request, from the
alternating rounds and (``paired_*``) from a request-by-request A/B in which every client thread
alternates between the two servers, so both see the same moments of a shared machine; targets
(issue 16): < 5 % at p95 and < 0.5 ms per request. ``metering_in_process``: the metering path
alone, timed in process (microseconds, free of HTTP noise). ``cascade``: a served cascade against
its large model alone over HTTP, and against calling the cascade in process
(``direct_predict_ms``, ``http_overhead_ms``).

Usage::

    python benchmarks/serving.py                        # 1, 4, 16 clients, 2 rounds of 300
    python benchmarks/serving.py --requests 100 --rounds 1  # quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_model(directory: Path) -> tuple[Path, np.ndarray[Any, Any]]:
    from skl2onnx import to_onnx
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    model = LogisticRegression(max_iter=2000).fit(x, y)
    path = directory / "digits.onnx"
    path.write_bytes(to_onnx(model, x[:1].astype(np.float32)).SerializeToString())
    return path, x


def build_cascade(directory: Path) -> tuple[Path, Path]:
    """A logistic regression in front of an MLP (256x256) on digits: (cascade file, large model)."""
    import warnings

    import skops.io as sio
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    from lowcarb.compression import fit_cascade, measure_stage_energy, save_cascade

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small = LogisticRegression(max_iter=2000).fit(x[:1000], y[:1000])
        large = MLPClassifier((256, 256), max_iter=100, random_state=0).fit(x[:1000], y[:1000])
    sio.dump(small, directory / "small.skops")
    sio.dump(large, directory / "large.skops")
    x_val, y_val = x[1000:1400], y[1000:1400]
    joules = [measure_stage_energy(m, x_val, environ={}).energy_per_1k_j for m in (small, large)]
    cascade = fit_cascade(
        [(directory / "small.skops", small), (directory / "large.skops", large)],
        x_val,
        y_val,
        max_accuracy_loss_pts=0.5,
        energy_per_1k_j=joules,
    )
    save_cascade(directory / "cascade.json", cascade)
    return directory / "cascade.json", directory / "large.skops"


def start_server(model: Path, *, metering: bool, cwd: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    argv = [sys.executable, "-m", "lowcarb", "serve", str(model), "--port", str(port)]
    if not metering:
        argv.append("--no-metering")
    env = {**os.environ, "LOWCARB_LEDGER": ""}
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server {argv} did not become ready")


def load(base: str, rows: list[list[float]], *, clients: int, requests: int) -> dict[str, Any]:
    """``requests`` one-row requests from ``clients`` threads; latencies in seconds."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = max(requests // clients, 1)

    def worker(k: int) -> None:
        mine = []
        with httpx.Client(base_url=base, timeout=30) as http:
            http.post("/predict", json={"rows": [rows[k]]})  # warm the connection
            for i in range(per_client):
                body = {"rows": [rows[(k * per_client + i) % len(rows)]]}
                t0 = time.perf_counter()
                r = http.post("/predict", json=body)
                mine.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise RuntimeError(f"{r.status_code}: {r.text}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"wall_s": time.perf_counter() - t0, "latencies": latencies}


def load_paired(
    bases: dict[str, str], rows: list[list[float]], *, clients: int, requests: int
) -> dict[str, list[float]]:
    """Request-by-request A/B: each client thread alternates between the servers (the order
    flipped every pair), so both see the same background load at the same moments; latencies in
    seconds by server name. Two servers measured in separate rounds see different moments of a
    shared machine, which on two cores swamps a cost of microseconds."""
    names = list(bases)
    latencies: dict[str, list[float]] = {n: [] for n in names}
    lock = threading.Lock()
    per_client = max(requests // clients, 1)

    def worker(k: int) -> None:
        mine: dict[str, list[float]] = {n: [] for n in names}
        https = {n: httpx.Client(base_url=bases[n], timeout=30) for n in names}
        try:
            for n in names:
                https[n].post("/predict", json={"rows": [rows[k]]})  # warm the connection
            for i in range(per_client):
                body = {"rows": [rows[(k * per_client + i) % len(rows)]]}
                for n in names if (i + k) % 2 == 0 else names[::-1]:
                    t0 = time.perf_counter()
                    r = https[n].post("/predict", json=body)
                    mine[n].append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        raise RuntimeError(f"{r.status_code}: {r.text}")
        finally:
            for h in https.values():
                h.close()
        with lock:
            for n in names:
                latencies[n].extend(mine[n])

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def quantiles_ms(latencies: list[float]) -> dict[str, float]:
    lat = np.asarray(latencies) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(lat, 50)), 3),
        "p95_ms": round(float(np.percentile(lat, 95)), 3),
        "mean_ms": round(float(lat.mean()), 3),
    }


def energy_total(base: str) -> tuple[float, float, str]:
    """(joules, requests answered 200, method) from a server's own metrics."""
    joules, count, method = 0.0, 0.0, "none"
    for family in text_string_to_metric_families(httpx.get(f"{base}/metrics").text):
        for s in family.samples:
            if s.name == "lowcarb_energy_joules_total":
                joules += s.value
                method = s.labels["method"]
            if s.name == "lowcarb_requests_total" and s.labels["code"] == "200":
                count += s.value
    return joules, count, method


def metering_cost_us(model: Any, rows: np.ndarray[Any, Any], *, n: int = 20_000) -> dict[str, Any]:
    """The metering path alone, per request, in process: what a metered request does that an
    unmetered one does not (the energy reading around its batch, the intensity, the counters),
    timed over ``n`` single-row requests without HTTP, so its cost is resolved to microseconds
    where the HTTP comparison drowns in scheduling noise on two shared cores."""
    from lowcarb.serving import (
        BatchResult,
        NoEnergy,
        ServedModel,
        ServingMetrics,
        TrackerEnergy,
        record_prediction,
    )

    served = ServedModel.wrap(model, name="bench")
    costs: dict[str, float] = {}
    for label, energy in (("metered", TrackerEnergy(zone="DE")), ("unmetered", NoEnergy())):
        energy.start()
        metrics = ServingMetrics()
        try:
            samples = []
            for _block in range(5):  # median of 5 blocks: robust to a neighbour's burst
                t0 = time.perf_counter()
                for _ in range(n // 5):
                    before, _ = energy.read()
                    after, method = energy.read()
                    result = BatchResult([0], max(after - before, 0.0), method, 1, 1)
                    record_prediction(metrics, served, result, energy.intensity())
                samples.append((time.perf_counter() - t0) / (n // 5))
            costs[label] = statistics.median(samples) * 1e6
        finally:
            energy.stop()
    return {
        "metered_us": round(costs["metered"], 2),
        "unmetered_us": round(costs["unmetered"], 2),
        "metering_us": round(costs["metered"] - costs["unmetered"], 2),
        "requests": n,
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    lat = np.asarray([x for r in runs for x in r["latencies"]]) * 1000.0
    wall = sum(r["wall_s"] for r in runs)
    return {
        "requests": int(lat.size),
        "throughput_rps": round(lat.size / wall, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 3),
        "p95_ms": round(float(np.percentile(lat, 95)), 3),
        "p99_ms": round(float(np.percentile(lat, 99)), 3),
        "mean_ms": round(float(lat.mean()), 3),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--concurrency", default="1,4,16", help="client threads, comma-separated")
    p.add_argument("--requests", type=int, default=300, help="requests per server per round")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds per concurrency")
    args = p.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        model_path, x = build_model(Path(tmp))
        rows = [[float(v) for v in row] for row in x[:512]]
        from lowcarb.profiling import load_model

        model, _ = load_model(model_path)
        one = np.asarray(rows[:1])
        direct = []
        for _ in range(2000):
            t0 = time.perf_counter()
            model.predict(one)
            direct.append(time.perf_counter() - t0)
        direct_ms = statistics.median(direct) * 1000.0
        log("metering path in process")
        in_process = metering_cost_us(model, one)
        metered, metered_url = start_server(model_path, metering=True, cwd=Path(tmp))
        plain, plain_url = start_server(model_path, metering=False, cwd=Path(tmp))
        results: dict[str, Any] = {}
        try:
            for c in levels:
                runs: dict[str, list[dict[str, Any]]] = {"metered": [], "unmetered": []}
                j0, n0, _ = energy_total(metered_url)
                for r in range(args.rounds):
                    order = [("metered", metered_url), ("unmetered", plain_url)]
                    for name, url in order if r % 2 == 0 else order[::-1]:
                        log(f"concurrency {c} round {r + 1}: {name}")
                        runs[name].append(load(url, rows, clients=c, requests=args.requests))
                j1, n1, method = energy_total(metered_url)
                log(f"concurrency {c}: request-by-request A/B")
                paired = load_paired(
                    {"metered": metered_url, "unmetered": plain_url},
                    rows,
                    clients=c,
                    requests=args.requests * args.rounds,
                )
                pm, pu = quantiles_ms(paired["metered"]), quantiles_ms(paired["unmetered"])
                m, u = summary(runs["metered"]), summary(runs["unmetered"])
                m["joules_per_1k_requests"] = round((j1 - j0) / max(n1 - n0, 1) * 1000, 4)
                m["energy_method"] = method
                m["http_overhead_ms"] = round(m["p50_ms"] - direct_ms, 3)
                results[str(c)] = {
                    "metered": m,
                    "unmetered": u,
                    "paired": {"metered": pm, "unmetered": pu},
                    "metering": {
                        "p95_overhead_pct": round((m["p95_ms"] / u["p95_ms"] - 1) * 100, 2),
                        "mean_overhead_ms": round(m["mean_ms"] - u["mean_ms"], 3),
                        "paired_p95_overhead_pct": round(
                            (pm["p95_ms"] / pu["p95_ms"] - 1) * 100, 2
                        ),
                        "paired_mean_overhead_ms": round(pm["mean_ms"] - pu["mean_ms"], 3),
                        # The in-process cost of the metering path against this p95: the same
                        # quantity without the noise of two servers and C clients on 2 cores.
                        "in_process_pct_of_p95": round(
                            in_process["metering_us"] / 10.0 / m["p95_ms"], 3
                        ),
                    },
                }
        finally:
            for proc in (metered, plain):
                proc.terminate()
                proc.wait(30)
        log("cascade: fitting a logistic regression in front of an MLP 256x256")
        cascade_path, large_path = build_cascade(Path(tmp))
        digits_rows = [[v / 16.0 for v in row] for row in rows]
        from lowcarb.serving import load_served_model

        in_process_cascade = load_served_model(cascade_path)
        one_digit = np.asarray(digits_rows[:1])
        timings = []
        for _ in range(2000):
            t0 = time.perf_counter()
            in_process_cascade.predict(one_digit)
            timings.append(time.perf_counter() - t0)
        direct_cascade_ms = statistics.median(timings) * 1000.0
        served_cascade, cascade_url = start_server(cascade_path, metering=True, cwd=Path(tmp))
        served_large, large_url = start_server(large_path, metering=True, cwd=Path(tmp))
        cascade_results: dict[str, Any] = {}
        try:
            for c in levels:
                runs = {"cascade": [], "large_only": []}
                before = {
                    n: energy_total(u)
                    for n, u in (("cascade", cascade_url), ("large_only", large_url))
                }
                for r in range(args.rounds):
                    order = [("cascade", cascade_url), ("large_only", large_url)]
                    for name, url in order if r % 2 == 0 else order[::-1]:
                        log(f"cascade concurrency {c} round {r + 1}: {name}")
                        runs[name].append(load(url, digits_rows, clients=c, requests=args.requests))
                out: dict[str, Any] = {}
                for name, url in (("cascade", cascade_url), ("large_only", large_url)):
                    j1, n1, method = energy_total(url)
                    j0, n0, _ = before[name]
                    s = summary(runs[name])
                    s["joules_per_1k_requests"] = round((j1 - j0) / max(n1 - n0, 1) * 1000, 4)
                    s["energy_method"] = method
                    out[name] = s
                out["cascade"]["http_overhead_ms"] = round(
                    out["cascade"]["p50_ms"] - direct_cascade_ms, 3
                )
                out["cascade_energy_vs_large_only"] = round(
                    out["cascade"]["joules_per_1k_requests"]
                    / max(out["large_only"]["joules_per_1k_requests"], 1e-12),
                    3,
                )
                cascade_results[str(c)] = out
        finally:
            for proc in (served_cascade, served_large):
                proc.terminate()
                proc.wait(30)
    result = {
        "benchmark": "serving",
        "model": "digits logistic regression, ONNX (64 features), 1 row per request",
        "direct_predict_ms": round(direct_ms, 4),
        "metering_in_process": in_process,
        "ratios": {
            f"metering_vs_p95_at_{c}_clients": round(
                in_process["metering_us"] / 1000.0 / results[c]["metered"]["p95_ms"], 5
            )
            for c in results
        }
        | {
            f"metered_vs_unmetered_p95_at_{c}_clients": round(
                results[c]["metered"]["p95_ms"] / results[c]["unmetered"]["p95_ms"], 4
            )
            for c in results
        }
        | {
            f"paired_metered_vs_unmetered_p95_at_{c}_clients": round(
                results[c]["paired"]["metered"]["p95_ms"]
                / results[c]["paired"]["unmetered"]["p95_ms"],
                4,
            )
            for c in results
        }
        | {
            f"cascade_http_vs_direct_p50_at_{c}_clients": round(
                cascade_results[c]["cascade"]["p50_ms"] / direct_cascade_ms, 2
            )
            for c in cascade_results
        },
        "targets": {"metering_pct_of_p95_lt": 5.0, "metering_ms_per_request_lt": 0.5},
        "targets_met": {
            "in_process_per_request_lt_0_5_ms": in_process["metering_us"] < 500.0,
            "in_process_lt_5pct_of_p95_every_concurrency": all(
                in_process["metering_us"] / 10.0 / results[c]["metered"]["p95_ms"] < 5.0
                for c in results
            ),
            "http_ab_p95_lt_5pct_every_concurrency": all(
                results[c]["metering"]["p95_overhead_pct"] < 5.0 for c in results
            ),
            "paired_http_ab_p95_lt_5pct_every_concurrency": all(
                results[c]["metering"]["paired_p95_overhead_pct"] < 5.0 for c in results
            ),
            "paired_http_ab_mean_lt_0_5_ms_every_concurrency": all(
                results[c]["metering"]["paired_mean_overhead_ms"] < 0.5 for c in results
            ),
        },
        "concurrency": results,
        "cascade": {
            "model": "logistic regression in front of an MLP 256x256 (skops), digits, fitted at "
            "0.5 pt; against the MLP alone, both metered",
            "direct_predict_ms": round(direct_cascade_ms, 4),
            "concurrency": cascade_results,
        },
        "cpus": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
    }
    result = {
        "benchmark": result["benchmark"],
        "ratios": result["ratios"],
        **result,
    }  # ratios first
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
