"""Worker processes that start together on the same new storages (creation races)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

WORKERS = 6


def run_at_once(target: Callable[[str], str], urls: list[str]) -> list[str]:
    """Run ``target(url)`` in :data:`WORKERS` spawned processes, for each url in turn, every
    process starting on it at the same moment (a barrier); what each call returned, or the
    exception it raised as ``"<type>: <message>"``."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    out: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_rounds, args=(target, urls, barrier, out)) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    results = [out.get(timeout=180) for _ in range(WORKERS * len(urls))]
    for p in procs:
        p.join(30)
    return results


def _rounds(target: Callable[[str], str], urls: list[str], barrier: Any, out: Any) -> None:
    for url in urls:  # a round per storage
        barrier.wait(60)
        try:
            out.put(target(url))
        except Exception as exc:  # reported to the test, which fails on it
            out.put(f"{type(exc).__name__}: {exc}")
