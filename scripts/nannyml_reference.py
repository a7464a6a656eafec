"""Write NannyML's own CBPE accuracy estimates on fixed data, for lowcarb's CBPE test to match.

NannyML cannot live in lowcarb's environment (it pins an older plotly), so it runs here, in a
scratch virtual environment, once; the test (tests/monitoring/test_cbpe.py) reads the JSON this
writes and recomputes lowcarb's CBPE on exactly the same inputs.

Data (deterministic, scikit-learn's bundled datasets, no download):

* **binary**: breast cancer (569 rows). A deliberately weak logistic regression on two features
  (``mean radius``, ``mean texture``; accuracy ~0.9) fitted on 40% of the rows (split seed 0);
  the remaining rows split in half at random into a reference and an analysis window. Covariate
  shift: the analysis window is sorted by ``mean radius`` and cut into 3 chunks, so each chunk
  sees a different range of tumour sizes (P(y | x) unchanged: CBPE's assumption).
* **multiclass**: digits (1,797 rows, 10 classes). A logistic regression (C=1e-2) on the 64 pixels
  fitted on 40% of the rows; the rest split into reference and analysis. Covariate shift: the
  analysis window sorted by total ink (sum of pixels), cut into 3 chunks.

Scores are rounded to 6 decimals *before* NannyML sees them, and the rounded values are what
the JSON stores, so both libraries get identical inputs.

Reproducibility: the test never reruns this script; it reads the inputs and NannyML's outputs
from the JSON, so it is exact on every machine. Rerunning the script is exact for the binary case
only. The multiclass model (lbfgs logistic regression on 64 pixels, C=1e-2) converges to
slightly different coefficients from one machine (CPU, BLAS build) to another even with the same
package versions: a later regeneration with NannyML 0.13.1, scikit-learn 1.9.1 and NumPy 2.4.6
changed 4,673 of the 5,390 stored multiclass reference scores, by up to 0.022. Regenerate the
whole file (inputs and NannyML's estimates together), never one case of it.

Usage (outside the repository's virtual environment; NannyML imports statsmodels, which its
wheel does not always pull in)::

    python3 -m venv /tmp/nml-venv && /tmp/nml-venv/bin/pip install nannyml statsmodels
    /tmp/nml-venv/bin/python scripts/nannyml_reference.py \\
        [--output tests/monitoring/data/nannyml_cbpe_reference.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "tests" / "monitoring" / "data" / "nannyml_cbpe_reference.json"
CHUNKS = 3
DECIMALS = 6


def _split(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    idx = np.arange(n)
    train, rest = train_test_split(idx, train_size=0.4, random_state=0)
    reference, analysis = train_test_split(rest, train_size=0.5, random_state=1)
    return np.sort(train), np.sort(reference), analysis


def _binary() -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    data = load_breast_cancer(as_frame=True)
    x = data.frame[["mean radius", "mean texture"]].to_numpy()
    y = data.target.to_numpy()
    train, reference, analysis = _split(len(y))
    analysis = analysis[np.argsort(x[analysis, 0], kind="stable")]  # covariate shift by radius
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x[train], y[train])

    def window(rows: np.ndarray) -> pd.DataFrame:
        proba = np.round(model.predict_proba(x[rows])[:, 1], DECIMALS)
        return pd.DataFrame({"proba": proba, "pred": (proba >= 0.5).astype(int), "y": y[rows]})

    meta = {
        "dataset": "sklearn.datasets.load_breast_cancer",
        "model": "StandardScaler + LogisticRegression on ['mean radius', 'mean texture']",
        "shift": "analysis window sorted by 'mean radius', 3 chunks",
        "classes": [0, 1],
    }
    return meta, window(reference), window(analysis)


def _multiclass() -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    data = load_digits()
    x, y = data.data, data.target
    train, reference, analysis = _split(len(y))
    analysis = analysis[np.argsort(x[analysis].sum(axis=1), kind="stable")]  # by total ink
    model = LogisticRegression(C=1e-2, max_iter=2000).fit(x[train], y[train])

    def window(rows: np.ndarray) -> pd.DataFrame:
        proba = np.round(model.predict_proba(x[rows]), DECIMALS)
        frame = pd.DataFrame({f"p{c}": proba[:, i] for i, c in enumerate(model.classes_)})
        frame["pred"] = model.classes_[np.argmax(proba, axis=1)]
        frame["y"] = y[rows]
        return frame

    meta = {
        "dataset": "sklearn.datasets.load_digits",
        "model": "LogisticRegression(C=1e-2) on the 64 pixels",
        "shift": "analysis window sorted by total ink (sum of pixels), 3 chunks",
        "classes": [int(c) for c in range(10)],
    }
    return meta, window(reference), window(analysis)


def _run(problem: str, proba: Any, reference: pd.DataFrame, analysis: pd.DataFrame) -> Any:
    import nannyml

    estimator = nannyml.CBPE(
        problem_type=problem,
        y_pred_proba=proba,
        y_pred="pred",
        y_true="y",
        metrics=["accuracy"],
        chunk_number=CHUNKS,
    )
    estimator.fit(reference.copy())
    result = estimator.estimate(analysis.copy()).filter(period="analysis").to_df()
    return estimator, result


def _chunks(result: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "start_index": int(row[("chunk", "start_index")]),
            "end_index": int(row[("chunk", "end_index")]),
            "estimated_accuracy": float(row[("accuracy", "value")]),
            "realised_accuracy": float(row[("accuracy", "realized")]),
        }
        for _, row in result.iterrows()
    ]


def _window_json(frame: pd.DataFrame, proba: list[str]) -> dict[str, Any]:
    return {
        "scores": frame[proba].to_numpy().tolist() if len(proba) > 1 else frame[proba[0]].tolist(),
        "predictions": frame["pred"].astype(int).tolist(),
        "labels": frame["y"].astype(int).tolist(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # NannyML phones home otherwise
    try:
        import nannyml
    except ImportError:
        print("nannyml is not installed here; see this script's docstring", file=sys.stderr)
        return 2

    out: dict[str, Any] = {
        "generated_by": "scripts/nannyml_reference.py",
        "nannyml_version": nannyml.__version__,
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "pandas_version": pd.__version__,
        "chunk_number": CHUNKS,
    }
    meta, reference, analysis = _binary()
    estimator, result = _run("classification_binary", "proba", reference, analysis)
    out["binary"] = {
        **meta,
        "nannyml_calibrated": [False, bool(estimator.needs_calibration)],
        "reference": _window_json(reference, ["proba"]),
        "analysis": _window_json(analysis, ["proba"]),
        "chunks": _chunks(result),
    }
    meta, reference, analysis = _multiclass()
    columns = [f"p{c}" for c in meta["classes"]]
    proba_map = {c: f"p{c}" for c in meta["classes"]}
    estimator, result = _run("classification_multiclass", proba_map, reference, analysis)
    out["multiclass"] = {
        **meta,
        "nannyml_calibrated": [
            type(estimator._calibrators[c]).__name__ != "NoopCalibrator" for c in meta["classes"]
        ],
        "reference": _window_json(reference, columns),
        "analysis": _window_json(analysis, columns),
        "chunks": _chunks(result),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, separators=(",", ":")) + "\n", encoding="utf-8")
    for problem in ("binary", "multiclass"):
        for chunk in out[problem]["chunks"]:
            print(problem, chunk)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
