"""``compress``: make every variant that applies, profile it against the model, keep the best that
the promotion policy lets through.

Each variant is an ONNX graph profiled exactly as ``lowcarb profile`` profiles a model (size, p50
and p95 latency at batch 1 and at a larger batch, joules per 1,000 inferences with their method,
held-out accuracy) and judged by the gate against the original's profile. The result is the
passing variant with the least energy per 1,000 inferences (within 5%, the smaller file); a variant
the policy rejects is reported with its reasons and never written as the result.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lowcarb._files import write_atomic
from lowcarb.compression._distil import distil
from lowcarb.compression._inputs import check_compress_output
from lowcarb.compression._quantize import to_fp16, to_static_int8
from lowcarb.compression._variants import _final, _quantize, export, prune
from lowcarb.errors import DataError, LowcarbError, UsageError
from lowcarb.governance import PromotionPolicy, Verdict, evaluate_gate, policy_from_dict
from lowcarb.profiling import (
    OnnxModel,
    Profile,
    ProfileSettings,
    check_features,
    is_torch_model,
    load_model,
    profile_model,
)

__all__ = ["DEFAULT_POLICY", "METHODS", "Candidate", "CompressionReport", "compress"]

Method = Literal["dynamic-int8", "static-int8", "fp16", "prune", "distil", "auto"]
METHODS: tuple[str, ...] = ("dynamic-int8", "static-int8", "fp16", "prune", "distil", "auto")

#: When the project names no policy: at most 1 point of accuracy lost, no energy rise.
DEFAULT_POLICY: Mapping[str, Any] = {
    "version": 1,
    "name": "compress-default",
    "description": "lowcarb compress without --policy: cheaper, and at most 1 point less accurate",
    "rules": {"max_accuracy_drop_pts": 1.0, "max_energy_increase_pct": 0},
}


@dataclass(frozen=True)
class Candidate:
    """One variant and how it fared.

    Attributes:
        method: ``dynamic-int8``, ``static-int8``, ``fp16``, ``prune``, ``prune+dynamic-int8``,
            ``distil``.
        profile: Its profile (None when it could not be made).
        verdict: The gate's verdict against the original (None when it could not be made).
        error: Why it could not be made.
        notes: How it was made.
    """

    method: str
    profile: Profile | None = None
    verdict: Verdict | None = None
    error: str | None = None
    notes: tuple[str, ...] = ()
    onnx_bytes: bytes = field(default=b"", repr=False)

    @property
    def passed(self) -> bool:
        return self.verdict is not None and self.verdict.decision == "promote"

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "passed": self.passed,
            "profile": self.profile.to_dict() if self.profile else None,
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "error": self.error,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class CompressionReport:
    """Before, after, and every variant tried.

    Attributes:
        before: The original model's profile.
        chosen: The variant written (None when none passed).
        candidates: Every variant tried, passed or not.
        policy: The policy's name.
        output: Where the chosen variant was written.
        reference: The plain FP32 ONNX export's profile (what export alone gains, so the
            variants can be compared with it as well as with the original), when it exports.
    """

    before: Profile
    chosen: Candidate | None
    candidates: tuple[Candidate, ...]
    policy: str
    output: Path | None
    reference: Profile | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``lowcarb compress --json``: ``{before, after, verdict, ...}``."""
        best_rejected = next((c for c in self.candidates if c.verdict is not None), None)
        shown = self.chosen or best_rejected
        return {
            "before": self.before.to_dict(),
            "after": self.chosen.profile.to_dict() if self.chosen and self.chosen.profile else None,
            "verdict": shown.verdict.to_dict() if shown and shown.verdict else None,
            "method": self.chosen.method if self.chosen else None,
            "policy": self.policy,
            "output": str(self.output) if self.output else None,
            "reference_onnx_fp32": self.reference.to_dict() if self.reference else None,
            "candidates": [c.to_dict() for c in self.candidates],
        }


#: Operators whose weights quantization and FP16 act on (an ONNX graph without them has none).
_WEIGHT_OPS = frozenset({"MatMul", "Gemm", "Conv"})


def _methods_for(model: Any, method: str) -> list[str]:
    torch = is_torch_model(model)
    if torch or isinstance(model, OnnxModel):
        if method == "prune" or (method == "distil" and torch):
            what, others = (
                ("a PyTorch model", "dynamic-int8, static-int8, fp16")
                if torch
                else ("an ONNX graph", "dynamic-int8, static-int8, fp16, distil")
            )
            raise UsageError(
                f"--method {method} applies to scikit-learn models; for {what} use {others} or auto"
            )
        if method != "auto":
            return [method]
        return ["dynamic-int8", "static-int8", "fp16"] if torch else _onnx_methods(model)
    if method != "auto":
        return [method]
    est, _ = _final(model)
    kind = type(est).__name__
    if kind.startswith("MLP"):
        return ["dynamic-int8", "static-int8", "fp16", "prune+dynamic-int8", "distil"]
    if kind in {"RandomForestClassifier", "ExtraTreesClassifier", "GradientBoostingClassifier"}:
        return ["prune", "distil"]
    if not callable(getattr(model, "predict_proba", None)):
        raise UsageError(
            f"nothing to try for {kind}: int8 and fp16 apply to MLP weights, pruning to forests, "
            "boosting and MLPs, and distillation needs class probabilities (predict_proba), "
            f"which {kind} does not give"
        )
    return ["distil"]


def _onnx_methods(model: OnnxModel) -> list[str]:
    """What ``auto`` tries on an ONNX graph: what its operators and outputs allow."""
    methods = []
    if {n.op_type for n in model.proto.graph.node} & _WEIGHT_OPS:
        methods += ["dynamic-int8", "static-int8", "fp16"]
    if model.classes_ is not None:
        methods.append("distil")
    if not methods:
        raise UsageError(
            f"nothing applies to the ONNX graph {str(model.path)!r}: it has no MatMul/Gemm/Conv "
            "weights to quantize and no class probabilities to distil from; compress the "
            "scikit-learn model it came from instead"
        )
    return methods


def _fp32(model: Any, x_cal: Any) -> tuple[bytes, tuple[str, ...]]:
    """The FP32 ONNX graph variants start from: the graph given, or the model's export."""
    if isinstance(model, OnnxModel):
        by = f" (written by {model.producer})" if model.producer else ""
        return model.proto.SerializeToString(), (f"from the ONNX graph given{by}",)
    made = export(model, x_cal, quantize="fp32")
    return made.onnx_bytes, made.notes


def _make(method: str, model: Any, x_cal: Any) -> tuple[bytes, tuple[str, ...]]:
    if method == "dynamic-int8" and isinstance(model, OnnxModel):
        fp32, notes = _fp32(model, x_cal)
        quantized = _quantize(fp32, "this ONNX graph")
        return quantized, (*notes, "int8 weights by onnxruntime quantize_dynamic (QInt8)")
    if method == "dynamic-int8":
        made = export(model, x_cal, quantize="int8")
        return made.onnx_bytes, made.notes
    if method in ("static-int8", "fp16"):
        fp32, notes = _fp32(model, x_cal)
        if method == "fp16":
            return to_fp16(fp32), (*notes, "fp16 (onnxconverter_common)")
        note = f"static int8 (QDQ), calibrated on {len(x_cal)} rows"
        return to_static_int8(fp32, x_cal), (*notes, note)
    if method in ("prune", "prune+dynamic-int8"):
        est, _ = _final(model)
        ratio = 0.3 if type(est).__name__.startswith("MLP") else 0.5
        pruned = prune(model, ratio)
        made = export(pruned, x_cal, quantize="int8" if method.endswith("int8") else "fp32")
        return made.onnx_bytes, (f"structured pruning, {ratio:.0%} removed", *made.notes)
    if method == "distil":
        student = distil(model, x_cal)
        note = (
            f"student MLP ({student.hidden} hidden units) on the teacher's soft labels over "
            f"{student.transfer_rows} transfer rows"
        )
        return student.onnx_bytes, (note,)
    raise UsageError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def _keep_metadata(source: bytes, variant: bytes) -> bytes:
    """``variant`` with the metadata entries of ``source`` that it lost (the quantizers and the
    FP16 converter do not all carry them over); nothing changes when none were lost."""
    import onnx

    given = onnx.load_from_string(source).metadata_props
    if not given:
        return variant
    proto = onnx.load_from_string(variant)
    have = {p.key for p in proto.metadata_props}
    lost = [p for p in given if p.key not in have]
    if not lost:
        return variant
    proto.metadata_props.extend(lost)
    data: bytes = proto.SerializeToString()
    return data


def compress(
    model: Any,
    *,
    x_calibration: Any,
    x_eval: Any,
    y_eval: Any,
    name: str,
    version: str = "1",
    size_bytes: int,
    method: str = "auto",
    policy: PromotionPolicy | None = None,
    output: Path | None = None,
    model_path: Path | None = None,
    settings: ProfileSettings | None = None,
    zone: str | None = None,
    environ: Mapping[str, str] | None = None,
    profile: Callable[..., Profile] = profile_model,
) -> CompressionReport:
    """Compress ``model`` (see the module).

    Args:
        model: A fitted scikit-learn classifier (or pipeline), a PyTorch classifier
            (:class:`~lowcarb.profiling.TorchModel`: quantization and FP16 of its ONNX export),
            or an ONNX graph (:class:`~lowcarb.profiling.OnnxModel`: quantization and FP16 of
            the graph itself, distillation from its probabilities).
        x_calibration: Rows for static INT8 calibration and the distillation transfer set;
            never the evaluation rows. No labels needed
            (:func:`~lowcarb.compression.split_heldout` makes them from one labelled set).
        x_eval, y_eval: Held-out rows every profile's accuracy is measured on.
        name, version: The model's name and version (the variants get ``version+method``).
        size_bytes: The original model file's size.
        method: One of :data:`METHODS`; ``auto`` tries every method that applies.
        policy: The promotion policy (default :data:`DEFAULT_POLICY`).
        output: Where to write the chosen variant (``.onnx``); checked before any work.
        model_path: The model's file, which ``output`` may not be (an ONNX or PyTorch model's
            own path is used when not given).
        settings, zone, environ: For the profiles.
        profile: The profiler (injected in tests).

    Raises:
        UsageError: An unknown method, a method that does not apply, an output that is not
            ``.onnx``, is the model file, or cannot be written.
        DataError: Calibration or evaluation rows of another width than the model takes, or
            evaluation rows and labels that differ in number.
    """
    if method not in METHODS:
        raise UsageError(f"unknown --method {method!r}; choose one of {', '.join(METHODS)}")
    methods = _methods_for(model, method)
    if output is not None:
        own = model_path or (getattr(model, "path", None) if _is_file_model(model) else None)
        check_compress_output(output, model_path=own)
    x_calibration, x_eval = np.asarray(x_calibration), np.asarray(x_eval)
    if x_calibration.ndim != 2 or not len(x_calibration):
        raise DataError(
            f"calibration rows have shape {x_calibration.shape}; give a 2-D array of rows"
        )
    check_features(model, x_calibration, data="the calibration set")
    check_features(model, x_eval, data="the evaluation set")
    if len(x_eval) != len(y_eval) or not len(x_eval):
        raise DataError(
            f"{len(x_eval)} evaluation rows but {len(y_eval)} labels; both must match and be > 0"
        )
    policy = policy or policy_from_dict(dict(DEFAULT_POLICY), source="the default policy")
    common: dict[str, Any] = {"settings": settings, "zone": zone, "environ": environ}
    before = profile(
        model, x_eval, y_eval, name=name, version=version, size_bytes=size_bytes, **common
    )
    now = datetime.now(UTC)
    candidates: list[Candidate] = []
    reference = None
    with tempfile.TemporaryDirectory(prefix="lowcarb-compress-") as tmp:
        # An ONNX graph given is its own FP32 export: ``before`` already profiles it.
        if not isinstance(model, OnnxModel):
            try:
                fp32 = export(model, x_calibration, quantize="fp32").onnx_bytes
                Path(tmp, "fp32.onnx").write_bytes(fp32)
                graph, _ = load_model(Path(tmp, "fp32.onnx"))
                reference = profile(
                    graph,
                    x_eval,
                    y_eval,
                    name=name,
                    version=f"{version}+onnx-fp32",
                    size_bytes=len(fp32),
                    **common,
                )
            except LowcarbError:
                reference = None  # a model skl2onnx cannot export: every variant will say why
        given = model.proto.SerializeToString() if isinstance(model, OnnxModel) else b""
        for m in methods:
            try:
                data, notes = _make(m, model, x_calibration)
                if given and m != "distil":  # a student is a new graph, with its own metadata
                    data = _keep_metadata(given, data)
                path = Path(tmp, f"{m}.onnx")
                path.write_bytes(data)
                graph, _ = load_model(path)
                after = profile(
                    graph,
                    x_eval,
                    y_eval,
                    name=name,
                    version=f"{version}+{m}",
                    size_bytes=len(data),
                    **common,
                )
            except LowcarbError as exc:
                candidates.append(Candidate(m, error=str(exc)))
                continue
            verdict = evaluate_gate(policy, after, before, now=now)
            candidates.append(Candidate(m, after, verdict, notes=notes, onnx_bytes=data))
    chosen = _choose([c for c in candidates if c.passed])
    written = None
    if chosen is not None and output is not None:
        write_atomic(output, chosen.onnx_bytes)
        written = output
    return CompressionReport(
        before, chosen, tuple(candidates), policy.name, written, reference=reference
    )


def _is_file_model(model: Any) -> bool:
    return isinstance(model, OnnxModel) or is_torch_model(model)


def _choose(passed: Sequence[Candidate]) -> Candidate | None:
    """Least energy per 1,000 inferences; within 5% of it, the smallest file."""
    if not passed:
        return None
    least = min(c.profile.energy_per_1k_j for c in passed if c.profile)
    close = [c for c in passed if c.profile and c.profile.energy_per_1k_j <= least * 1.05]
    return min(close, key=lambda c: c.profile.size_bytes if c.profile else 0)
