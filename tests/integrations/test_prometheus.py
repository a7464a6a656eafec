"""A real Prometheus (the ``prometheus`` binary, scraping every second) against the server's metric
names: every dashboard query returns data, with the values the target exposed; and, with the real
``lowcarb serve``, the energy and CO2e Prometheus stored equal the server's own ``/metrics``.

Skipped when ``prometheus`` is not on PATH, unless ``LOWCARB_REQUIRE_PROMETHEUS=1`` (CI).
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from prometheus_client import start_http_server
from prometheus_client.parser import text_string_to_metric_families

from lowcarb.integrations.grafana import dashboard_queries, serving_dashboard
from lowcarb.serving import ServingMetrics

pytestmark = pytest.mark.slow

ENERGY_J_PER_TICK = 0.5
ROWS_PER_TICK = 50
TICK_S = 0.1
INTENSITY_G_PER_KWH = 321.0
_UP = "__name__=up,instance=127.0.0.1:{port},job=lowcarb"


def _prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        if os.environ.get("LOWCARB_REQUIRE_PROMETHEUS") == "1":
            pytest.fail("prometheus is not on PATH and LOWCARB_REQUIRE_PROMETHEUS=1")
        pytest.skip("prometheus is not on PATH (apt-get install prometheus)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.2)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[int], str]]:
    """Start Prometheus scraping ``127.0.0.1:PORT`` every second; returns its base URL."""
    binary = _prometheus_binary()
    procs: list[subprocess.Popen[bytes]] = []

    def start(target_port: int) -> str:
        port = _free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {
                    "job_name": "lowcarb",
                    "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
                }
            ],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        log = (tmp_path / "prometheus.log").open("wb")
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        _wait("Prometheus to be ready", lambda: proc.poll() is None and _ok(f"{base}/-/ready"))
        return base

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _query(base: str, expr: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _values(base: str, expr: str) -> dict[str, float]:
    """``{label text: value}`` of an instant query, NaN dropped."""
    out = {}
    for series in _query(base, expr):
        value = float(series["value"][1])
        if not math.isnan(value):
            out[",".join(f"{k}={v}" for k, v in sorted(series["metric"].items()))] = value
    return out


def test_every_dashboard_query_returns_the_exporters_values(
    prometheus: Callable[[int], str],
) -> None:
    metrics = ServingMetrics()  # the server's own families, in a registry of their own
    port = _free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    stop = threading.Event()

    def tick() -> None:
        # A steady load: 0.5 J, 50 rows and one request of 0.05 J per tick.
        while not stop.is_set():
            metrics.energy_j.labels(model="iris", stage="model", method="measured").inc(
                ENERGY_J_PER_TICK
            )
            metrics.co2e_g.labels(model="iris", stage="model").inc(
                ENERGY_J_PER_TICK / 3.6e6 * INTENSITY_G_PER_KWH
            )
            metrics.inferences.labels(model="iris", stage="model").inc(ROWS_PER_TICK)
            metrics.requests.labels(model="iris", stage="model", code="200").inc()
            metrics.request_energy_j.labels(model="iris").observe(0.05)
            metrics.request_duration_s.labels(model="iris").observe(0.003)
            metrics.escalations.labels(model="iris", from_stage="model", to_stage="model")
            stop.wait(TICK_S)

    metrics.grid_intensity.labels(zone="DE", source="static:test").set(INTENSITY_G_PER_KWH)
    metrics.operating_point.labels(model="iris", point="default").set(1)
    worker = threading.Thread(target=tick, daemon=True)
    worker.start()
    try:
        base = prometheus(port)
        queries = dashboard_queries(serving_dashboard())
        _wait(
            "every dashboard query to return data",
            lambda: all(_values(base, expr) for _, _, expr in queries),
        )

        def only(expr: str) -> float:
            (value,) = _values(base, expr).values()
            return value

        # A [5m] rate over a few seconds of samples is their increase over ~5 minutes, not the
        # load's rate; rates of series scraped together still keep the load's ratios exactly.
        energy_w = only(queries[0][2])
        assert energy_w > 0
        assert only(queries[1][2]) / energy_w == pytest.approx(
            3600 / 3.6e6 * INTENSITY_G_PER_KWH, rel=0.05
        )
        # The p50 and p95 of 0.05 J requests fall in the (0.01, 0.1] bucket.
        assert 0.01 < only(queries[2][2]) <= 0.1 and 0.01 < only(queries[3][2]) <= 0.1
        kwh_per_million = ENERGY_J_PER_TICK / ROWS_PER_TICK * 1e6 / 3.6e6
        assert only(queries[4][2]) == pytest.approx(kwh_per_million, rel=0.05)
        assert only(queries[5][2]) == pytest.approx(1.0)  # one stage answers everything
        assert _values(base, queries[6][2]) == {"source=static:test,zone=DE": INTENSITY_G_PER_KWH}
        assert _values(base, queries[7][2]) == {"model=iris,point=default": 1.0}
        rows_per_s = only('sum(rate(lowcarb_inferences_total{model="iris"}[5m]))')
        assert rows_per_s / only(queries[8][2]) == pytest.approx(ROWS_PER_TICK, rel=0.05)
    finally:
        stop.set()
        worker.join(5)
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def iris_onnx(tmp_path: Path) -> Path:
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x, y)
    path = tmp_path / "iris.onnx"
    path.write_bytes(to_onnx(model, x[:1].astype(np.float32)).SerializeToString())
    return path


def _server_totals(text: str) -> dict[str, float]:
    """Energy and CO2e totals, summed over labels, from the server's own exposition."""
    totals = {"lowcarb_energy_joules_total": 0.0, "lowcarb_co2e_grams_total": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in totals:
                totals[sample.name] += sample.value
    return totals


def test_prometheus_stores_what_the_real_server_reports(
    prometheus: Callable[[int], str], iris_onnx: Path, tmp_path: Path
) -> None:
    port = _free_port()
    env = {**os.environ, "LOWCARB_LEDGER": "", "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "lowcarb", "serve", str(iris_onnx), "--port", str(port)]
    proc = subprocess.Popen(
        [*argv, "--zone", "FR", "--name", "iris"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = f"http://127.0.0.1:{port}"
    try:
        _wait("the server to be ready", lambda: proc.poll() is None and _ok(f"{server}/readyz"))
        base = prometheus(port)
        # Prometheus applies new targets a few seconds after it starts: requests before its first
        # scrape would leave every rate flat.
        _wait(
            "the first scrape",
            lambda: _values(base, 'up{job="lowcarb"}') == {_UP.format(port=port): 1.0},
        )
        rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
        # Requests spread over a few scrapes, so rates and quantiles have two samples to use.
        for _ in range(4):
            for _ in range(10):
                r = httpx.post(f"{server}/predict", json={"rows": rows}, timeout=30)
                assert r.status_code == 200, r.text
            time.sleep(1.0)
        expected = _server_totals(httpx.get(f"{server}/metrics", timeout=10).text)
        assert expected["lowcarb_energy_joules_total"] > 0
        assert expected["lowcarb_co2e_grams_total"] > 0

        def scraped() -> bool:
            got = {name: sum(_values(base, name).values()) for name in expected}
            return all(math.isclose(got[n], expected[n], rel_tol=1e-9) for n in expected)

        _wait("Prometheus to store the server's energy and CO2e totals", scraped, 30)
        assert _values(base, 'sum(lowcarb_requests_total{model="iris",code="200"})') == {"": 40.0}
        assert _values(base, 'sum(lowcarb_inferences_total{model="iris"})') == {"": 80.0}
        for title, ref, expr in dashboard_queries(serving_dashboard()):
            _wait(f"{title} ({ref}) to return data: {expr}", lambda e=expr: bool(_values(base, e)))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


def test_prometheus_shows_the_share_each_cascade_stage_answered(
    prometheus: Callable[[int], str], digits_cascade: tuple[Path, Any], tmp_path: Path
) -> None:
    path, x = digits_cascade
    rows = x.tolist()
    port = _free_port()
    env = {**os.environ, "LOWCARB_LEDGER": "", "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "lowcarb", "serve", str(path), "--port", str(port)]
    proc = subprocess.Popen(
        [*argv, "--zone", "DE"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL
    )
    server = f"http://127.0.0.1:{port}"
    try:
        _wait("the server to be ready", lambda: proc.poll() is None and _ok(f"{server}/readyz"))
        base = prometheus(port)
        _wait(
            "the first scrape",
            lambda: _values(base, 'up{job="lowcarb"}') == {_UP.format(port=port): 1.0},
        )
        stages: list[str] = []
        for _ in range(3):
            for chunk in range(0, len(rows), 10):  # several rows per request, mixed stages
                r = httpx.post(f"{server}/predict", json={"rows": rows[chunk : chunk + 10]})
                assert r.status_code == 200, r.text
                stages += r.json()["stages"]
            time.sleep(1.0)
        answered = {stage: stages.count(stage) for stage in set(stages)}
        assert set(answered) == {"small", "large"}  # some rows escalated, some did not
        queries = {title: expr for title, _, expr in dashboard_queries(serving_dashboard())}
        share_expr = queries["Share of inferences answered by each stage"]

        def shares() -> dict[str, float]:
            return _values(base, share_expr)

        def stored() -> bool:
            rows_now = _values(base, 'sum by (stage) (lowcarb_inferences_total{model="digits"})')
            return rows_now == {f"stage={k}": float(v) for k, v in answered.items()}

        _wait("Prometheus to store the rows answered by each stage", stored, 30)
        _wait("the stage share query to return data", lambda: bool(shares()))
        got = shares()
        # Rates of series scraped together keep the ratio of what each stage answered.
        for stage, count in answered.items():
            assert got[f"model=digits,stage={stage}"] == pytest.approx(
                count / len(stages), abs=0.05
            )
        assert sum(got.values()) == pytest.approx(1.0)
        intensity = _values(base, queries["Grid intensity in use"])
        assert len(intensity) == 1 and next(iter(intensity)).endswith("zone=DE")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
