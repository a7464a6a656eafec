"""Inference-time knobs a trial searches, scored by the inference energy they really save.

- :func:`prune`: structured pruning that shrinks the work of a prediction: fewer trees, fewer
  hidden units, fewer boosting stages (never masks that leave the cost as it was).
- :func:`export`: the model as ONNX (float32 input), optionally with dynamic int8 weights, run
  by ONNX Runtime on one thread.
- :func:`inference_energy`: joules per 1,000 predictions, measured with the Tracker.

Accuracy of an exported model is the caller's: ``score_predictions(y, model.predict(x), metric)``.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from lowcarb.errors import InvalidValueError, MissingDependencyError, UsageError
from lowcarb.profiling import is_torch_model

if TYPE_CHECKING:
    from lowcarb.energy import Meter
    from lowcarb.profiling import EnergyStats

__all__ = ["InferenceModel", "Precision", "export", "inference_energy", "prune"]

Precision = Literal["fp32", "int8"]
# Operators dynamic quantization leaves in a graph whose weights it did quantize.
_INT8_OPS = frozenset({"DynamicQuantizeLinear", "MatMulInteger", "DynamicQuantizeMatMul"})
# The metadata quant_pre_process leaves (onnxruntime.quantization.quant_utils).
_PRE_PROCESS_MARK = ("onnx.quant.pre_process", "onnxruntime.quant")


@dataclass(frozen=True)
class InferenceModel:
    """An exported model, ready to run and measure.

    Attributes:
        onnx_bytes: The serialised ONNX graph.
        size_bytes: ``len(onnx_bytes)``.
        predict: Labels for a 2-D array of rows (cast to float32), run by ONNX Runtime.
        precision: ``fp32`` or ``int8`` (weights; activations quantized on the fly).
        notes: How it was produced and its caveats.
    """

    onnx_bytes: bytes
    size_bytes: int
    predict: Callable[[Any], Any]
    precision: Precision
    notes: tuple[str, ...] = ()


def _final(model: Any) -> tuple[Any, Callable[[Any], Any]]:
    """The estimator inside a ``Pipeline`` (or the model) and how to put a new one back."""
    steps = getattr(model, "steps", None)
    if steps is None:
        return model, lambda new: new
    pipeline = type(model)

    def rebuild(new: Any) -> Any:
        return pipeline([*steps[:-1], (steps[-1][0], new)])

    return steps[-1][1], rebuild


def prune(model: Any, ratio: float) -> Any:
    """Return a copy of ``model`` with the share ``ratio`` of its structure removed.

    - Random forest / extra trees: the first ``n`` trees are kept (trees are drawn i.i.d., so
      the first ``n`` are an unbiased sample; ranking them would need validation data here).
    - MLP: in each hidden layer, the units whose outgoing weights have the smallest L2 norm
      are removed, and the weight matrices rebuilt smaller (``hidden_layer_sizes`` updated).
    - Gradient boosting: the first stages are kept (later stages refine earlier ones).

    At least one tree, unit or stage is kept. ``ratio`` 0 returns ``model`` unchanged. A
    ``Pipeline`` has its final step pruned. The pruned copy predicts; it cannot resume training.

    Raises:
        InvalidValueError: ``ratio`` outside [0, 1).
        UsageError: A family structured pruning does not apply to.
    """
    if isinstance(ratio, bool) or not 0.0 <= ratio < 1.0:
        raise InvalidValueError(f"prune ratio must be in [0, 1), got {ratio!r}")
    if ratio == 0.0:
        return model
    est, rebuild = _final(model)
    kind = type(est).__name__
    if kind in ("RandomForestClassifier", "ExtraTreesClassifier"):
        return rebuild(_prune_forest(est, ratio))
    if kind == "MLPClassifier":
        return rebuild(_prune_mlp(est, ratio))
    if kind == "GradientBoostingClassifier":
        return rebuild(_prune_boosting(est, ratio))
    raise UsageError(
        f"structured pruning does not apply to {kind} (it does to random forests, extra trees, "
        "MLPs and gradient boosting); drop prune_ratio from the space"
    )


def _keep(n: int, ratio: float) -> int:
    return max(1, round(n * (1.0 - ratio)))


def _prune_forest(est: Any, ratio: float) -> Any:
    n = _keep(len(est.estimators_), ratio)
    out = copy.copy(est)  # the trees themselves are shared, read-only
    out.estimators_ = list(est.estimators_[:n])
    out.n_estimators = n
    return out


def _prune_boosting(est: Any, ratio: float) -> Any:
    n = _keep(est.estimators_.shape[0], ratio)
    out = copy.copy(est)
    out.estimators_ = est.estimators_[:n]
    out.n_estimators = n
    out.n_estimators_ = n
    for name in ("train_score_", "oob_improvement_", "oob_scores_"):
        if hasattr(est, name):
            setattr(out, name, getattr(est, name)[:n])
    return out


def _prune_mlp(est: Any, ratio: float) -> Any:
    coefs = [np.array(c) for c in est.coefs_]
    intercepts = [np.array(b) for b in est.intercepts_]
    sizes = []
    for i in range(len(coefs) - 1):  # hidden layer i: columns of coefs[i], rows of coefs[i+1]
        norms = np.linalg.norm(coefs[i + 1], axis=1)
        n = _keep(len(norms), ratio)
        kept = np.sort(np.argsort(-norms, kind="stable")[:n])
        coefs[i] = coefs[i][:, kept]
        intercepts[i] = intercepts[i][kept]
        coefs[i + 1] = coefs[i + 1][kept, :]
        sizes.append(n)
    out = copy.deepcopy(est)
    out.coefs_ = coefs
    out.intercepts_ = intercepts
    out.hidden_layer_sizes = tuple(sizes)
    # The optimizer state has the old shapes: a pruned copy cannot resume training.
    for name in ("_optimizer", "_best_coefs", "_best_intercepts"):
        if hasattr(out, name):
            delattr(out, name)
    return out


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError("onnxruntime", "onnx") from None
    return onnxruntime


def export(model: Any, x_sample: Any, *, quantize: Precision = "fp32") -> InferenceModel:
    """Export a fitted classifier to ONNX (float32 input) and run it with ONNX Runtime.

    scikit-learn models go through skl2onnx; a :class:`~lowcarb.profiling.TorchModel` through
    ``torch.onnx.export`` (see :mod:`lowcarb.compression._torch_export`).

    ``int8`` applies ``onnxruntime.quantization.quantize_dynamic`` (int8 weights of MatMul
    operators, activations quantized at run time). ``quant_pre_process`` is not run: it serves
    static quantization, and its shape inference does not know skl2onnx's ``ai.onnx.ml`` ops.

    Raises:
        UsageError: The model cannot be exported, or int8 finds no weights to quantize (tree
            ensembles and linear models become ``ai.onnx.ml`` operators); the message says why.
        MissingDependencyError: skl2onnx or onnxruntime is not installed.
    """
    if quantize not in ("fp32", "int8"):
        raise InvalidValueError(f"quantize must be 'fp32' or 'int8', got {quantize!r}")
    ort = _ort()
    est, _ = _final(model)
    if is_torch_model(model):
        from lowcarb.compression._torch_export import export_torch

        data = export_torch(model, x_sample)
        notes = ["exported with torch.onnx.export (dynamo; float32 input, softmax output)"]
    else:
        data = _sklearn_onnx(model, est, x_sample)
        notes = ["exported with skl2onnx (float32 input)"]
    if quantize == "int8":
        data = _quantize(data, type(est).__name__)
        notes.append("int8 weights by onnxruntime quantize_dynamic (QInt8)")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    label_name = session.get_outputs()[0].name

    def predict(x: Any) -> Any:
        out = session.run([label_name], {input_name: np.asarray(x, dtype=np.float32)})[0]
        return out.argmax(axis=1) if out.ndim == 2 and out.dtype.kind == "f" else out

    return InferenceModel(data, len(data), predict, quantize, tuple(notes))


def _sklearn_onnx(model: Any, est: Any, x_sample: Any) -> bytes:
    try:
        from skl2onnx import to_onnx
    except ImportError:
        raise MissingDependencyError("skl2onnx", "onnx") from None
    sample = np.asarray(x_sample, dtype=np.float32)[:1]
    # Probabilities as a plain [N, C] tensor, not ZipMap's list of maps, where the converter
    # has that option: LinearSVC's, for one, has none (and refuses the option).
    options = {id(est): {"zipmap": False}} if _has_zipmap(est) else None
    try:
        proto = to_onnx(model, sample, options=options)
    except Exception as exc:  # skl2onnx raises many types; all mean "cannot export"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{type(est).__name__} cannot be exported to ONNX: {first}") from None
    data: bytes = proto.SerializeToString()
    return data


def _has_zipmap(est: Any) -> bool:
    """Whether skl2onnx's converter for ``est`` takes the ``zipmap`` option."""
    try:
        from skl2onnx import get_model_alias
        from skl2onnx.common._registration import get_converter  # no public way to ask

        allowed = get_converter(get_model_alias(type(est))).get_allowed_options() or {}
    except Exception:  # an unregistered model (to_onnx will say so) or a moved helper
        return hasattr(est, "predict_proba")
    return "zipmap" in allowed


def _quantize(data: bytes, kind: str) -> bytes:
    import onnx

    _ort()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    proto = onnx.load_from_string(data)
    # quant_pre_process cannot run on these graphs (see export), and without its mark ORT warns
    # through logging.warning, which configures the root logger of the host application. The
    # mark is set on the input only, and removed from the result.
    mark = proto.metadata_props.add()
    mark.key, mark.value = _PRE_PROCESS_MARK
    with tempfile.TemporaryDirectory(prefix="lowcarb-int8-") as tmp:
        out = Path(tmp) / "int8.onnx"
        try:
            quantize_dynamic(proto, out, weight_type=QuantType.QInt8)
            quantized = onnx.load_from_string(out.read_bytes())
        except Exception as exc:  # ORT raises many types; all mean "cannot quantize"
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UsageError(
                f"{kind} cannot be quantized to int8 ({first[:160]}); int8 applies to MLP "
                "weights: score it as fp32"
            ) from None
    props = [p for p in quantized.metadata_props if (p.key, p.value) != _PRE_PROCESS_MARK]
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(props)
    if not {n.op_type for n in quantized.graph.node} & _INT8_OPS:
        raise UsageError(
            f"int8 does not apply to {kind}: its ONNX graph has no MatMul weights to quantize "
            "(tree and linear models become ai.onnx.ml operators); score it as fp32"
        )
    result: bytes = quantized.SerializeToString()
    return result


def inference_energy(
    predict: Callable[[Any], Any],
    x: Any,
    *,
    environ: Mapping[str, str] | None = None,
    meters: Sequence[Meter] | None = None,
    zone: str | None = None,
    batch_size: int = 1,
    min_inferences: int = 200,
    min_duration_s: float = 0.5,
    max_duration_s: float = 2.0,
) -> EnergyStats:
    """Joules per 1,000 predictions of ``predict`` on rows of ``x``, measured or estimated.

    Runs :func:`lowcarb.profiling.measure_energy` with a ``Tracker("inference", ledger="")``
    (the measurement itself is not recorded): at least ``min_inferences`` rows and
    ``min_duration_s`` seconds, at most ``max_duration_s`` seconds, so a trial pays little for
    it. ``meters``, ``zone`` and ``environ`` go to the Tracker (tests pass a ``FakeMeter``).
    ``EnergyStats.energy_per_1k_j`` is the figure; ``method`` says measured or estimated.
    """
    from lowcarb.profiling import measure_energy
    from lowcarb.tracking import Tracker

    tracker = Tracker("inference", zone=zone, meters=meters, ledger="", environ=environ)
    return measure_energy(
        predict,
        x,
        tracker=tracker,
        batch_size=batch_size,
        min_inferences=min_inferences,
        min_duration_s=min_duration_s,
        max_duration_s=max_duration_s,
    )
