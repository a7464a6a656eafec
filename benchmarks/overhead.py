"""Tracker overhead: a fixed CPU-bound workload run plain, under lowcarb and under CodeCarbon.

Each trial runs in a fresh Python process so that start-up, imports and memory are measured the way
a user meets them. Modes are interleaved (plain, lowcarb, codecarbon, plain, ...) so drift in the
machine's speed hits all of them alike. Prints ONE JSON line with, per tracker:

* ``wall_ratio``: workload wall time under the tracker / plain (mean over rounds), with the plain
  runs' own spread (``plain_wall_cv``) so "within noise of 1.00" can be judged;
* ``start_ms``: latency of the tracker's ``start()`` call (median), with the constructor
  (``init_ms``) and ``stop_ms`` beside it: CodeCarbon does its hardware discovery in the
  constructor, so compare ``init_ms + start_ms`` too;
* ``tracker_cpu_s`` and ``tracker_cpu_pct_of_one_core``: CPU the tracker's background threads
  spent while the workload ran (the process's CPU minus the workload thread's own), and
  ``one_time_cpu_ms``: constructor + start() + stop() on the caller's thread;
* ``rss_increase_mb``: peak RSS of the trial process minus the plain trial's peak RSS (imports
  included: that is what a user pays).

``ratios`` comes first (issue 20): ``tracker_run_vs_unmeasured_run`` (lowcarb's Tracker) and
``codecarbon_run_vs_unmeasured_run`` are the unmeasured (plain) run's workload wall time over the
measured run's, round by round, averaged: 1.0 means the tracker costs nothing, 0.99 that the
workload ran 1% slower under it. The plain runs are the
physical limit, measured in the same run, interleaved; ``machine`` gives the CPU, its cores and
the load average before and after.

Usage: ``python benchmarks/overhead.py [--rounds 2] [--work 1.0] [--interval 1.0]``; ``--work``
scales the workload (1.0 is about 20 s on a 2.8 GHz Xeon vCPU).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time

BASE_ITERATIONS = 24_000_000  # about 20 s of SHA-256 over 64 bytes on a 2.8 GHz Xeon vCPU


def workload(iterations: int) -> str:
    digest = b"lowcarb" * 9
    for _ in range(iterations // 1000):
        for _ in range(1000):
            digest = hashlib.sha256(digest).digest()
    return digest.hex()


class _Clock:
    """Wall time and this thread's CPU time around one call."""

    def __init__(self) -> None:
        self.wall_s = 0.0
        self.cpu_s = 0.0

    def __enter__(self) -> _Clock:
        self._w, self._c = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._w
        self.cpu_s = time.thread_time() - self._c


def _make_tracker(mode: str, interval_s: float) -> object:
    if mode == "lowcarb":
        from lowcarb import Tracker

        return Tracker("overhead", zone="DE", sample_interval_s=interval_s, environ={})
    import logging

    from codecarbon import OfflineEmissionsTracker

    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    return OfflineEmissionsTracker(
        country_iso_code="DEU",
        measure_power_secs=interval_s,
        save_to_file=False,
        log_level="error",
    )


def trial(mode: str, iterations: int, interval_s: float) -> dict[str, float]:
    """Run one trial in this process and return its figures.

    The tracker's CPU is split into one-time costs on the caller's thread (constructor, start(),
    stop()) and the background CPU of its other threads while the workload runs: the process's
    CPU time minus the workload thread's own.
    """
    if mode != "plain":  # import first: import cost shows in RSS, not in the timings
        __import__("lowcarb" if mode == "lowcarb" else "codecarbon")
    init, start, stop = _Clock(), _Clock(), _Clock()
    tracker: object = None
    if mode != "plain":
        with init:
            tracker = _make_tracker(mode, interval_s)
        with start:
            tracker.start()  # type: ignore[attr-defined]
    process0, thread0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
    workload(iterations)
    wall_s = time.perf_counter() - w0
    background_cpu_s = (time.process_time() - process0) - (time.thread_time() - thread0)
    if tracker is not None:
        with stop:
            tracker.stop()  # type: ignore[attr-defined]
    return {
        "wall_s": wall_s,
        "init_s": init.wall_s,
        "start_s": start.wall_s,
        "stop_s": stop.wall_s,
        "one_time_cpu_s": init.cpu_s + start.cpu_s + stop.cpu_s,
        "background_cpu_s": max(0.0, background_cpu_s),
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--work", type=float, default=1.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--trial", help=argparse.SUPPRESS)
    args = parser.parse_args()
    iterations = int(BASE_ITERATIONS * args.work)
    if args.trial:
        print(json.dumps(trial(args.trial, iterations, args.interval)))
        return
    load_before = [round(x, 2) for x in os.getloadavg()]
    modes = ("plain", "lowcarb", "codecarbon")
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--trial",
                    mode,
                    "--work",
                    str(args.work),
                    "--interval",
                    str(args.interval),
                ],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            results[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    plain = results["plain"]
    plain_wall = [r["wall_s"] for r in plain]
    ratios = {
        f"{name}_run_vs_unmeasured_run": round(
            statistics.mean(
                p / r["wall_s"] for p, r in zip(plain_wall, results[mode], strict=True)
            ),
            4,
        )
        for name, mode in (("tracker", "lowcarb"), ("codecarbon", "codecarbon"))
    }
    plain_rss_mb = statistics.median(r["peak_rss_kb"] for r in plain) / 1024
    summary: dict[str, object] = {
        "benchmark": "overhead",
        "ratios": ratios,
        "workload": f"sha256 chain, {iterations} iterations",
        "rounds": args.rounds,
        "sample_interval_s": args.interval,
        "plain_wall_s": [round(w, 3) for w in plain_wall],
        "plain_wall_cv": round(statistics.pstdev(plain_wall) / statistics.mean(plain_wall), 4),
        "plain_peak_rss_mb": round(plain_rss_mb, 1),
    }
    for mode in ("lowcarb", "codecarbon"):
        runs = results[mode]
        walls = [r["wall_s"] for r in runs]
        ratio = statistics.mean(w / p for w, p in zip(walls, plain_wall, strict=True))
        bg_s = statistics.median(r["background_cpu_s"] for r in runs)

        def median_ms(key: str, runs: list[dict[str, float]] = runs) -> float:
            return round(1000 * statistics.median(r[key] for r in runs), 2)

        summary[mode] = {
            "wall_ratio": round(ratio, 4),
            "wall_s": [round(w, 3) for w in walls],
            "init_ms": median_ms("init_s"),
            "start_ms": median_ms("start_s"),
            "stop_ms": median_ms("stop_s"),
            "one_time_cpu_ms": median_ms("one_time_cpu_s"),
            "tracker_cpu_s": round(bg_s, 4),
            "tracker_cpu_pct_of_one_core": round(100 * bg_s / statistics.mean(walls), 4),
            "rss_increase_mb": round(
                statistics.median(r["peak_rss_kb"] for r in runs) / 1024 - plain_rss_mb, 1
            ),
        }
    summary["targets"] = {
        "start_ms": "< 20",
        "tracker_cpu_pct_of_one_core": "< 0.1",
        "rss_increase_mb": "< 15",
        "wall_ratio": "within noise of 1.00",
    }
    summary["machine"] = {
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
