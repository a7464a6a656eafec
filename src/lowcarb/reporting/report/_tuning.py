"""Tuning studies from the ledger: each trial is a ``trial`` record (``lowcarb.tuning``).

A trial record carries its study (``metadata.study``), trial number (``metadata.trial``) and
energy. Its objective value is read from ``metadata.result.metric`` or ``metadata.metric``
when the writer recorded it; a study whose trials carry none gets no front, and says why (the
values then live only in the Optuna storage).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from lowcarb.reporting.report._figures import Figures
from lowcarb.reporting.report._types import ParetoPoint, TuningStudy

__all__ = ["pareto_front", "tuning_from"]

NO_METRIC = (
    "no trial record of this study carries its objective value (metadata.result.metric or "
    "metadata.metric); the values are in the study's Optuna storage"
)


def pareto_front(points: Iterable[ParetoPoint]) -> tuple[ParetoPoint, ...]:
    """The points no other point beats on both metric (higher) and energy (lower).

    O(n log n): sorted by energy, a point is on the front when its metric beats every cheaper
    point's. Equal points are all kept.
    """
    ordered = sorted(points, key=lambda p: (p.energy_kwh, -p.metric))
    front: list[ParetoPoint] = []
    for p in ordered:
        if not front or p.metric > front[-1].metric:
            front.append(p)
        elif (p.metric, p.energy_kwh) == (front[-1].metric, front[-1].energy_kwh):
            front.append(p)  # a tie with the last point on the front
    return tuple(front)


def tuning_from(
    points: Mapping[str | None, Sequence[tuple[int | None, float, float]]],
    studies: Sequence[tuple[str | None, Figures]],
) -> tuple[TuningStudy, ...]:
    """Studies with their fronts.

    Args:
        points: Study -> ``(trial, metric, energy_kwh)`` of its trials with a metric.
        studies: Each study's figures (from the ``study`` grouping).
    """
    out = []
    for study, figures in studies:
        mine = [ParetoPoint(t, m, e) for t, m, e in points.get(study, ())]
        front = pareto_front(mine)
        out.append(TuningStudy(study, figures, len(mine), front, None if mine else NO_METRIC))
    out.sort(key=lambda s: (-s.figures.energy_kwh, s.study or ""))
    return tuple(out)
