"""Tree models saved with skops load (their node arrays checked first); other types do not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lowcarb.errors import DataError, UsageError
from lowcarb.profiling import load_model


@pytest.fixture(scope="module")
def data() -> tuple[Any, Any]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return x / 16.0, y


def _dump(model: Any, path: Path) -> Path:
    import skops.io as sio

    sio.dump(model, path)
    return path


@pytest.mark.parametrize("kind", ["forest", "boosting", "binary-boosting", "pipeline", "tree"])
def test_tree_models_saved_by_skops_load_and_predict_as_saved(
    kind: str, data: tuple[Any, Any], tmp_path: Path
) -> None:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    x, y = data
    if kind == "binary-boosting":
        y = (y > 4).astype(int)  # one tree per stage, not one per class
    model = {
        "forest": lambda: RandomForestClassifier(n_estimators=20, random_state=0),
        "boosting": lambda: GradientBoostingClassifier(n_estimators=5, random_state=0),
        "binary-boosting": lambda: GradientBoostingClassifier(n_estimators=5, random_state=0),
        "pipeline": lambda: make_pipeline(StandardScaler(), ExtraTreesClassifier(10)),
        "tree": lambda: DecisionTreeClassifier(random_state=0),
    }[kind]().fit(x, y)
    loaded, size = load_model(_dump(model, tmp_path / f"{kind}.skops"))
    assert size > 0 and type(loaded) is type(model)
    assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_types_skops_does_not_trust_are_still_refused(
    data: tuple[Any, Any], tmp_path: Path
) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = data
    model = HistGradientBoostingClassifier(max_iter=3).fit(x, y)
    with pytest.raises(UsageError, match=r"types skops does not trust.*TreePredictor") as info:
        load_model(_dump(model, tmp_path / "hgb.skops"))
    assert "\n" not in str(info.value)


def test_trees_where_nothing_checks_them_are_refused(data: tuple[Any, Any], tmp_path: Path) -> None:
    from sklearn.ensemble import BaggingClassifier
    from sklearn.tree import DecisionTreeClassifier

    x, y = data
    model = BaggingClassifier(DecisionTreeClassifier(), n_estimators=3, random_state=0).fit(x, y)
    with pytest.raises(UsageError, match="decision trees inside an estimator lowcarb does not"):
        load_model(_dump(model, tmp_path / "bagging.skops"))


def _forest_with(data: tuple[Any, Any], field: str, value: int) -> Any:
    """A fitted forest whose second tree has ``field`` of its first split set to ``value``."""
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(*data)
    tree = forest.estimators_[1].tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    split = int(np.flatnonzero(nodes["left_child"] != -1)[0])
    nodes[field][split] = value
    tree.__setstate__({**state, "nodes": nodes})
    return forest


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("left_child", 10**6, r"children \(1000000, "),  # far beyond the node array
        ("right_child", 0, r"children \(\d+, 0\)"),  # back to the root: a cycle
        ("feature", 64, "feature 64 of 64"),  # a column the rows do not have
    ],
)
def test_a_crafted_tree_is_refused_before_it_can_predict(
    data: tuple[Any, Any], tmp_path: Path, field: str, value: int, needle: str
) -> None:
    path = _dump(_forest_with(data, field, value), tmp_path / "crafted.skops")
    with pytest.raises(DataError, match=needle) as info:
        load_model(path)
    assert "not written by scikit-learn" in str(info.value) and "\n" not in str(info.value)


def test_boosting_whose_stages_outgrow_its_predictions_is_refused(
    data: tuple[Any, Any], tmp_path: Path
) -> None:
    """predict_stages writes one column per tree of a stage, unchecked: 10 trees per stage
    into the one column a binary model starts from would write out of bounds."""
    from sklearn.ensemble import GradientBoostingClassifier

    x, y = data
    binary = GradientBoostingClassifier(n_estimators=3, random_state=0).fit(x, y > 4)
    multi = GradientBoostingClassifier(n_estimators=3, random_state=0).fit(x, y)
    binary.estimators_ = multi.estimators_  # 3 x 10 trees
    with pytest.raises(DataError, match="10 trees per stage"):
        load_model(_dump(binary, tmp_path / "boosting.skops"))
