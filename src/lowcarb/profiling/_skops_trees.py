"""Decision trees read from a skops file, checked before anything predicts with them.

skops loads ``sklearn.tree._tree.Tree`` (the node storage of decision trees, random forests,
extra trees and gradient boosting) without running code from the file, but does not trust it by
default (skops 0.16, ``skops.io.exceptions.UNTRUSTED_TYPE_REASONS``): a Tree's node array holds
child and feature indices that scikit-learn's Cython code follows without bounds checks, so a
crafted file loads fine and then reads (or, for gradient boosting, writes) out of bounds on the
first ``predict``. lowcarb trusts the type by its exact name and then checks, here, the invariants
that code relies on, so a crafted file is refused with a one-line error instead:

- every node before ``node_count`` (at most ``capacity``) is a leaf (both children -1) or splits on
  a feature in ``[0, n_features)`` into two children with larger indices, below ``node_count``
  (scikit-learn's builders add a node before its children, and larger indices also rule out
  cycles), where ``n_features`` is the tree's own and equals the owning estimator's
  ``n_features_in_``, the width scikit-learn checks the rows against before walking the tree;
- trees appear only where scikit-learn walks them with those checked rows: a decision tree or
  extra tree as the model or a ``Pipeline`` step, the ``estimators_`` of a random forest or extra
  trees ensemble, or the ``estimators_`` grid of gradient boosting, whose column count must match
  its initial raw predictions (``predict_stages`` writes one column per tree of a stage) and whose
  ``init_`` is the default dummy estimator or ``"zero"``. A tree anywhere else (inside bagging,
  AdaBoost, an isolation forest, ...) is refused: nothing here checks how those use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from lowcarb.errors import DataError, UsageError

__all__ = ["TREE_TYPE", "check_trees"]

#: The skops type name trusted (by exact name) once :func:`check_trees` accepts the model.
TREE_TYPE = "sklearn.tree._tree.Tree"
_SINGLE = frozenset(
    {
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._classes.DecisionTreeRegressor",
        "sklearn.tree._classes.ExtraTreeClassifier",
        "sklearn.tree._classes.ExtraTreeRegressor",
    }
)
_FORESTS = frozenset(
    {
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.RandomForestRegressor",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
        "sklearn.ensemble._forest.ExtraTreesRegressor",
    }
)
_BOOSTING = frozenset(
    {
        "sklearn.ensemble._gb.GradientBoostingClassifier",
        "sklearn.ensemble._gb.GradientBoostingRegressor",
    }
)
_DUMMIES = frozenset({"sklearn.dummy.DummyClassifier", "sklearn.dummy.DummyRegressor"})
_PIPELINE = "sklearn.pipeline.Pipeline"
#: Objects visited when looking for trees (a 500-tree forest is about 10^4).
_MAX_OBJECTS = 2_000_000


def _name(obj: Any) -> str:
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}"


def _is_tree(obj: Any) -> bool:
    return _name(obj) == TREE_TYPE


def _objects(root: Any) -> Iterator[Any]:
    """Every object reachable from ``root`` through attributes, containers and object arrays."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, str | bytes | int | float | bool | type(None)):
            continue
        seen.add(id(obj))
        if len(seen) > _MAX_OBJECTS:
            raise DataError(f"the model holds more than {_MAX_OBJECTS:,} objects; not loaded")
        yield obj
        if isinstance(obj, np.ndarray):
            if obj.dtype == object:
                stack.extend(obj.ravel().tolist())
        elif isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        else:
            if hasattr(obj, "__dict__"):
                stack.extend(vars(obj).values())
            for cls in type(obj).__mro__:  # attributes held in slots, not in __dict__
                slots = getattr(cls, "__slots__", ())
                for slot in (slots,) if isinstance(slots, str) else slots:
                    if isinstance(slot, str) and hasattr(obj, slot):
                        stack.append(getattr(obj, slot))


def check_trees(model: Any, *, source: str) -> None:
    """Refuse a model whose decision trees scikit-learn could not walk safely (see the module).

    Args:
        model: The object skops loaded.
        source: How to name the file in messages.

    Raises:
        DataError: A tree whose nodes, features or shapes are inconsistent.
        UsageError: Trees somewhere this check does not cover.
    """
    trees = {id(o): o for o in _objects(model) if _is_tree(o)}
    if not trees:
        return
    checked: set[int] = set()
    steps = getattr(model, "steps", None) if _name(model) == _PIPELINE else None
    roots = [s[1] for s in steps if isinstance(s, tuple) and len(s) == 2] if steps else [model]
    for root in roots:
        kind = _name(root)
        if kind in _SINGLE:
            checked.add(_check_estimator(root, _width(root, source), source))
        elif kind in _FORESTS:
            width = _width(root, source)
            members = getattr(root, "estimators_", None)
            if not isinstance(members, list):
                raise DataError(f"{source}: {kind.rsplit('.', 1)[1]} has no list of trees")
            for e in members:
                checked.add(_check_member(e, width, source))
        elif kind in _BOOSTING:
            checked |= _check_boosting(root, source)
    unchecked = set(trees) - checked
    if unchecked:
        raise UsageError(
            f"{source} holds decision trees inside an estimator lowcarb does not check (trees "
            "load only as a decision tree, random forest, extra trees or gradient boosting "
            "model, or a Pipeline step); export the model to ONNX instead"
        )


def _width(est: Any, source: str) -> int:
    width = getattr(est, "n_features_in_", None)
    if isinstance(width, bool) or not isinstance(width, int | np.integer) or width < 1:
        raise DataError(f"{source}: {_name(est).rsplit('.', 1)[1]} has no valid n_features_in_")
    return int(width)


def _check_member(est: Any, width: int, source: str) -> int:
    if _name(est) not in _SINGLE:
        raise DataError(f"{source}: an ensemble member is a {type(est).__name__}, not a tree")
    if _width(est, source) != width:
        raise DataError(
            f"{source}: a tree takes {est.n_features_in_} features but its ensemble {width}"
        )
    return _check_estimator(est, width, source)


def _check_estimator(est: Any, width: int, source: str) -> int:
    tree = getattr(est, "tree_", None)
    if not _is_tree(tree):
        raise DataError(f"{source}: a {type(est).__name__} has no fitted tree")
    _check_nodes(tree, width, source)
    return id(tree)


def _check_nodes(tree: Any, width: int, source: str) -> None:
    n, capacity = int(tree.node_count), int(tree.capacity)
    if tree.n_features != width:
        raise DataError(f"{source}: a tree splits {tree.n_features} features; its model {width}")
    if not 0 < n <= capacity:  # node arrays are read as node_count long
        raise DataError(f"{source}: a tree has {n} nodes in room for {capacity}")
    left, right, feature = tree.children_left, tree.children_right, tree.feature
    index = np.arange(n)
    leaf = left == -1
    # fmt: skip below: each line bounds one array (children, then feature); one term per line
    # would hide the pairs.
    split_ok = (
        (left > index) & (left < n) & (right > index) & (right < n)
        & (feature >= 0) & (feature < width)
    )  # fmt: skip
    bad = ~np.where(leaf, right == -1, split_ok)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{source}: tree node {i} of {n} points to children ({int(left[i])}, {int(right[i])}) "
            f"and feature {int(feature[i])} of {width}; the file was not written by scikit-learn "
            "from a fitted model: do not load it"
        )


def _check_boosting(est: Any, source: str) -> set[int]:
    width = _width(est, source)
    grid = getattr(est, "estimators_", None)
    if not isinstance(grid, np.ndarray) or grid.ndim != 2 or grid.dtype != object or not grid.size:
        raise DataError(f"{source}: gradient boosting has no 2-D grid of trees")
    init = getattr(est, "init_", None)
    if not (isinstance(init, str) and init == "zero") and _name(init) not in _DUMMIES:
        raise UsageError(
            f"{source}: gradient boosting with init {type(init).__name__} is not checked; "
            "export the model to ONNX instead"
        )
    checked = {_check_member(e, width, source) for e in grid.ravel().tolist()}
    try:  # validates the row width and runs the dummy init estimator, no tree
        columns = np.asarray(est._raw_predict_init(np.zeros((1, width)))).shape
    except (AttributeError, ValueError, TypeError, IndexError) as exc:
        raise DataError(f"{source}: gradient boosting cannot start a prediction: {exc}") from None
    if columns != (1, grid.shape[1]):
        raise DataError(
            f"{source}: gradient boosting has {grid.shape[1]} trees per stage but its initial "
            f"predictions have shape {columns}; the file is inconsistent: do not load it"
        )
    return checked
