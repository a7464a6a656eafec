"""`lowcarb profile`: the profile JSON of DESIGN.md from a real model, training CO2e, bad input."""

from __future__ import annotations

import json
import pickle
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from lowcarb import Tracker
from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.energy import FakeMeter
from lowcarb.governance import REQUIRED_PROFILE_FIELDS, parse_profile

FAST = ["--energy-seconds", "0.2", "--energy-inferences", "50", "--latency-calls", "20"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("profile")
    x, y = load_iris(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0)
    model = LogisticRegression(max_iter=500).fit(x_train, y_train)
    (tmp / "iris.pkl").write_bytes(pickle.dumps(model))
    np.savez(tmp / "test.npz", X=x_test, y=y_test)
    accuracy = float(np.mean(model.predict(x_test) == y_test))
    return {"dir": tmp, "model": tmp / "iris.pkl", "data": tmp / "test.npz", "accuracy": accuracy}


def _run(argv: list[str], environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    code = main(argv, ctx=CliContext(stdout=out, stderr=err, environ=environ or {}))
    return code, out.getvalue(), err.getvalue()


def test_profile_json_is_the_design_md_profile(files: dict[str, Any], tmp_path: Path) -> None:
    output = tmp_path / "profile.json"
    rc, out, err = _run(
        ["profile", "--allow-pickle", "--model", str(files["model"]), "--data", str(files["data"]),
         "--version",
         "4", "--zone", "FR", "--team", "vision", "-o", str(output), "--json", *FAST],
    )  # fmt: skip
    assert rc == 0, err
    data = json.loads(out)
    assert set(REQUIRED_PROFILE_FIELDS) <= set(data)
    assert (data["model"], data["version"], data["team"], data["zone"]) == (
        "iris", "4", "vision", "FR",
    )  # fmt: skip
    assert data["accuracy"] == pytest.approx(files["accuracy"])
    assert data["size_bytes"] == files["model"].stat().st_size
    assert data["flops"] == 2 * 4 * 3 and data["params"] == 4 * 3 + 3
    assert data["energy_method"] in ("measured", "estimated")
    assert data["energy_source"]
    assert data["energy_per_1k_j"] > 0
    assert data["energy_inferences"] >= 50
    assert 0 < data["latency_p50_ms"] <= data["latency_p95_ms"]
    assert data["latency_batch_size"] == 64
    assert data["training_co2e_kg"] is None  # no ledger
    assert json.loads(output.read_text()) == data
    assert parse_profile(output.read_bytes()).label == "iris@4"


def test_training_co2e_comes_from_the_ledger(files: dict[str, Any], tmp_path: Path) -> None:
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    tracker = Tracker("train", zone="DE", ledger=ledger, model="iris", model_version="4",
                      meters=[FakeMeter(power_w={"cpu": 50.0})], environ={})  # fmt: skip
    with tracker:
        pass
    assert tracker.footprint is not None and tracker.record_id is not None
    rc, out, err = _run(
        ["profile", "--allow-pickle", "--model", str(files["model"]), "--data", str(files["data"]),
         "--version",
         "4", "--json", *FAST],
        {"LOWCARB_LEDGER": ledger},
    )  # fmt: skip
    assert rc == 0, err
    data = json.loads(out)
    assert data["training_co2e_kg"] == pytest.approx(tracker.footprint.co2e_g / 1000)
    assert data["training_records"] == 1
    assert data["training_co2e_source"].startswith("ledger:sqlite:///")


def test_rich_output(files: dict[str, Any]) -> None:
    rc, out, _ = _run(
        ["profile", "--allow-pickle", "--model", str(files["model"]), "--data", str(files["data"]),
         "--version",
         "1", *FAST],
    )  # fmt: skip
    assert rc == 0
    assert "efficiency profile of iris@1" in out
    assert "energy_per_1k_j" in out


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"--model": "model.onnx"}, "cannot be read"),  # a missing graph
        ({"--model": "model.h5"}, "unsupported model file"),
        ({"--data": "missing.npz"}, "cannot be read"),
        ({"--ledger": "sqlite:///{dir}/absent.db"}, "no ledger at"),
        ({"--ledger": "postgres://u@127.0.0.1/db"}, "postgresql+psycopg://"),
        ({"--output": "{dir}/missing/profile.json"}, "does not exist"),
        ({"--output": "{dir}"}, "is a directory"),
        ({"--name": "a\x1b[31mb"}, "control characters"),
    ],
)
def test_bad_input_exits_2(files: dict[str, Any], change: dict[str, str], expected: str) -> None:
    args = {"--model": str(files["model"]), "--data": str(files["data"])}
    args.update({k: v.format(dir=files["dir"]) for k, v in change.items()})
    argv = ["profile", "--allow-pickle", "--version", "1", "--json", *FAST]
    for k, v in args.items():
        argv += [k, v if "/" in v else str(files["dir"] / v)]
    rc, out, err = _run(argv)
    assert rc == 2
    assert out == ""
    assert err.startswith("lowcarb: error: ") and expected in err


def test_a_pickle_needs_the_explicit_opt_in(files: dict[str, Any]) -> None:
    argv = ["profile", "--model", str(files["model"]), "--data", str(files["data"]),
            "--version", "1", "--json", *FAST]  # fmt: skip
    rc, out, err = _run(argv)
    assert rc == 2 and out == ""
    assert "runs any code" in err and "--allow-pickle" in err and err.count("\n") == 1


def test_data_with_the_wrong_number_of_features_is_refused(
    files: dict[str, Any], tmp_path: Path
) -> None:
    import numpy as np

    held = np.load(files["data"])
    np.savez(tmp_path / "narrow.npz", X=held["X"][:, :-3], y=held["y"])
    argv = ["profile", "--allow-pickle", "--model", str(files["model"]), "--data",
            str(tmp_path / "narrow.npz"), "--version", "1", "--json", *FAST]  # fmt: skip
    rc, out, err = _run(argv)
    assert rc == 2 and out == "" and "feature column(s) but the model expects" in err
