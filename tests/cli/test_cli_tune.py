"""``lowcarb tune``: a real search from a space file; bad input fails before any trial."""

from __future__ import annotations

import contextlib
import json
from io import StringIO
from pathlib import Path

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext

SPACE = """\
estimator: logistic_regression
dataset: iris
params:
  C: {type: float, low: 0.01, high: 10.0, log: true}
objectives: [metric, energy]
"""


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    ctx = CliContext(stdout=out, stderr=err, environ={})
    with contextlib.redirect_stderr(err):  # argparse writes its errors to sys.stderr
        code = main(list(args), ctx=ctx)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def space(tmp_path: Path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE, encoding="utf-8")
    return path


def test_tune_json_follows_the_contract_and_stays_within_the_budget(
    space: Path, tmp_path: Path
) -> None:
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    code, out, err = _cli(
        "tune", str(space), "--budget-kwh", "0.000004", "--seed", "0", "--ledger", ledger, "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    for key in ("energy_kwh", "budget_kwh", "trials", "best", "pareto", "stopped_reason"):
        assert key in data
    assert data["budget_kwh"] == 4e-6 and data["stopped_reason"] == "budget"
    assert data["spent"] <= 4e-6 * 1.01
    assert set(data["best"]) >= {"params", "value"} and "C" in data["best"]["params"]
    assert data["energy_methods"] in (["estimated"], ["measured"], ["estimated", "measured"])
    assert all(set(p["values"]) == {"metric", "energy"} for p in data["pareto"])


def test_tune_prints_the_pareto_table_and_the_best(space: Path) -> None:
    code, out, err = _cli("tune", str(space), "--budget-kwh", "0.00005", "--n-trials", "3")
    assert code == 0, err
    assert "Pareto front" in out and "best: trial" in out and "stopped: n_trials" in out


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("estimator: logistic_regresion\ndataset: iris\n", "logistic_regresion"),
        ("estimator: [unclosed\n", "space.yaml"),
        ("estimator: mlp\ndataset: nosuchset\n", "nosuchset"),
        ("estimator: mlp\ndataset: iris\nparams:\n  hidden_width: {type: int, low: 9, high: 3}\n",
         "hidden_width"),
    ],
)  # fmt: skip
def test_a_bad_space_is_one_line_and_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, err = _cli("tune", str(path), "--budget-kwh", "1")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--budget-kwh", "0"], "--budget-kwh"),
        (["--budget-kwh", "-1"], "--budget-kwh"),
        (["--budget-kwh", "1", "--budget-co2e-kg", "1"], "not allowed with"),
        (["--budget-kwh", "1", "--storage", "postgresql+psycopg://nobody@127.0.0.1:1/x"],
         "cannot open study"),
        (["--budget-kwh", "1", "--storage", "mysql://x"], "--storage"),
        (["--budget-kwh", "1", "--workers", "2"], "needs a shared storage"),
        (["--budget-kwh", "1", "--deadline", "24h"], "--zone"),
        (["--budget-kwh", "1", "--zone", "DE", "--deadline", "2020-01-01T00:00Z"], "deadline"),
    ],
)  # fmt: skip
def test_bad_flags_fail_before_any_trial(
    space: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    code, out, err = _cli("tune", str(space), *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert not list(tmp_path.glob("*.db"))
