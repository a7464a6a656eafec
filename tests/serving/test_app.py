"""The inference app on a real ONNX model: predictions, energy, metrics, and every bad input."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.exceptions import StarletteDeprecationWarning

import lowcarb.serving as serving
from lowcarb.energy import FakeMeter
from lowcarb.errors import LowcarbError
from lowcarb.profiling import load_model
from lowcarb.serving import (
    METRIC_NAMES,
    NoEnergy,
    ServeConfig,
    ServedModel,
    TrackerEnergy,
    create_app,
    load_served_model,
)

with warnings.catch_warnings():  # starlette 1.x prefers httpx2 for its TestClient; httpx works
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def _client(model: ServedModel, energy: Any = None, **config: Any) -> TestClient:
    app = create_app(model, config=ServeConfig(**config), energy=energy)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def served(iris_onnx: Path) -> ServedModel:
    return load_served_model(iris_onnx)


@pytest.fixture
def client(served: ServedModel) -> Iterator[TestClient]:
    energy = TrackerEnergy(
        zone="FR", environ={}, meters=[FakeMeter(power_w={"cpu": 50.0}, method="estimated")]
    )
    with _client(served, energy, batch_wait_ms=1.0) as c:
        yield c


def _samples(text: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append(s)
    return out


def test_exports() -> None:
    assert sorted(serving.__all__) == sorted(
        n for n in dir(serving) if not n.startswith("_") and n not in {"annotations"}
    )


def test_predictions_equal_the_models(
    client: TestClient, iris_onnx: Path, iris_rows: list[list[float]]
) -> None:
    model, _ = load_model(iris_onnx)
    r = client.post("/predict", json={"rows": iris_rows})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["predictions"] == model.predict(np.asarray(iris_rows)).tolist()
    assert body["model"] == "iris"
    assert body["energy_j"] > 0
    assert body["energy_method"] == "estimated"  # as the FakeMeter says
    assert body["co2e_g"] > 0
    assert body["intensity_source"]
    assert float(r.headers["X-Lowcarb-Energy-J"]) == pytest.approx(body["energy_j"])
    assert r.headers["X-Lowcarb-Energy-Method"] == "estimated"
    named = client.post("/models/iris/predict", json={"rows": iris_rows[:2]})
    assert named.json()["predictions"] == body["predictions"][:2]
    assert client.post("/predict?model=iris", json={"rows": iris_rows[:1]}).status_code == 200


def test_concurrent_requests_are_batched_and_get_their_slice(
    served: ServedModel, iris_rows: list[list[float]]
) -> None:
    calls: list[int] = []

    class Counting:
        n_features_in_ = 4

        def predict(self, x: Any) -> Any:
            calls.append(len(x))
            return served.model.predict(x)

    model = ServedModel.wrap(Counting(), name="iris")
    expected = served.model.predict(np.asarray(iris_rows)).tolist()
    with _client(model, None, batch_wait_ms=200.0, max_batch=64) as c:
        with ThreadPoolExecutor(8) as pool:
            results = list(
                pool.map(lambda i: c.post("/predict", json={"rows": [iris_rows[i]]}), range(8))
            )
    assert [r.json()["predictions"] for r in results] == [[expected[i]] for i in range(8)]
    assert sum(calls) == 8 and len(calls) < 8  # gathered into fewer predict calls
    assert all(r.json()["energy_method"] == "none" for r in results)


def test_probes_and_openapi(served: ServedModel) -> None:
    app = create_app(served, config=ServeConfig())
    c = TestClient(app)
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/readyz").status_code == 503  # not started: no lifespan yet
    with c:
        assert c.get("/readyz").json() == {"status": "ready", "model": "iris"}
        app.state.lowcarb.draining = True
        assert c.get("/readyz").status_code == 503
        assert c.get("/readyz").json() == {"status": "draining"}
        paths = c.get("/openapi.json").json()["paths"]
        assert {"/predict", "/models/{name}/predict", "/healthz", "/readyz"} <= set(paths)


def test_metrics_have_the_contract_names_and_labels(
    client: TestClient, iris_rows: list[list[float]]
) -> None:
    client.post("/predict", json={"rows": iris_rows[:3]})
    client.post("/predict", json={"rows": [[1.0]]})
    r = client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    # prometheus_client's parser strips _total from counter family names
    for name in METRIC_NAMES:
        assert name.removesuffix("_total") in families, name
    s = _samples(r.text)
    energy = s["lowcarb_energy_joules_total"][0]
    assert energy.labels == {"model": "iris", "stage": "model", "method": "estimated"}
    assert energy.value > 0
    assert s["lowcarb_co2e_grams_total"][0].labels == {"model": "iris", "stage": "model"}
    codes = {x.labels["code"]: x.value for x in s["lowcarb_requests_total"]}
    assert codes == {"200": 1.0, "422": 1.0}
    assert s["lowcarb_inferences_total"][0].value == 3
    assert s["lowcarb_inferences_total"][0].labels == {"model": "iris", "stage": "model"}
    assert "lowcarb_escalations_total" not in s  # the family, without series: one stage
    count = [x for x in s["lowcarb_request_energy_joules_count"] if x.labels == {"model": "iris"}]
    assert count[0].value == 1
    assert s["lowcarb_request_duration_seconds_count"][0].value == 2
    gauge = s["lowcarb_grid_intensity_grams_per_kwh"][0]
    assert gauge.labels["zone"] == "FR" and gauge.labels["source"] and gauge.value > 0
    point = s["lowcarb_cascade_operating_point"][0]
    assert point.labels == {"model": "iris", "point": "default"} and point.value == 1


def test_many_apps_in_one_process(served: ServedModel) -> None:
    a = create_app(served, config=ServeConfig())
    b = create_app(served, config=ServeConfig())
    assert a.state.lowcarb.metrics.registry is not b.state.lowcarb.metrics.registry


def test_promtool_accepts_the_metrics(client: TestClient, iris_rows: list[list[float]]) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("LOWCARB_REQUIRE_PROMETHEUS") == "1":
            pytest.fail("promtool is not on PATH but LOWCARB_REQUIRE_PROMETHEUS=1")
        pytest.skip("promtool (Prometheus) is not on PATH; CI installs it")
    client.post("/predict", json={"rows": iris_rows[:2]})
    text = client.get("/metrics").text
    done = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


BAD: list[tuple[str, Any, int, str]] = [
    ("wrong width", {"rows": [[1.0, 2.0, 3.0]]}, 422, "feature_count"),
    ("ragged", {"rows": [[1.0, 2.0, 3.0, 4.0], [1.0]]}, 422, "feature_count"),
    ("string", {"rows": [["1", 2.0, 3.0, 4.0]]}, 422, "float_type"),
    ("bool", {"rows": [[True, 2.0, 3.0, 4.0]]}, 422, "float_type"),
    ("null", {"rows": [[None, 2.0, 3.0, 4.0]]}, 422, "float_type"),
    ("empty rows", {"rows": []}, 422, "too_short"),
    ("no rows key", {"data": [[1.0]]}, 422, "missing"),
    ("rows not a list", {"rows": 3}, 422, "list_type"),
    ("too many rows", {"rows": [[1.0, 2.0, 3.0, 4.0]] * 11}, 422, "too_many_rows"),
]


@pytest.mark.parametrize(("case", "body", "status", "kind"), BAD, ids=[b[0] for b in BAD])
def test_bad_bodies_get_a_4xx_naming_the_field(
    served: ServedModel, case: str, body: Any, status: int, kind: str
) -> None:
    with _client(served, max_rows=10) as c:
        r = c.post("/predict", json=body)
        assert r.status_code == status, r.text
        detail = r.json()["detail"]
        assert detail[0]["type"] == kind and detail[0]["loc"][0] == "body", detail
        ok = c.post("/predict", json={"rows": [[5.1, 3.5, 1.4, 0.2]]})
        assert ok.status_code == 200  # the app still serves


@pytest.mark.parametrize("raw", [b'{"rows": [[NaN, 1, 2, 3]]}', b'{"rows": [[1e999, 1, 2, 3]]}'])
def test_nan_and_infinity_are_refused(served: ServedModel, raw: bytes) -> None:
    with _client(served) as c:
        r = c.post("/predict", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422
        assert r.json()["detail"][0]["type"] == "finite_number"
        assert r.json()["detail"][0]["loc"] == ["body", "rows", 0, 0]


@pytest.mark.parametrize("value", [1e308, -3.5e38])
def test_values_beyond_float32_are_refused_not_predicted_as_null(
    served: ServedModel, value: float
) -> None:
    with _client(served) as c:
        r = c.post("/predict", json={"rows": [[5.1, 3.5, 1.4, 0.2], [1.0, value, 1.0, 1.0]]})
        assert r.status_code == 422, r.text
        detail = r.json()["detail"][0]
        assert detail["type"] == "value_out_of_range" and detail["loc"] == ["body", "rows", 1]
        edge = float(np.finfo(np.float32).max)
        assert c.post("/predict", json={"rows": [[edge, 1, 1, 1]]}).status_code == 200


def test_the_intensity_gauge_follows_the_hour_priced(
    served: ServedModel, iris_rows: list[list[float]]
) -> None:
    now = [datetime(2022, 6, 1, 3, tzinfo=UTC)]
    energy = TrackerEnergy(
        zone="DE",
        environ={},
        meters=[FakeMeter(power_w={"cpu": 50.0}, method="estimated")],
        clock=lambda: now[0],
    )

    def gauge(c: TestClient) -> list[Any]:
        return _samples(c.get("/metrics").text)["lowcarb_grid_intensity_grams_per_kwh"]

    with _client(served, energy) as c:
        first = c.post("/predict", json={"rows": iris_rows[:1]}).json()["intensity_g_per_kwh"]
        assert [g.value for g in gauge(c)] == [first]
        seen = {first}
        for hour in (9, 13, 19):  # the shipped profile of DE moves over a day
            now[0] = now[0].replace(hour=hour)
            priced = c.post("/predict", json={"rows": iris_rows[:1]}).json()
            (sample,) = gauge(c)  # one series: the intensity in use, not a stale one beside it
            assert sample.value == priced["intensity_g_per_kwh"]
            seen.add(sample.value)
        assert len(seen) > 1


def test_energy_headers_can_be_left_out(served: ServedModel, iris_rows: list[list[float]]) -> None:
    energy = TrackerEnergy(
        zone="FR", environ={}, meters=[FakeMeter(power_w={"cpu": 50.0}, method="estimated")]
    )
    with _client(served, energy, energy_headers=False) as c:
        r = c.post("/predict", json={"rows": iris_rows[:2]})
    assert r.status_code == 200 and r.json()["energy_j"] > 0
    assert not any(h.lower().startswith("x-lowcarb-energy") for h in r.headers)


def test_concurrent_requests_share_their_batch_energy_by_rows(
    served: ServedModel, iris_rows: list[list[float]]
) -> None:
    energy = TrackerEnergy(
        zone="FR", environ={}, meters=[FakeMeter(power_w={"cpu": 50.0}, method="estimated")]
    )
    sizes = [1, 2, 3, 4] * 2
    with _client(served, energy, batch_wait_ms=300.0, max_batch=64) as c:
        with ThreadPoolExecutor(len(sizes)) as pool:
            results = list(
                pool.map(lambda n: c.post("/predict", json={"rows": iris_rows[:n]}), sizes)
            )
        metrics = _samples(c.get("/metrics").text)
    bodies = [r.json() for r in results]
    per_row = {round(b["energy_j"] / n, 12) for b, n in zip(bodies, sizes, strict=True)}
    # Requests of one batch pay the same per row; a few batches give a few per-row prices.
    assert len(per_row) < len(sizes)
    total = sum(b["energy_j"] for b in bodies)
    (counted,) = metrics["lowcarb_energy_joules_total"]
    assert counted.value == pytest.approx(total, rel=1e-9)  # split, not copied


def test_malformed_json_and_body_limits(served: ServedModel) -> None:
    with _client(served, max_body_bytes=200) as c:
        h = {"content-type": "application/json"}
        r = c.post("/predict", content=b'{"rows": [[1, 2,', headers=h)
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
        big = b'{"rows": [' + b",".join([b"[1.0, 2.0, 3.0, 4.0]"] * 20) + b"]}"
        r = c.post("/predict", content=big, headers=h)
        assert r.status_code == 413 and "200 bytes" in r.json()["detail"][0]["msg"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
            yield from (big[i : i + 50] for i in range(0, len(big), 50))

        r = c.post("/predict", content=chunks(), headers=h)
        assert r.status_code == 413, r.text
        assert r.json()["detail"][0]["type"] == "body_too_large"  # the same shape as above
        assert "200 bytes" in r.json()["detail"][0]["msg"]
        assert c.post("/predict", json={"rows": [[5.1, 3.5, 1.4, 0.2]]}).status_code == 200


@pytest.mark.parametrize(
    "kind", [None, "application/x-www-form-urlencoded", "text/plain; charset=utf-8"]
)
def test_a_body_not_sent_as_json_is_415_naming_the_fix(
    served: ServedModel, kind: str | None
) -> None:
    headers = {} if kind is None else {"content-type": kind}
    with _client(served) as c:
        r = c.post("/predict", content=b'{"rows": [[5.1, 3.5, 1.4, 0.2]]}', headers=headers)
        assert r.status_code == 415, r.text
        detail = r.json()["detail"][0]
        assert detail["type"] == "unsupported_media_type" and "application/json" in detail["msg"]
        ok = {"content-type": "application/json; charset=utf-8"}
        r = c.post("/predict", content=b'{"rows": [[5.1, 3.5, 1.4, 0.2]]}', headers=ok)
        assert r.status_code == 200, r.text


def test_unknown_model_is_404(client: TestClient) -> None:
    for url in ("/predict?model=other", "/models/other/predict"):
        r = client.post(url, json={"rows": [[5.1, 3.5, 1.4, 0.2]]})
        assert r.status_code == 404
        assert (
            "'other'" in r.json()["detail"][0]["msg"] and "'iris'" in r.json()["detail"][0]["msg"]
        )


def test_a_model_that_raises_is_a_500_and_the_server_goes_on(iris_rows: list[list[float]]) -> None:
    class Picky:
        n_features_in_ = 4

        def predict(self, x: Any) -> Any:
            if (np.asarray(x) < 0).any():
                raise ValueError("negative measurement")
            return np.zeros(len(x))

    with _client(ServedModel.wrap(Picky(), name="picky"), batch_wait_ms=100.0) as c:
        with ThreadPoolExecutor(2) as pool:
            bad, good = pool.map(
                lambda rows: c.post("/predict", json={"rows": rows}),
                [[[-1.0, 0.0, 0.0, 0.0]], iris_rows[:2]],
            )
        assert bad.status_code == 500 and "negative measurement" in bad.json()["detail"]
        assert good.status_code == 200 and good.json()["predictions"] == [0.0, 0.0]


def test_unloadable_model_file_raises_a_lowcarb_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph")
    with pytest.raises(LowcarbError):
        load_served_model(bad)
    with pytest.raises(LowcarbError, match="allow-pickle"):
        load_served_model(tmp_path / "m.pkl")


def test_no_metering_reports_none() -> None:
    assert NoEnergy().read() == (0.0, "none")
    assert math.isfinite(ServeConfig().batch_wait_ms)
    with pytest.raises(ValueError, match="max_batch"):
        ServeConfig(max_batch=0)


def test_feature_log_holds_each_answered_request(
    served: ServedModel, iris_rows: list[list[float]], tmp_path: Path
) -> None:
    path = tmp_path / "features.jsonl"
    path.write_text('{"earlier": "lines are kept"}\n')
    times = iter(datetime(2026, 12, 4, 14, 0, s, 500, tzinfo=UTC) for s in range(10))
    app = create_app(
        served, config=ServeConfig(feature_log=path), energy=None, clock=lambda: next(times)
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        first = c.post("/predict", json={"rows": iris_rows[:2]}).json()
        assert c.post("/predict", json={"rows": [[1.0, 2.0]]}).status_code == 422  # not logged
        second = c.post("/predict", json={"rows": iris_rows[2:3]}).json()
    lines = path.read_text().splitlines()
    assert lines[0] == '{"earlier": "lines are kept"}'
    logged = [json.loads(line) for line in lines[1:]]
    assert logged == [
        {
            "time": "2026-12-04T14:00:00.000500Z",
            "model": "iris",
            "rows": iris_rows[:2],
            "predictions": first["predictions"],
            "probabilities": None,
        },
        {
            "time": "2026-12-04T14:00:01.000500Z",
            "model": "iris",
            "rows": iris_rows[2:3],
            "predictions": second["predictions"],
            "probabilities": None,
        },
    ]
