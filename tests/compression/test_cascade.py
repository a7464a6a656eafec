"""Cascades: fitted thresholds, carbon-aware points, the cascade file, the cascade profile."""

from __future__ import annotations

import itertools
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lowcarb.compression._cascade import Cascade, OperatingPoint
from lowcarb.compression._cascade_file import load_cascade, save_cascade
from lowcarb.compression._cascade_fit import fit_cascade, measure_stage_energy, simulate
from lowcarb.compression._cascade_profile import cascade_profile
from lowcarb.energy import FakeMeter
from lowcarb.errors import DataError, InvalidValueError, UsageError
from lowcarb.profiling import ProfileSettings, profile_from_dict

ENERGY = (1.0, 20.0)  # J per 1k requests: small, large


@dataclass
class Setup:
    root: Path
    small: Any
    large: Any
    x_val: Any
    y_val: Any
    x_test: Any
    y_test: Any

    @property
    def models(self) -> list[tuple[Path, Any]]:
        return [(self.root / "small.skops", self.small), (self.root / "large.skops", self.large)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    import skops.io as sio
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    root = tmp_path_factory.mktemp("cascade")
    x, y = load_digits(return_X_y=True)
    x_train, x_rest, y_train, y_rest = train_test_split(x / 16.0, y, test_size=0.4, random_state=0)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=0.5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small = LogisticRegression(max_iter=100).fit(x_train, y_train)
        large = MLPClassifier((64,), max_iter=100, random_state=0).fit(x_train, y_train)
    sio.dump(small, root / "small.skops")
    sio.dump(large, root / "large.skops")
    return Setup(root, small, large, x_val, y_val, x_test, y_test)


@pytest.fixture(scope="module")
def cascade(setup: Setup) -> Cascade:
    return fit_cascade(
        setup.models, setup.x_val, setup.y_val, max_accuracy_loss_pts=0.5, energy_per_1k_j=ENERGY
    )


def test_fitted_point_keeps_accuracy_and_saves_energy(setup: Setup, cascade: Cascade) -> None:
    fitted = cascade.fitted
    largest = float(np.mean(setup.large.predict(setup.x_val) == setup.y_val))
    assert cascade.fitted_on.largest_accuracy == pytest.approx(largest)
    assert all(0.0 <= t <= 1.0 for t in fitted.thresholds)
    assert fitted.accuracy >= largest - 0.005
    assert fitted.energy_per_1k_j < ENERGY[1]  # cheaper than the large model alone
    assert sum(fitted.share_per_stage) == pytest.approx(1.0)
    # The figures recorded are the ones the router gives on the same rows.
    routed = cascade.predict(setup.x_val)
    assert np.mean(routed.predictions == setup.y_val) == pytest.approx(fitted.accuracy)
    shares = np.bincount(routed.stages, minlength=2) / len(setup.y_val)
    assert tuple(shares) == pytest.approx(fitted.share_per_stage)


def test_cheaper_points_lose_more_and_cost_less(cascade: Cascade) -> None:
    names = [p.name for p in cascade.points]
    assert names == ["fitted", "loss-1pt", "loss-2pt", "loss-5pt"]
    largest = cascade.fitted_on.largest_accuracy
    for p in cascade.points:
        assert p.accuracy >= largest - p.max_accuracy_loss_pts / 100 - 1e-12
        assert p.energy_per_1k_j <= cascade.fitted.energy_per_1k_j


def test_dirty_grid_moves_to_a_cheaper_point_never_below_the_floor(cascade: Cascade) -> None:
    clean = cascade.select_point(100.0, dirty_above_g_per_kwh=300.0, accuracy_floor=0.9)
    assert clean.point.name == "fitted" and not clean.dirty and "not above 300" in clean.reason
    floor = cascade.fitted.accuracy - 0.015
    dirty = cascade.select_point(500.0, dirty_above_g_per_kwh=300.0, accuracy_floor=floor)
    assert dirty.dirty and dirty.point.accuracy >= floor
    assert dirty.point.energy_per_1k_j <= cascade.fitted.energy_per_1k_j
    assert dirty.point.energy_per_1k_j == min(
        p.energy_per_1k_j for p in cascade.points if p.accuracy >= floor
    )
    assert "500 g/kWh is above 300" in dirty.reason
    # A floor at the fitted accuracy keeps the fitted point (or one as accurate) even when dirty.
    at_fitted = cascade.fitted.accuracy
    strict = cascade.select_point(900.0, dirty_above_g_per_kwh=300.0, accuracy_floor=at_fitted)
    assert strict.point.accuracy >= at_fitted
    unknown = cascade.select_point(None, dirty_above_g_per_kwh=300.0)
    assert unknown.point.name == "fitted" and "unknown" in unknown.reason


def test_a_floor_no_point_reaches_is_refused(cascade: Cascade) -> None:
    best = max(p.accuracy for p in cascade.points)
    if best < 1.0:
        with pytest.raises(InvalidValueError, match="above every operating point"):
            cascade.select_point(500.0, dirty_above_g_per_kwh=300.0, accuracy_floor=1.0)
    with pytest.raises(InvalidValueError, match=r"outside 0\.\.1"):
        cascade.select_point(500.0, dirty_above_g_per_kwh=300.0, accuracy_floor=1.5)
    with pytest.raises(InvalidValueError, match="-1"):
        cascade.select_point(-1.0, dirty_above_g_per_kwh=300.0)


def test_simulate_counts_escalations() -> None:
    conf = np.array([[0.9, 0.99], [0.4, 0.8], [0.6, 0.7], [0.2, 0.9]])
    correct = np.array([[True, True], [False, True], [False, False], [True, True]])
    acc, energy, shares = simulate(conf, correct, [0.5], [2.0, 10.0])
    assert shares == (0.5, 0.5)  # rows 0 and 2 answered by the small model
    assert acc == 0.75  # row 0 right, row 1 right (escalated), row 2 wrong, row 3 right
    assert energy == pytest.approx(2.0 + 0.5 * 10.0)  # everyone pays stage 1, half pay stage 2
    assert simulate(conf, correct, [1.0], [2.0, 10.0])[2] == (0.0, 1.0)
    assert simulate(conf, correct, [0.0], [2.0, 10.0])[2] == (1.0, 0.0)


def test_batched_routing_matches_one_request_at_a_time(setup: Setup, cascade: Cascade) -> None:
    rows = setup.x_test[:40]
    batched = cascade.predict(rows)
    single = [cascade.predict(rows[i : i + 1], clock=_ticks_ms()) for i in range(len(rows))]
    assert list(batched.predictions) == [r.predictions[0] for r in single]
    assert list(batched.stages) == [r.stages[0] for r in single]
    # The router times its own work at each stage it consults (a clock that ticks 1 ms a read
    # counts one tick per stage), not the stage models' predictions.
    assert [r.router_s for r in single] == pytest.approx(
        [(int(r.stages[0]) + 1) * 1e-3 for r in single]
    )


def _ticks_ms() -> Callable[[], float]:
    reads = itertools.count()
    return lambda: next(reads) * 1e-3


def test_file_round_trip_with_relative_paths(setup: Setup, cascade: Cascade) -> None:
    path = setup.root / "cascade.json"
    save_cascade(path, cascade)
    data = json.loads(path.read_text())
    assert data["version"] == 1
    assert [m["path"] for m in data["models"]] == ["small.skops", "large.skops"]
    assert data["thresholds"] == list(cascade.fitted.thresholds)
    assert data["fitted_on"]["max_accuracy_loss_pts"] == 0.5
    loaded = load_cascade(path)
    assert loaded.points == cascade.points
    assert [s.sha256 for s in loaded.stages] == [s.sha256 for s in cascade.stages]
    assert np.array_equal(
        loaded.predict(setup.x_test).predictions, cascade.predict(setup.x_test).predictions
    )


def _copy_cascade(setup: Setup, cascade: Cascade, tmp_path: Path) -> Path:
    for name in ("small.skops", "large.skops"):
        (tmp_path / name).write_bytes((setup.root / name).read_bytes())
    path = tmp_path / "cascade.json"
    save_cascade(path, cascade)
    data = json.loads(path.read_text())
    for m in data["models"]:  # point at the copies
        m["path"] = Path(m["path"]).name
    path.write_text(json.dumps(data))
    return path


def test_a_changed_or_missing_model_is_refused(
    setup: Setup, cascade: Cascade, tmp_path: Path
) -> None:
    path = _copy_cascade(setup, cascade, tmp_path)
    load_cascade(path)
    (tmp_path / "large.skops").write_bytes((tmp_path / "large.skops").read_bytes() + b"\0")
    with pytest.raises(UsageError, match=r"cascade\.json.*large\.skops.*has changed") as info:
        load_cascade(path)
    assert "\n" not in str(info.value)
    (tmp_path / "large.skops").unlink()
    with pytest.raises(UsageError, match=r"cascade\.json.*large\.skops") as info:
        load_cascade(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [
        (lambda d: d.update(thresholds=[1.5]), InvalidValueError, r"threshold 1\.5 is outside"),
        (
            lambda d: d["operating_points"][1].update(thresholds=[-0.1]),
            InvalidValueError,
            r"threshold -0\.1 is outside",
        ),
        (lambda d: d.update(thresholds=[0.5, 0.5]), InvalidValueError, "2 threshold"),
        (lambda d: d.pop("models"), DataError, "missing field 'models'"),
        (lambda d: d.update(version=9), DataError, "version 9"),
    ],
)
def test_bad_cascade_files_are_one_line(
    setup: Setup, cascade: Cascade, tmp_path: Path, edit: Any, error: type, match: str
) -> None:
    path = _copy_cascade(setup, cascade, tmp_path)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(error, match=match) as info:
        load_cascade(path)
    assert "\n" not in str(info.value)


def test_not_json_and_oversized_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json")
    with pytest.raises(DataError):
        load_cascade(path)
    path.write_text(" " * (2 << 20))
    with pytest.raises(DataError, match="limit"):
        load_cascade(path)


def test_wrong_feature_count_is_one_line(setup: Setup, cascade: Cascade) -> None:
    narrow = setup.x_val[:, :10]
    with pytest.raises(DataError, match="10 feature column") as info:
        fit_cascade(
            setup.models, narrow, setup.y_val, max_accuracy_loss_pts=0.5, energy_per_1k_j=ENERGY
        )
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match="cannot predict these rows") as info:
        cascade.predict(narrow)
    with pytest.raises(DataError, match="10 feature column"):
        cascade_profile(cascade, narrow, setup.y_val)


def test_bad_fit_arguments(setup: Setup) -> None:
    with pytest.raises(UsageError, match="at least 2 models"):
        fit_cascade(
            setup.models[:1],
            setup.x_val,
            setup.y_val,
            max_accuracy_loss_pts=0.5,
            energy_per_1k_j=[1.0],
        )
    with pytest.raises(InvalidValueError, match=r"outside 0\.\.100"):
        fit_cascade(
            setup.models, setup.x_val, setup.y_val, max_accuracy_loss_pts=-1, energy_per_1k_j=ENERGY
        )
    with pytest.raises(UsageError, match="one per model"):
        fit_cascade(
            setup.models, setup.x_val, setup.y_val, max_accuracy_loss_pts=0.5, energy_per_1k_j=[1.0]
        )
    odd = setup.small.__class__(max_iter=50).fit(setup.x_val, setup.y_val % 2)
    with pytest.raises(UsageError, match="same labels"):
        fit_cascade(
            [setup.models[0], (setup.root / "small.skops", odd)],
            setup.x_val,
            setup.y_val,
            max_accuracy_loss_pts=0.5,
            energy_per_1k_j=ENERGY,
        )


def test_save_leaves_no_half_written_file(cascade: Cascade, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="directory"):
        save_cascade(tmp_path, cascade)
    with pytest.raises(UsageError, match="does not exist"):
        save_cascade(tmp_path / "missing" / "c.json", cascade)
    assert list(tmp_path.iterdir()) == []


def test_operating_point_with_bad_thresholds_is_refused(cascade: Cascade) -> None:
    bad = OperatingPoint("mine", (1.5,), 0.9, 1.0, (1.0, 0.0), 1.0)
    with pytest.raises(InvalidValueError, match=r"1\.5"):
        cascade.predict(np.zeros((1, 64)), point=bad)
    with pytest.raises(UsageError, match=r"no operating point 'nope'.*fitted"):
        cascade.point("nope")


def test_profile_is_what_the_gate_reads(setup: Setup, cascade: Cascade) -> None:
    settings = ProfileSettings(
        latency_calls=30,
        latency_max_s=0.2,
        energy_min_inferences=50,
        energy_min_duration_s=0.05,
        energy_max_duration_s=0.3,
    )
    choice = cascade.select_point(800.0, dirty_above_g_per_kwh=300.0)
    result = cascade_profile(
        cascade,
        setup.x_test,
        setup.y_test,
        point=choice,
        settings=settings,
        meters=[FakeMeter(power_w={"cpu": 10.0})],
        dataset="digits test",
    )
    profile = profile_from_dict(result.profile.to_dict())  # strict: no unknown field
    assert profile.energy_method == "measured" and profile.energy_per_1k_j > 0
    assert profile.size_bytes == sum(s.size_bytes for s in cascade.stages)
    assert profile.flops is None and 0.9 < profile.accuracy <= 1.0
    assert sum(result.stage_shares) == pytest.approx(1.0)
    assert result.point == choice.point and result.router_p95_ms < 1.0
    out = result.to_dict()
    assert out["reason"] == choice.reason and out["point"] == choice.point.name


def test_stage_energy_is_measured_at_batch_1(setup: Setup) -> None:
    stats = measure_stage_energy(
        setup.small,
        setup.x_val,
        meters=[FakeMeter(power_w={"cpu": 5.0})],
        min_inferences=20,
        min_duration_s=0.05,
        max_duration_s=0.2,
    )
    assert stats.batch_size == 1 and stats.method == "measured" and stats.energy_per_1k_j > 0


def test_a_margin_makes_the_fit_more_careful(setup: Setup) -> None:
    def fit(margin_sd: float) -> Cascade:
        return fit_cascade(
            setup.models,
            setup.x_val,
            setup.y_val,
            max_accuracy_loss_pts=0.5,
            energy_per_1k_j=ENERGY,
            margin_sd=margin_sd,
        )

    plain, careful = fit(0.0), fit(3.0)
    assert careful.fitted.energy_per_1k_j >= plain.fitted.energy_per_1k_j
    assert careful.fitted.share_per_stage[1] >= plain.fitted.share_per_stage[1]
    assert careful.fitted_on.margin_sd == 3.0
    with pytest.raises(InvalidValueError, match="margin_sd"):
        fit(-1.0)


def test_one_row_at_a_time_routes_as_the_batch_does(setup: Setup, cascade: Cascade) -> None:
    for point in cascade.points:
        batch = cascade.predict(setup.x_test, point=point)
        singles = [cascade.predict(setup.x_test[i : i + 1], point=point) for i in range(60)]
        assert [int(r.predictions[0]) for r in singles] == batch.predictions[:60].tolist()
        assert [int(r.stages[0]) for r in singles] == batch.stages[:60].tolist()
        assert all(r.router_s >= 0 for r in singles)


def test_a_cascade_of_real_models_with_measured_energy_keeps_its_limit_on_held_out_rows(
    tmp_path: Path,
) -> None:
    """Logistic regression in front of a 100-tree forest on digits (stratified 50/25/25, fixed
    seeds), each stage's energy measured at batch 1, not assumed. With two stages the thresholds
    depend on the energies only through their order (the cheapest point answers the most rows
    early), so the figures are fixed by the seeds: on the held-out rows the fitted cascade loses
    -0.22 pt against the forest (it gains), inside its 0.5 pt limit. A 450-row validation set
    cannot promise that on every split (other seeds have missed it by a point, which is why the
    fit adds a margin); this one is pinned."""
    import skops.io as sio
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.5, random_state=0, stratify=y
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=0, stratify=y_rest
    )
    small = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    large = RandomForestClassifier(n_estimators=100, random_state=0).fit(x_train, y_train)
    models = []
    for name, model in (("small", small), ("large", large)):
        sio.dump(model, tmp_path / f"{name}.skops")
        models.append((tmp_path / f"{name}.skops", model))
    stats = [
        measure_stage_energy(
            m, x_val, environ={}, min_inferences=30, min_duration_s=0.2, max_duration_s=3.0
        )
        for _, m in models
    ]
    energies = [s.energy_per_1k_j for s in stats]
    assert all(s.method in ("measured", "estimated") and s.inferences > 0 for s in stats)
    assert 0 < energies[0] < energies[1]  # a forest of 100 trees costs more per request
    limit = 0.5
    cascade = fit_cascade(
        models, x_val, y_val, max_accuracy_loss_pts=limit, energy_per_1k_j=energies,
        energy_method=[s.method for s in stats],
    )  # fmt: skip
    fitted = cascade.fitted
    assert fitted.energy_per_1k_j < energies[1]  # cheaper than the forest alone, as fitted
    assert fitted.share_per_stage[0] > 0.5  # most requests stop at the small model
    routed = cascade.predict(x_test)
    cascade_accuracy = float(np.mean(routed.predictions == y_test))
    large_accuracy = float(np.mean(large.predict(x_test) == y_test))
    assert (large_accuracy - cascade_accuracy) * 100 <= limit
    assert np.mean(routed.stages == 0) > 0.5  # and on held-out rows too
