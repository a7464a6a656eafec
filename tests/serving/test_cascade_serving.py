"""Serving a cascade file: stage labels, escalations, the operating point in use."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.exceptions import StarletteDeprecationWarning

from lowcarb.energy import FakeMeter
from lowcarb.errors import LowcarbError
from lowcarb.serving import ServeConfig, TrackerEnergy, create_app, load_served_model

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def _families(text: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append(s)
    return out


def test_cascade_predictions_stages_and_metrics(digits_cascade: tuple[Path, Any]) -> None:
    path, x = digits_cascade
    served = load_served_model(path)
    assert served.stages == ("small", "large") and served.point == "fitted"
    routed = served.model.predict(x)
    energy = TrackerEnergy(zone="DE", environ={}, meters=[FakeMeter(power_w={"cpu": 40.0})])
    app = create_app(served, config=ServeConfig(), energy=energy)
    with TestClient(app) as c:
        r = c.post("/predict", json={"rows": x.tolist()})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["predictions"] == routed.predictions.tolist()
        assert body["stages"] == [served.stages[k] for k in routed.stages]
        assert body["operating_point"] == "fitted" and body["energy_method"] == "measured"
        s = _families(c.get("/metrics").text)
    answered = np.bincount(routed.stages, minlength=2)
    assert 0 < answered[1] < len(x)  # some rows escalated, some did not
    rows = {x.labels["stage"]: x.value for x in s["lowcarb_inferences_total"]}
    assert rows == {"small": answered[0], "large": answered[1]}
    (esc,) = s["lowcarb_escalations_total"]
    assert esc.labels == {"model": "digits", "from_stage": "small", "to_stage": "large"}
    assert esc.value == answered[1]
    energy_by_stage = {x.labels["stage"]: x.value for x in s["lowcarb_energy_joules_total"]}
    assert set(energy_by_stage) == {"small", "large"} and all(energy_by_stage.values())
    assert sum(energy_by_stage.values()) == pytest.approx(body["energy_j"])
    (req,) = s["lowcarb_requests_total"]
    assert req.labels == {"model": "digits", "stage": "large", "code": "200"}
    points = {x.labels["point"]: x.value for x in s["lowcarb_cascade_operating_point"]}
    assert points["fitted"] == 1 and sum(points.values()) == 1 and len(points) > 1


def test_cascade_point_by_name_and_unknown_point(digits_cascade: tuple[Path, Any]) -> None:
    path, _ = digits_cascade
    assert load_served_model(path, point="loss-5pt").point == "loss-5pt"
    with pytest.raises(LowcarbError, match="nope"):
        load_served_model(path, point="nope")


class _Dirty(TrackerEnergy):
    """The grid reads as dirty: 700 g/kWh."""

    def intensity(self) -> Any:
        from lowcarb.grid import Intensity

        return Intensity("DE", 700.0, "test:dirty")


def test_a_dirty_grid_moves_the_cascade_to_a_cheaper_point_above_the_floor(
    digits_cascade: tuple[Path, Any],
) -> None:
    path, x = digits_cascade
    served = load_served_model(path)
    floor = min(p.accuracy for p in served.model.points)
    cheapest = min(
        (p for p in served.model.points if p.accuracy >= floor), key=lambda p: p.energy_per_1k_j
    )
    energy = _Dirty(zone="DE", environ={}, meters=[FakeMeter(power_w={"cpu": 40.0})])
    config = ServeConfig(dirty_above_g_per_kwh=300.0, accuracy_floor=floor)
    app = create_app(served, config=config, energy=energy)
    with TestClient(app) as c:
        body = c.post("/predict", json={"rows": x.tolist()}).json()
        s = _families(c.get("/metrics").text)
    assert body["operating_point"] == cheapest.name != "fitted"
    routed = served.model.predict(x, point=cheapest.name)
    assert body["predictions"] == routed.predictions.tolist()
    gauge = {p.labels["point"]: p.value for p in s["lowcarb_cascade_operating_point"]}
    assert gauge[cheapest.name] == 1 and gauge["fitted"] == 0
