"""Decision records (gate verdicts, budget checks, retrain decisions), read by their fields.

A decision record has no footprint; what it decided is in its metadata. Gates write
``{"gate": {"decision", "violations", ...}, "budgets": [...]}`` (``lowcarb.governance``); other
deciders (monitoring's retrain policy, ...) are read generically: the decision's type is the
record's stage, else the metadata key holding a ``decision``; its outcome the first of
``decision``, ``outcome``, ``verdict`` found there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from lowcarb._text import plain
from lowcarb.reporting.report._types import BudgetRow, DecisionRow, Decisions

__all__ = ["decisions_from", "interpret"]

_MAX_SUMMARY = 300
_OUTCOME_KEYS = ("decision", "outcome", "verdict")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    return plain(value)[:200]


def _node(metadata: Mapping[str, Any], stage: str | None) -> tuple[str | None, Mapping[str, Any]]:
    """``(type, the mapping that holds the decision)``."""
    if isinstance(metadata.get("gate"), Mapping):
        return "gate", metadata["gate"]
    if stage and isinstance(metadata.get(stage), Mapping):
        return stage, metadata[stage]
    for key in sorted(metadata):
        value = metadata[key]
        if isinstance(value, Mapping) and any(k in value for k in _OUTCOME_KEYS):
            return key, value
    return stage, metadata


def _summary(node: Mapping[str, Any]) -> str:
    parts: list[str] = []
    violations = node.get("violations")
    if isinstance(violations, list):
        for v in violations:
            if isinstance(v, Mapping):
                parts.append(f"{plain(v.get('rule'))}: {plain(v.get('message'))}")
    for key in ("reason", "reasons", "message"):
        value = node.get(key)
        if isinstance(value, str):
            parts.append(plain(value))
        elif isinstance(value, list):
            parts.extend(plain(v) for v in value if isinstance(v, str))
    text_ = "; ".join(p for p in parts if p.strip())
    text_ = " ".join(text_.split())
    return text_ if len(text_) <= _MAX_SUMMARY else text_[: _MAX_SUMMARY - 3] + "..."


def interpret(
    kind: str, stage: str | None, metadata: Mapping[str, Any]
) -> tuple[str, str | None, str]:
    """``(type, outcome, summary)`` of one decision record."""
    kind_, node = _node(metadata, stage)
    outcome = next((_text(node[k]) for k in _OUTCOME_KEYS if node.get(k) is not None), None)
    if outcome is None:
        outcome = next((_text(metadata[k]) for k in _OUTCOME_KEYS if k in metadata), None)
    return plain(kind_ or kind)[:200], outcome, _summary(node)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _budgets(rows: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[BudgetRow, ...]:
    """Latest status per budget (scope, period, period start), newest decision first in rows."""
    seen: dict[tuple[str, str, str], BudgetRow] = {}
    for when, metadata in rows:
        budgets = metadata.get("budgets")
        if not isinstance(budgets, list):
            continue
        for b in budgets:
            if not isinstance(b, Mapping):
                continue
            key = (plain(b.get("scope")), plain(b.get("period")), plain(b.get("period_start")))
            if key in seen:
                continue
            seen[key] = BudgetRow(
                scope=key[0],
                period=key[1],
                period_start=key[2],
                limit_co2e_kg=_number(b.get("limit_co2e_kg")),
                spent_co2e_kg=_number(b.get("spent_co2e_kg")),
                used_pct=_number(b.get("used_pct")),
                state=_text(b.get("state")),
                seen_at=when,
            )
    return tuple(sorted(seen.values(), key=lambda r: (r.scope, r.period, r.period_start)))


def decisions_from(rows: Sequence[Sequence[Any]], *, total: int) -> Decisions:
    """The report's decisions from the records' fields, newest first.

    Args:
        rows: ``(ts, id, kind, team, project, model, version, stage, metadata)`` of the newest
            decision records, newest first (see ``_scan``).
        total: Every decision record of the period (more than ``len(rows)`` when truncated).
    """
    out: list[DecisionRow] = []
    metas: list[tuple[str, Mapping[str, Any]]] = []
    for ts, rid, kind, team, project, model, version, stage, meta in rows:
        metadata = meta if isinstance(meta, dict) else {}
        type_, outcome, summary = interpret(str(kind), stage, metadata)
        when = str(ts)
        out.append(
            DecisionRow(
                time=when,
                record_id=str(rid),
                type=type_,
                outcome=outcome,
                team=team,
                project=project,
                model=model,
                version=version,
                summary=summary,
            )
        )
        metas.append((when, metadata))
    counts = Counter((row.type, row.outcome) for row in out)
    ordered = sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
    return Decisions(
        total=total,
        rows=tuple(out),
        truncated=total > len(out),
        counts=tuple((t, o, n) for (t, o), n in ordered),
        budgets=_budgets(metas),
    )
