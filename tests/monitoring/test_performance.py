"""The model's columns of a window: accuracy realised (labels) or estimated (CBPE, scores), never
features of the drift check; and the whole check of ``lowcarb monitor`` (``DriftChecker``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from lowcarb.errors import DataError, UsageError
from lowcarb.monitoring import (
    CheckOptions,
    DriftChecker,
    ModelColumns,
    fit_cbpe,
    fit_window_performance,
    non_feature_columns,
    parse_retrain_policy,
    read_window,
)
from lowcarb.monitoring._performance import label_text


def _windows(shift: float = 1.0, n: int = 1200) -> tuple[pd.DataFrame, pd.DataFrame, object]:
    rng = np.random.default_rng(0)

    def make(mu: float) -> tuple[np.ndarray, np.ndarray]:
        x = np.column_stack([rng.normal(mu, 1, n), rng.normal(0, 1, n)])
        y = (x[:, 0] + x[:, 1] + rng.normal(0, 1, n) > 0).astype(int)
        return x, y

    model = LogisticRegression().fit(*make(0.0))
    frames = []
    for mu in (0.0, shift):
        x, y = make(mu)
        p = model.predict_proba(x)
        frames.append(pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": y, "pred": model.predict(x),
                                    "p0": p[:, 0], "p1": p[:, 1]}))  # fmt: skip
    return frames[0], frames[1], model


COLS = ModelColumns(scores=("p0", "p1"), label="y", prediction="pred")


def test_labels_compare_as_text() -> None:
    assert [label_text(v) for v in (1, 1.0, "1", np.int64(1), True, None, float("nan"), 2.5)] == [
        "1", "1", "1", "1", "True", None, None, "2.5",
    ]  # fmt: skip


def test_realised_accuracy_when_every_current_row_has_a_label() -> None:
    ref, cur, _ = _windows()
    perf = fit_window_performance(ref, COLS)
    estimate, reason = perf.measure(cur)
    assert reason is None and estimate is not None
    assert estimate.method == "realised"
    assert estimate.value == pytest.approx(float(np.mean(cur["pred"] == cur["y"])))
    assert estimate.reference_value == pytest.approx(float(np.mean(ref["pred"] == ref["y"])))


def test_cbpe_without_current_labels_equals_fit_cbpe() -> None:
    ref, cur, _ = _windows()
    estimate, reason = fit_window_performance(ref, COLS).measure(cur.drop(columns="y"))
    assert reason is None and estimate is not None and estimate.method == "cbpe"
    direct = fit_cbpe(ref[["p0", "p1"]].to_numpy(), ref["y"].tolist(),
                      reference_predictions=ref["pred"].tolist())  # fmt: skip
    expected = direct.estimate(cur[["p0", "p1"]].to_numpy(), cur["pred"].tolist())
    assert estimate.value == pytest.approx(expected.value, abs=1e-12)
    # The policy's method narrows the choice: cbpe even where labels arrived.
    only_cbpe, _ = fit_window_performance(ref, COLS, method="cbpe").measure(cur)
    assert only_cbpe is not None and only_cbpe.method == "cbpe"


def test_csv_text_columns_work_like_numbers(tmp_path: Path) -> None:
    ref, cur, _ = _windows()
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    from_csv, _ = fit_window_performance(read_window(tmp_path / "ref.csv"), COLS).measure(
        read_window(tmp_path / "cur.csv").drop(columns="y")
    )
    in_memory, _ = fit_window_performance(ref, COLS).measure(cur.drop(columns="y"))
    assert from_csv is not None and in_memory is not None
    assert from_csv.value == pytest.approx(in_memory.value, abs=1e-12)


def test_no_figure_says_why() -> None:
    ref, cur, _ = _windows()
    estimate, reason = fit_window_performance(ref, ModelColumns(label="y")).measure(
        cur.drop(columns="y")
    )
    assert estimate is None
    assert reason == (
        "the current window has no labels (column 'y'); CBPE is not available: no score "
        "columns named"
    )
    estimate, reason = fit_window_performance(ref, COLS, method="realised").measure(
        cur.assign(y=[None] * 5 + cur["y"].tolist()[5:])
    )
    assert estimate is None and reason == "5 of 1200 current rows have no label"


def test_one_column_one_role() -> None:
    with pytest.raises(UsageError, match="the model's columns name 'y' twice"):
        ModelColumns(scores=("p0", "y"), label="y")
    with pytest.raises(UsageError, match="name a class twice"):
        ModelColumns(classes=("a", "a"))


def test_a_mistyped_model_column_is_refused() -> None:
    ref, _, _ = _windows()
    with pytest.raises(UsageError) as info:
        fit_window_performance(ref, ModelColumns(scores=("p0", "p1"), label="yy"))
    assert str(info.value).startswith(
        "unknown feature 'yy' in the model's columns (--score-columns, --label-column); did you "
        "mean 'y'?"
    )


def test_a_score_that_is_not_a_number_is_named() -> None:
    ref, cur, _ = _windows()
    cur = cur.astype({"p1": object})
    cur.loc[3, "p1"] = "high"
    with pytest.raises(DataError) as info:
        fit_window_performance(ref, COLS).measure(cur.drop(columns="y"))
    assert str(info.value) == (
        "score column 'p1' is 'high' in row 4 of the current window; every row needs its class "
        "probabilities (numbers 0..1)"
    )


def test_model_columns_are_not_features_and_a_log_scores_by_cbpe(tmp_path: Path) -> None:
    ref, cur, _ = _windows()
    log = tmp_path / "serve.jsonl"
    with log.open("w") as fh:
        for i in range(0, len(cur), 50):
            part = cur.iloc[i : i + 50]
            fh.write(json.dumps({
                "time": f"2026-12-04T14:{i // 50:02d}:00.123456Z", "model": "clf",
                "rows": part[["a", "b"]].to_numpy().tolist(),
                "predictions": part["pred"].tolist(),
                "probabilities": part[["p0", "p1"]].to_numpy().tolist(),
            }) + "\n")  # fmt: skip
    options = CheckOptions(columns=COLS)
    checker = DriftChecker(ref, options=options)
    assert checker.feature_names == ("a", "b")
    current = read_window(log, log=checker.log_columns())
    assert list(current.columns) == ["a", "b", "pred", "p0", "p1"]
    assert non_feature_columns(options.columns, ref, current) == ("p0", "p1", "y", "pred")
    report = checker.check(current)
    assert [f.name for f in report.features] == ["a", "b"]
    assert report.drifted == ("a",)
    assert report.performance is not None and report.performance.method == "cbpe"
    estimate, _ = fit_window_performance(ref, COLS).measure(cur.drop(columns="y"))
    assert estimate is not None
    assert report.performance.value == pytest.approx(estimate.value, abs=1e-9)


def test_the_checker_takes_the_policys_features_categorical_and_share() -> None:
    ref, cur, _ = _windows()
    ref, cur = ref.assign(code=ref["y"] * 2), cur.assign(code=cur["y"] * 2)
    policy = parse_retrain_policy(
        "retrain:\n  drift: {max_drift_share: 0.5, features: [a, b, code], categorical: [code]}\n"
        "  deadline: 24h\n  job: {command: [t], duration: 1h, zone: DE}\n"
    )
    checker = DriftChecker(ref, options=CheckOptions(), policy=policy)
    report = checker.check(cur)
    assert [(f.name, f.kind) for f in report.features] == [
        ("a", "numeric"), ("b", "numeric"), ("code", "categorical"),
    ]  # fmt: skip
    assert report.drift_share_threshold == 0.5
    bad = parse_retrain_policy(
        "retrain:\n  drift: {max_drift_share: 0.5, categorical: [colour]}\n"
        "  deadline: 24h\n  job: {command: [t], duration: 1h, zone: DE}\n",
        source="p.yaml",
    )
    with pytest.raises(UsageError, match=r"p\.yaml: retrain\.drift\.categorical names unknown"):
        DriftChecker(ref, options=CheckOptions(), policy=bad)


def test_model_asked_of_two_tables_is_refused() -> None:
    ref, cur, _ = _windows()
    checker = DriftChecker(ref, options=CheckOptions(model="clf"))
    with pytest.raises(UsageError, match="neither window is one"):
        checker.check(cur)
