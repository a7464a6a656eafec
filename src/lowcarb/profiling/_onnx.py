"""ONNX graphs: load one for profiling and run it like a scikit-learn classifier or regressor.

Loading needs the extra ``lowcarb[onnx]`` (``onnx`` and ``onnxruntime``), imported lazily. The
graph runs in an onnxruntime ``InferenceSession`` on the CPU provider; ``predict`` feeds the
graph's single input and returns its first output, which for classifiers converted by skl2onnx is
the label. A first output of class scores (float, ``[N, C]`` with ``C > 1``) is turned into labels
by argmax.

Class probabilities (``predict_proba`` and ``classes_``) are read from the graph, never guessed
(:mod:`lowcarb.profiling._onnx_classifier` says which output holds them and where the classes
come from). A graph with neither has ``classes_ = None`` and ``predict_proba`` raises a one-line
error. Parameters and FLOPs per inference are counted by
:func:`~lowcarb.profiling._onnx_complexity.count_onnx_complexity`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lowcarb.errors import DataError, MissingDependencyError, UsageError
from lowcarb.profiling._onnx_classifier import OUTPUT_KEY, classes_of, scores_from

if TYPE_CHECKING:
    import onnx

__all__ = ["OnnxModel", "import_onnx", "load_onnx"]


def import_onnx() -> Any:
    """The ``onnx`` module, imported on first use (a missing one names the extra ``onnx``)."""
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError("onnx", "onnx") from None
    return onnx


class OnnxModel:
    """An ONNX graph run by onnxruntime on the CPU, with a scikit-learn-like ``predict``.

    Attributes:
        path: The ``.onnx`` file.
        proto: The graph (``onnx.ModelProto``) as loaded.
        session: The onnxruntime ``InferenceSession``.
        input_name: The graph's single input.
        output_name: The first output, which ``predict`` returns.
        producer: Who wrote the graph (e.g. ``skl2onnx 1.20.0``), or None.
    """

    def __init__(self, path: Path, proto: onnx.ModelProto, session: Any) -> None:
        self.path = path
        self.proto = proto
        self.session = session
        inputs = session.get_inputs()
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs)
            raise UsageError(
                f"{str(path)!r} has {len(inputs)} inputs ({names}); profile needs a graph with "
                "one input tensor of feature rows"
            )
        self.input_name: str = inputs[0].name
        #: The graph's declared input shape (an int per fixed dimension; None/str when free).
        self.input_shape: list[Any] = list(inputs[0].shape or [])
        self._input_dtype = _ort_dtype(inputs[0].type)
        first = session.get_outputs()[0]
        self.output_name: str = first.name
        self._output_type: str = first.type
        self._output_shape: list[Any] = list(first.shape or [])
        producer = " ".join(p for p in (proto.producer_name, proto.producer_version) if p)
        self.producer: str | None = producer or None
        meta = {p.key: p.value for p in proto.metadata_props}
        outputs = session.get_outputs()
        self._proba_name: str | None = None
        #: Why the graph gives no probabilities, when its second output holds scores.
        self._scores_from: str | None = None
        if meta.get(OUTPUT_KEY) == "probabilities":
            self._proba_name = first.name
        elif len(outputs) > 1 and ("float" in outputs[1].type or "map" in outputs[1].type):
            self._scores_from = scores_from(proto, outputs[1].name)
            if self._scores_from is None:
                self._proba_name = outputs[1].name
        #: Class labels in the order of the probability columns, or None (not a classifier
        #: graph that names them).
        self.classes_: np.ndarray[Any, Any] | None = (
            classes_of(proto, meta) if self._proba_name is not None else None
        )

    @property
    def is_classifier(self) -> bool:
        """Whether ``predict`` returns labels: integer or string output, or float class scores."""
        if not self._output_type.startswith("tensor(float") and "double" not in self._output_type:
            return True
        shape = self._output_shape
        return len(shape) == 2 and isinstance(shape[1], int) and shape[1] > 1

    def predict(self, x: Any) -> Any:
        """Run the graph on rows ``x``; return the first output (labels), one value per row."""
        feed = np.asarray(x, dtype=self._input_dtype)
        out = np.asarray(self.session.run([self.output_name], {self.input_name: feed})[0])
        if out.ndim == 2 and out.shape[1] == 1:
            return out.ravel()
        if out.ndim == 2 and out.dtype.kind == "f":
            return out.argmax(axis=1)
        return out

    def predict_proba(self, x: Any) -> np.ndarray[Any, Any]:
        """Class probabilities ``[N, C]``, columns in the order of ``classes_``.

        Raises:
            UsageError: The graph has no probability output or does not name its classes.
        """
        if self._scores_from is not None:
            raise UsageError(
                f"{str(self.path)!r} gives decision scores, not class probabilities (its "
                f"{self._scores_from}); export a classifier with calibrated probabilities (wrap an "
                "SVC or LinearSVC in scikit-learn's CalibratedClassifierCV)"
            )
        if self._proba_name is None or self.classes_ is None:
            raise UsageError(
                f"{str(self.path)!r} gives no class probabilities with named classes; export "
                "the classifier with skl2onnx or lowcarb compress"
            )
        feed = np.asarray(x, dtype=self._input_dtype)
        out = self.session.run([self._proba_name], {self.input_name: feed})[0]
        if isinstance(out, list):  # ZipMap: one {class: probability} map per row
            return np.array([[row[c] for c in self.classes_.tolist()] for row in out])
        return np.asarray(out, dtype=np.float64)

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r}, output={self.output_name!r})"


def _ort_dtype(type_name: str) -> Any:
    names = {
        "tensor(float)": np.float32,
        "tensor(double)": np.float64,
        "tensor(float16)": np.float16,
        "tensor(int64)": np.int64,
        "tensor(int32)": np.int32,
    }
    if type_name not in names:
        raise UsageError(f"unsupported ONNX input type {type_name!r}: profile feeds numeric rows")
    return names[type_name]


def load_onnx(path: str | Path) -> OnnxModel:
    """Load an ``.onnx`` graph into an onnxruntime session on the CPU provider.

    Raises:
        MissingDependencyError: ``onnx`` or ``onnxruntime`` is not installed (extra ``onnx``).
        DataError: The file cannot be read, or is not a graph onnxruntime can run.
        UsageError: The graph has more than one input or a non-numeric input.
    """
    onnx = import_onnx()
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError("onnxruntime", "onnx") from None
    p = Path(path)
    try:
        proto = onnx.load(str(p))
    except OSError as exc:
        raise DataError(f"model file {str(p)!r} cannot be read: {exc.strerror or exc}") from None
    except Exception as exc:  # onnx raises protobuf DecodeError and others on garbage
        raise DataError(f"model file {str(p)!r} is not an ONNX graph: {exc}") from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: ORT's warnings go to stderr otherwise
    try:
        session = onnxruntime.InferenceSession(
            proto.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise DataError(f"onnxruntime cannot load {str(p)!r}: {exc}") from None
    return OnnxModel(p, proto, session)
