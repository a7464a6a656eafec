"""detect_drift on known shifts, its report, its overrides, its one-line refusals, and real grid
data (January against July drifts; shuffled halves of a year do not)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, ks_2samp

from lowcarb.errors import DataError, InvalidValueError, UsageError
from lowcarb.monitoring import DriftReport, detect_drift, read_window

N = 4000
ZONES = ["AT", "BE", "DE", "DK-DK1", "ES", "FR", "GB", "IT-NO", "NL", "PL"]


def _windows(shift_sd: float = 0.0, *, n: int = N, seed: int = 3) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)

    def frame(mean: float, colours: list[str]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "age": rng.normal(40.0 + mean * 12.0, 12.0, n),
                "income": rng.lognormal(10.0, 0.5, n),
                "clicks": rng.poisson(3.0, n).astype(float),
                "colour": rng.choice(colours, n),
            }
        )

    return frame(0.0, ["red", "green", "blue"]), frame(shift_sd, ["red", "green", "blue"])


def test_no_shift_is_no_drift_anywhere() -> None:
    reference, current = _windows()
    report = detect_drift(reference, current)
    assert isinstance(report, DriftReport)
    assert [f.name for f in report.features] == ["age", "income", "clicks", "colour"]
    assert [f.kind for f in report.features] == ["numeric", "numeric", "numeric", "categorical"]
    assert [f.statistic for f in report.features] == [
        "wasserstein",
        "wasserstein",
        "wasserstein",
        "jensen_shannon",
    ]
    assert report.drifted == ()
    assert report.drift is False
    assert report.drift_share == 0.0
    assert (report.reference_rows, report.current_rows) == (N, N)


def test_a_half_sd_shift_of_one_feature_of_four_is_feature_drift_not_dataset_drift() -> None:
    reference, current = _windows(0.5)
    report = detect_drift(reference, current)
    assert report.drifted == ("age",)
    assert report.drift_share == 0.25
    assert report.drift is False
    # One rule at the boundary (drift_share_exceeds): a share equal to the limit is not drift.
    assert detect_drift(reference, current, drift_share_threshold=0.25).drift is False
    assert detect_drift(reference, current, drift_share_threshold=0.2).drift is True
    assert detect_drift(reference, current, drift_share_threshold=0).drift is True


def test_others_hold_every_applicable_statistic_as_scipy_computes_it() -> None:
    reference, current = _windows(0.5)
    report = detect_drift(reference, current)
    age, colour = report.features[0], report.features[3]
    assert set(age.others) == {
        "psi",
        "ks",
        "ks_statistic",
        "chi2",
        "chi2_statistic",
        "jensen_shannon",
        "wasserstein",
    }
    expected = ks_2samp(reference["age"], current["age"])
    assert age.others["ks"] == expected.pvalue
    assert age.others["ks_statistic"] == expected.statistic
    assert set(colour.others) == {"psi", "chi2", "chi2_statistic", "jensen_shannon"}
    table = [
        [int((reference["colour"] == c).sum()) for c in ("blue", "green", "red")],
        [int((current["colour"] == c).sum()) for c in ("blue", "green", "red")],
    ]
    assert colour.others["chi2"] == pytest.approx(chi2_contingency(np.array(table)).pvalue)


def test_small_windows_default_to_tests() -> None:
    reference, current = _windows(0.5, n=500)
    report = detect_drift(reference, current)
    assert [f.statistic for f in report.features] == ["ks", "ks", "ks", "chi2"]
    age = report.features[0]
    assert age.p_value == age.value == ks_2samp(reference["age"], current["age"]).pvalue
    assert age.drift and age.threshold == 0.05


def test_missing_values_are_left_out_and_their_shares_reported() -> None:
    reference, current = _windows()
    current.loc[: N // 4 - 1, "income"] = np.nan
    reference.loc[:9, "colour"] = None
    report = detect_drift(reference, current)
    income, colour = report.features[1], report.features[3]
    assert income.missing_share_reference == 0.0
    assert income.missing_share_current == 0.25
    assert colour.missing_share_reference == 10 / N
    assert "feature 'income': missing values went from 0.0% to 25.0% of rows" in report.notes
    expected = ks_2samp(reference["income"], current["income"].dropna()).pvalue
    assert income.others["ks"] == expected


def test_new_categories_are_reported_and_drift() -> None:
    reference, current = _windows()
    current.loc[: N // 5, "colour"] = "violet"
    report = detect_drift(reference, current)
    colour = report.features[3]
    assert colour.new_categories == ("violet",)
    assert colour.drift
    assert "feature 'colour': 1 new category in the current window" in report.notes


def test_many_new_categories_are_listed_up_to_twenty_with_a_count() -> None:
    reference, current = _windows()
    current["colour"] = [f"c{i:04d}" for i in range(N)]
    report = detect_drift(reference, current)
    colour = report.features[3]
    assert len(colour.new_categories) == 20
    assert colour.new_categories[0] == "c0000"
    assert f"feature 'colour': {N:,} new categories, the first 20 listed" in report.notes


def test_statistic_and_thresholds_are_selectable_per_feature() -> None:
    reference, current = _windows(0.5)
    report = detect_drift(
        reference,
        current,
        features=["age", "colour"],
        statistic={"age": "psi", "colour": "chi2"},
        thresholds={"psi": 0.5, "colour": 0.01},
    )
    age, colour = report.features
    assert (age.statistic, age.threshold) == ("psi", 0.5)
    assert age.value == age.others["psi"]
    assert (colour.statistic, colour.threshold) == ("chi2", 0.01)
    everyone = detect_drift(reference, current, statistic="psi", categorical=["clicks"])
    assert {f.statistic for f in everyone.features} == {"psi"}
    assert everyone.features[2].kind == "categorical"


def test_the_json_is_the_monitor_check_contract() -> None:
    reference, current = _windows(0.5)
    data = json.loads(json.dumps(detect_drift(reference, current).to_dict(), allow_nan=False))
    assert data["drift"] is False
    assert data["drifted_features"] == ["age"]
    for entry in data["features"]:
        assert {"name", "statistic", "value", "drift"} <= set(entry)


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_mismatched_columns_name_the_missing_and_the_extra() -> None:
    reference, current = _windows()
    current = current.rename(columns={"income": "salary"}).drop(columns=["clicks"])
    with pytest.raises(DataError) as info:
        detect_drift(reference, current)
    assert _one_line(info) == (
        "the windows' columns differ: the current window lacks 'income', 'clicks' and has "
        "'salary' that the reference lacks; give both windows the same columns, or name the "
        "features to compare"
    )
    assert detect_drift(reference, current, features=["age"]).features[0].name == "age"


def test_an_empty_window_is_refused() -> None:
    reference, current = _windows()
    with pytest.raises(DataError) as info:
        detect_drift(reference, current.iloc[0:0])
    assert _one_line(info) == "the current window has no rows; give a window with data"


def test_an_all_missing_feature_is_refused() -> None:
    reference, current = _windows()
    current["income"] = np.nan
    with pytest.raises(DataError) as info:
        detect_drift(reference, current)
    assert _one_line(info) == (
        f"feature 'income' is missing in all {N:,} rows of the current window; fix the data or "
        "leave the feature out"
    )


def test_text_in_a_numeric_feature_names_column_value_and_row() -> None:
    reference, current = _windows()
    current = current.astype({"age": object})
    current.loc[7, "age"] = "forty"
    with pytest.raises(DataError) as info:
        detect_drift(reference, current)
    assert _one_line(info) == (
        "feature 'age' is numeric but the current window holds 'forty' (row 8); fix or blank "
        "the value, or declare the feature categorical (--categorical age, or "
        "retrain.drift.categorical in the policy)"
    )


def test_unknown_features_are_refused_with_suggestions() -> None:
    reference, current = _windows()
    with pytest.raises(UsageError) as info:
        detect_drift(reference, current, features=["agee"])
    assert _one_line(info) == (
        "unknown feature 'agee' in features; did you mean 'age'? (the windows have 'age', "
        "'income', 'clicks', 'colour')"
    )
    with pytest.raises(UsageError, match="unknown feature 'x' in thresholds"):
        detect_drift(reference, current, thresholds={"x": 0.1})
    with pytest.raises(UsageError, match="unknown feature 'x' in statistic"):
        detect_drift(reference, current, statistic={"x": "ks"})
    with pytest.raises(UsageError, match="unknown feature 'x' in categorical"):
        detect_drift(reference, current, categorical=["x"])


def test_bad_statistics_and_thresholds_are_refused() -> None:
    reference, current = _windows()
    with pytest.raises(UsageError) as info:
        detect_drift(reference, current, statistic={"age": "kl"})
    assert _one_line(info) == (
        "unknown statistic 'kl' for feature 'age'; choose one of: psi, ks, chi2, "
        "jensen_shannon, wasserstein"
    )
    with pytest.raises(UsageError) as info:
        detect_drift(reference, current, statistic="ks")
    assert _one_line(info) == (
        "statistic 'ks' needs a numeric feature, but 'colour' is categorical; choose psi, chi2, "
        "jensen_shannon for it"
    )
    with pytest.raises(InvalidValueError, match="is a p-value and must be between 0 and 1"):
        detect_drift(reference, current, thresholds={"ks": 5})
    with pytest.raises(InvalidValueError, match="must be a finite number, got nan"):
        detect_drift(reference, current, thresholds={"psi": float("nan")})
    with pytest.raises(InvalidValueError, match="drift_share_threshold must be between 0"):
        detect_drift(reference, current, drift_share_threshold=1.5)


# Real data: hourly carbon intensity of ten European zones in 2022 (Electricity Maps, LCA),
# one feature per zone, read from ../shared/data/grid.


@pytest.fixture(scope="module")
def em2022(grid_data_dir: Path) -> Any:
    path = grid_data_dir / "em2022_123zones" / "em2022_lca_hourly_123zones.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent; set LOWCARB_GRID_DATA to the shared grid folder")
    frame = read_window(path, what="trace")
    return frame.set_index("datetime_utc")


def test_real_grid_january_against_july_drifts_in_every_zone(em2022: Any) -> None:
    january = em2022[em2022.index.str.startswith("2022-01")]
    july = em2022[em2022.index.str.startswith("2022-07")]
    for statistic in ("ks", "wasserstein", "psi", "jensen_shannon"):
        report = detect_drift(january, july, features=ZONES, statistic=statistic)
        assert report.drift_share == 1.0, (statistic, report.drifted)


def test_real_grid_shuffled_halves_of_the_year_do_not_drift(em2022: Any) -> None:
    order = np.random.default_rng(0).permutation(len(em2022))
    first, second = em2022.iloc[order[: len(order) // 2]], em2022.iloc[order[len(order) // 2 :]]
    for statistic in ("ks", "chi2", "wasserstein", "psi", "jensen_shannon"):
        report = detect_drift(first, second, features=ZONES, statistic=statistic)
        assert report.drifted == (), statistic


def test_real_grid_adjacent_january_weeks_drift_too(em2022: Any) -> None:
    """Weather regimes move a week's intensity by 0.5 to 2.7 reference standard deviations
    (measured: Wasserstein/std 0.50-2.66 across the ten zones, 3-9 Jan against 10-16 Jan), so a
    week is not a stable reference for grid intensity: every zone drifts."""
    week1 = em2022[(em2022.index >= "2022-01-03") & (em2022.index < "2022-01-10")]
    week2 = em2022[(em2022.index >= "2022-01-10") & (em2022.index < "2022-01-17")]
    report = detect_drift(week1, week2, features=ZONES, statistic="wasserstein")
    assert report.drift_share == 1.0
    assert min(f.value for f in report.features) > 0.4
