"""The ledger record of a green-window decision: kind ``schedule``, planned vs immediate intensity.

Metadata (plain JSON, every time ISO 8601 UTC on the sensor's clock):

- ``source``: ``"airflow:GreenWindowSensor"``; ``airflow``: ``{dag_id, task_id, run_id,
  try_number[, map_index]}``;
- ``request``: the job (``zone``, ``duration_h``, ``deadline``, ``forecast``, ...);
- ``planned_start``, ``released_at``, ``waited_h``, ``replans``, ``replan_errors``;
- ``immediate_intensity_g_per_kwh``: the first plan's intensity of starting at once (the
  baseline), ``planned_intensity_g_per_kwh``: the released plan's expected intensity, and
  ``expected_savings_pct`` between them (None where either is unknown);
- ``plan`` and ``first_plan``: both plans as ``lowcarb plan --json`` prints them; ``clock``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lowcarb.integrations.airflow._clock import WindowClock
from lowcarb.integrations.airflow._window import WindowOutcome, WindowRequest, iso
from lowcarb.ledger import Attribution, RecordDraft, open_ledger
from lowcarb.units import parse_timestamp

__all__ = ["SENSOR_SOURCE", "append_decision", "decision_metadata"]

SENSOR_SOURCE = "airflow:GreenWindowSensor"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def decision_metadata(
    request: WindowRequest,
    outcome: WindowOutcome,
    *,
    ids: Mapping[str, Any],
    clock: WindowClock,
) -> dict[str, Any]:
    """The ``schedule`` record's metadata (see the module docstring); also the sensor's XCom."""
    first, plan = outcome.first_plan, outcome.plan
    immediate = _number(first.get("now_intensity_g_per_kwh"))
    planned = _number(plan.get("expected_intensity_g_per_kwh"))
    saving = None
    if immediate is not None and planned is not None and immediate > 0:
        saving = 100.0 * (immediate - planned) / immediate
    issued = parse_timestamp(str(first.get("issued_at")), what="plan issue time")
    waited_h = max(0.0, (outcome.released_at - issued).total_seconds() / 3600.0)
    return {
        "source": SENSOR_SOURCE,
        "airflow": dict(ids),
        "request": request.to_dict(),
        "planned_start": plan.get("start"),
        "released_at": iso(outcome.released_at),
        "waited_h": waited_h,
        "replans": outcome.replans,
        "replan_errors": list(outcome.replan_errors),
        "immediate_intensity_g_per_kwh": immediate,
        "planned_intensity_g_per_kwh": planned,
        "expected_savings_pct": saving,
        "plan": dict(plan),
        "first_plan": dict(first),
        "clock": clock.to_dict() | {"kind": "replay" if clock.is_replay else "wall"},
    }


def append_decision(
    ledger_url: str, *, attribution: Attribution, metadata: Mapping[str, Any]
) -> str:
    """Append the ``schedule`` record; returns its id.

    Raises:
        LedgerError: The ledger refused or cannot be reached (nothing was appended).
    """
    with open_ledger(ledger_url) as ledger:
        record = ledger.append(
            RecordDraft(kind="schedule", attribution=attribution, metadata=dict(metadata))
        )
    return record.id
