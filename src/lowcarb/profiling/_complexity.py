"""The FLOP and parameter count of one model (scikit-learn or ONNX), with how it was counted."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Complexity"]


@dataclass(frozen=True, slots=True)
class Complexity:
    """FLOPs and parameters of one model.

    Attributes:
        flops: FLOPs per inference (one input row), or None when not derivable.
        params: Number of fitted parameters, or None when not derivable.
        note: How they were counted, or why they are missing.
    """

    flops: float | None
    params: int | None
    note: str
