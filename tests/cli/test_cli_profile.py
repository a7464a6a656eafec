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
from lowcarb.profiling import REQUIRED_PROFILE_FIELDS, parse_profile
from lowcarb.tracking import attribution

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
        [
            "profile",
            "--allow-pickle",
            "--model",
            str(files["model"]),
            "--data",
            str(files["data"]),
            "--version",
            "4",
            "--zone",
            "FR",
            "--team",
            "vision",
            "-o",
            str(output),
            "--json",
            *FAST,
        ],
    )
    assert rc == 0, err
    data = json.loads(out)
    assert set(REQUIRED_PROFILE_FIELDS) <= set(data)
    assert (data["model"], data["version"], data["team"], data["zone"]) == (
        "iris",
        "4",
        "vision",
        "FR",
    )
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
    tracker = Tracker(
        "train",
        zone="DE",
        ledger=ledger,
        attribution=attribution(model="iris", model_version="4"),
        meters=[FakeMeter(power_w={"cpu": 50.0})],
        environ={},
    )
    with tracker:
        pass
    assert tracker.footprint is not None and tracker.record_id is not None
    rc, out, err = _run(
        [
            "profile",
            "--allow-pickle",
            "--model",
            str(files["model"]),
            "--data",
            str(files["data"]),
            "--version",
            "4",
            "--json",
            *FAST,
        ],
        {"LOWCARB_LEDGER": ledger},
    )
    assert rc == 0, err
    data = json.loads(out)
    assert data["training_co2e_kg"] == pytest.approx(tracker.footprint.co2e_g / 1000)
    assert data["training_records"] == 1
    assert data["training_co2e_source"].startswith("ledger:sqlite:///")


def test_rich_output(files: dict[str, Any]) -> None:
    rc, out, _ = _run(
        [
            "profile",
            "--allow-pickle",
            "--model",
            str(files["model"]),
            "--data",
            str(files["data"]),
            "--version",
            "1",
            *FAST,
        ],
    )
    assert rc == 0
    assert "efficiency profile of iris@1" in out
    assert "energy_per_1k_j" in out


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"--model": "model.onnx"}, "does not exist"),  # a missing graph
        ({"--model": "model.h5"}, "unsupported model file"),
        ({"--data": "missing.npz"}, "does not exist"),
        ({"--ledger": "sqlite:///{dir}/absent.db"}, "no ledger at"),
        ({"--ledger": "postgres://u@127.0.0.1/db"}, "postgresql+psycopg://"),
        ({"--output": "{dir}/missing/profile.json"}, "does not exist"),
        ({"--output": "{dir}"}, "is a directory"),
        ({"--name": "a\x1b[31mb"}, "control characters"),
        ({"--team": "t\x1b[2J"}, "--team"),
        ({"--project": "p" * 300}, "--project"),
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
    argv = [
        "profile",
        "--model",
        str(files["model"]),
        "--data",
        str(files["data"]),
        "--version",
        "1",
        "--json",
        *FAST,
    ]
    rc, out, err = _run(argv)
    assert rc == 2 and out == ""
    assert "runs any code" in err and "--allow-pickle" in err and err.count("\n") == 1


def test_data_with_the_wrong_number_of_features_is_refused(
    files: dict[str, Any], tmp_path: Path
) -> None:
    import numpy as np

    held = np.load(files["data"])
    np.savez(tmp_path / "narrow.npz", X=held["X"][:, :-3], y=held["y"])
    argv = [
        "profile",
        "--allow-pickle",
        "--model",
        str(files["model"]),
        "--data",
        str(tmp_path / "narrow.npz"),
        "--version",
        "1",
        "--json",
        *FAST,
    ]
    rc, out, err = _run(argv)
    assert rc == 2 and out == "" and "feature column(s) but the model expects" in err


def _argv(files: dict[str, Any], *extra: str) -> list[str]:
    return [
        "profile",
        "--allow-pickle",
        "--model",
        str(files["model"]),
        "--data",
        str(files["data"]),
        "--version",
        "1",
        "--json",
        *FAST,
        *extra,
    ]


@pytest.mark.parametrize(
    ("ledger", "expected"),
    [
        ("sqlte:///x.db", "unknown dialect"),
        ("postgres://u@127.0.0.1/db", "postgresql+psycopg://"),
        ("sqlite://", "in-memory"),
        ("postgresql+psycopg://x@127.0.0.1:1/none", "cannot reach"),
        ("sqlite:///a_directory", "directory"),
    ],
)
@pytest.mark.parametrize("where", ["flag", "config"])
def test_a_bad_ledger_fails_before_any_profiling(
    files: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ledger: str,
    expected: str,
    where: str,
) -> None:
    """The ledger (flag, or ``ledger =`` in a parent lowcarb.toml) is opened before the work."""
    import lowcarb.profiling

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("profiled before the ledger was checked")

    monkeypatch.setattr(lowcarb.profiling, "profile_model", must_not_run)
    monkeypatch.setattr(lowcarb.profiling, "load_model", must_not_run)
    (tmp_path / "a_directory").mkdir()
    sub = tmp_path / "project"
    sub.mkdir()
    monkeypatch.chdir(sub)
    out_file = sub / "profile.json"
    extra = ["-o", str(out_file)]
    if where == "flag":
        extra += ["--ledger", ledger.replace("a_directory", str(tmp_path / "a_directory"))]
    else:
        (tmp_path / "lowcarb.toml").write_text(
            f"ledger = {ledger.replace('a_directory', str(tmp_path / 'a_directory'))!r}\n"
        )
    rc, out, err = _run(_argv(files, *extra))
    assert rc == 2, err
    assert out == "" and err.startswith("lowcarb: error: ") and err.count("\n") == 1
    assert expected in err
    assert not out_file.exists() and not (sub / "x.db").exists()


def test_the_ledger_in_a_parent_config_file_is_read(
    files: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lowcarb.ledger import open_ledger

    with open_ledger(f"sqlite:///{tmp_path / 'team.db'}", environ={}):
        pass
    (tmp_path / "lowcarb.toml").write_text('ledger = "sqlite:///team.db"\n')
    sub = tmp_path / "nested"
    sub.mkdir()
    monkeypatch.chdir(sub)
    rc, out, err = _run(_argv(files))
    assert rc == 0, err
    assert "team.db" in json.loads(out)["training_co2e_source"]


def test_a_failed_profile_leaves_no_partial_output(
    files: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lowcarb.profiling
    from lowcarb.errors import ProfileError

    target = tmp_path / "profile.json"
    target.write_text('{"previous": true}\n')

    def fails(*args: object, **kwargs: object) -> None:
        raise ProfileError("the model failed on the held-out set")

    monkeypatch.setattr(lowcarb.profiling, "profile_model", fails)
    rc, _, err = _run(_argv(files, "-o", str(target)))
    assert rc == 2, err
    assert target.read_text() == '{"previous": true}\n'  # untouched: no partial file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["profile.json"]


def test_a_skops_model_needs_no_opt_in(files: dict[str, Any], tmp_path: Path) -> None:
    sio = pytest.importorskip("skops.io")
    model = pickle.loads(files["model"].read_bytes())
    path = tmp_path / "iris.skops"
    sio.dump(model, path)
    argv = [
        "profile",
        "--model",
        str(path),
        "--data",
        str(files["data"]),
        "--version",
        "1",
        "--json",
        *FAST,
    ]
    rc, out, err = _run(argv)
    assert rc == 0, err
    assert json.loads(out)["accuracy"] == pytest.approx(files["accuracy"])


def test_a_skops_file_with_untrusted_types_is_refused(tmp_path: Path) -> None:
    sio = pytest.importorskip("skops.io")
    from lowcarb.profiling import load_model

    path = tmp_path / "odd.skops"
    sio.dump({"model": _Untrusted()}, path)
    with pytest.raises(Exception, match="does not trust") as info:
        load_model(path)
    assert getattr(info.value, "exit_code", None) == 2


class _Untrusted:
    """A type skops does not know, so it is not trusted."""

    def predict(self, x: Any) -> Any:
        return x


def test_the_pickle_warning_is_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        rc = _run(["profile", "--help"])[0]
    except SystemExit as exc:  # argparse prints help on sys.stdout and exits
        rc = int(exc.code or 0)
    assert rc == 0
    flat = " ".join(capsys.readouterr().out.split())
    assert "--allow-pickle" in flat and "runs any code" in flat and "lowcarb[onnx]" in flat


def test_the_onnx_install_hint_keeps_its_brackets(
    files: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Printed through Rich without escaping, ``[onnx]`` would vanish from the hint."""
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    graph = tmp_path / "model.onnx"
    graph.write_bytes(b"\x08\x07")
    rc, out, err = _run(
        ["profile", "--model", str(graph), "--data", str(files["data"]), "--version", "1", *FAST]
    )
    assert rc == 2 and out == ""
    assert "pip install 'lowcarb[onnx]'" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        (lambda x, y: {"X": x[:, 0], "y": y}, "X must be a 2-D array"),
        (lambda x, y: {"X": x.reshape(len(x), 2, -1), "y": y}, "X must be a 2-D array"),
        (lambda x, y: {"X": x, "y": np.stack([y, y], 1)}, "y must be a 1-D array"),
        (lambda x, y: {"X": x.astype(str), "y": y}, "X must hold numbers"),
        (lambda x, y: {"X": np.where(x > 5, np.nan, x), "y": y}, "NaN or infinity"),
        (lambda x, y: {"X": x * np.inf, "y": y}, "NaN or infinity"),
        (lambda x, y: {"X": x[:0], "y": y[:0]}, "must match and be > 0"),
        (lambda x, y: {"X": x, "y": y[:-1]}, "must match"),
    ],
)
def test_held_out_arrays_the_model_cannot_use_are_one_line_errors(
    files: dict[str, Any], tmp_path: Path, arrays: Any, expected: str
) -> None:
    held = np.load(files["data"])
    np.savez(tmp_path / "bad.npz", **arrays(held["X"], held["y"]))
    argv = [
        "profile",
        "--allow-pickle",
        "--model",
        str(files["model"]),
        "--data",
        str(tmp_path / "bad.npz"),
        "--version",
        "1",
        "--json",
        *FAST,
    ]
    rc, out, err = _run(argv)
    assert rc == 2 and out == "", err
    assert err.startswith("lowcarb: error: ") and err.count("\n") == 1 and expected in err
