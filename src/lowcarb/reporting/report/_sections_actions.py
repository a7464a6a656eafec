"""The report's sections about actions and trust: model versions, scheduler savings, tuning,
decisions and the audit (the emission sections are in ``_sections``)."""

from __future__ import annotations

from lowcarb.reporting.report._blocks import Section, make_table
from lowcarb.reporting.report._format import NONE, count, kg, kwh, name, num, pct, share
from lowcarb.reporting.report._types import ReportData

__all__ = [
    "audit_section",
    "decisions_section",
    "models_section",
    "scheduler_section",
    "tuning_section",
]

#: Decision rows a report shows (the JSON and CSV hold every row read).
MAX_DECISION_ROWS = 100


def models_section(d: ReportData) -> Section:
    rows = []
    for m in d.models:
        p = m.profile or {}
        rows.append(
            (
                name(m.model),
                name(m.version),
                count(p.get("size_bytes")) if p else NONE,
                f"{p['flops']:,.0f}" if p.get("flops") is not None else NONE,
                num(p.get("latency_p95_ms"), 3) if p else NONE,
                f"{num(p.get('energy_per_1k_j'), 2)} ({name(p.get('energy_method'))})"
                if p
                else NONE,
                num(m.energy_per_1k_j_ledger, 2),
                share(p.get("accuracy")) if p else NONE,
                kg(m.training.co2e_g) if m.training.records else NONE,
                share(m.training.measured_share),
                name(m.gate) if m.gate else NONE,
            )
        )
    return Section(
        "models",
        "Model versions",
        paragraphs=(
            "Size, FLOPs, latency, J per 1,000 inferences and accuracy come from the profiles "
            "given to the report (lowcarb profile); training CO2e and ledger J per 1,000 "
            "inferences from this period's records; gate: the latest gate decision.",
        ),
        tables=(
            make_table(
                (
                    "model",
                    "version",
                    "size (bytes)",
                    "FLOPs",
                    "latency p95 (ms)",
                    "J per 1k (profile)",
                    "J per 1k (ledger)",
                    "accuracy",
                    "training CO2e (kg)",
                    "training measured",
                    "gate",
                ),
                rows,
                (False, False, True, True, True, True, True, True, True, True, False),
            ),
        ),
    )


def scheduler_section(d: ReportData) -> Section:
    s = d.scheduler
    if not s.available or not s.jobs:
        return Section(
            "scheduler", "Scheduler savings", paragraphs=(f"Not available: {s.reason}.",)
        )
    paras = (
        f"{count(s.jobs)} planned jobs, {num(s.hours, 2)} h: planned intensity "
        f"{num(s.planned_intensity_g_per_kwh)} g/kWh vs {num(s.immediate_intensity_g_per_kwh)} "
        f"g/kWh if started at once ({pct(s.savings_pct)} lower, forecast).",
        f"Forecast CO2e saved: {kg(s.forecast_saved_co2e_g)} kg (plans that know the job's power).",
        f"Realised: {count(s.realised_jobs)} jobs ran at {num(s.realised_intensity_g_per_kwh)} "
        f"g/kWh ({pct(s.realised_savings_pct)} lower than starting at once).",
    )
    rows = [
        (
            name(t["team"]),
            count(t["jobs"]),
            num(t["hours"], 2),
            num(t["planned_intensity_g_per_kwh"]),
            num(t["immediate_intensity_g_per_kwh"]),
            pct(t["savings_pct"]),
        )
        for t in s.by_team
    ]
    table = make_table(
        ("team", "jobs", "hours", "planned (g/kWh)", "immediate (g/kWh)", "savings"),
        rows,
        (False, True, True, True, True, True),
    )
    return Section("scheduler", "Scheduler savings", paras, (table,))


def tuning_section(d: ReportData) -> Section:
    if not d.tuning:
        return Section("tuning", "Tuning", paragraphs=("No trial records in this period.",))
    rows = []
    for t in d.tuning:
        front = "; ".join(
            f"#{p.trial if p.trial is not None else '?'}: {p.metric:.4g} @ {kwh(p.energy_kwh)} kWh"
            for p in t.front[:10]
        )
        rows.append(
            (
                name(t.study),
                count(t.figures.records),
                kwh(t.figures.energy_kwh),
                kg(t.figures.co2e_g),
                share(t.figures.measured_share),
                front or f"none: {t.front_reason}",
            )
        )
    table = make_table(
        (
            "study",
            "trials",
            "energy (kWh)",
            "CO2e (kg)",
            "measured",
            "Pareto front (metric @ energy)",
        ),
        rows,
        (False, True, True, True, True, False),
    )
    return Section("tuning", "Tuning: trials and Pareto fronts", tables=(table,))


def decisions_section(d: ReportData) -> Section:
    dec = d.decisions
    if not dec.total:
        return Section(
            "decisions", "Decisions", paragraphs=("No decision records in this period.",)
        )
    paras = [
        f"{count(dec.total)} decision records"
        + (f"; the latest {len(dec.rows)} read." if dec.truncated else ".")
    ]
    counts = make_table(
        ("type", "outcome", "records"),
        [(name(t), name(o), count(n)) for t, o, n in dec.counts],
        (False, False, True),
    )
    shown = dec.rows[:MAX_DECISION_ROWS]
    rows = make_table(
        ("time", "type", "outcome", "team", "project", "model", "version", "why"),
        [
            (
                r.time[:19] + "Z",
                name(r.type),
                name(r.outcome),
                name(r.team),
                name(r.project),
                name(r.model),
                name(r.version),
                r.summary or NONE,
            )
            for r in shown
        ],
        (False,) * 8,
        f"latest {len(shown)}, newest first",
    )
    tables = [counts, rows]
    if dec.budgets:
        tables.append(
            make_table(
                (
                    "budget",
                    "period",
                    "from",
                    "limit (kg)",
                    "spent (kg)",
                    "used",
                    "state",
                    "seen at",
                ),
                [
                    (
                        name(b.scope),
                        name(b.period),
                        name(b.period_start)[:10],
                        num(b.limit_co2e_kg, 3),
                        num(b.spent_co2e_kg, 3),
                        pct(b.used_pct),
                        name(b.state),
                        b.seen_at[:19] + "Z",
                    )
                    for b in dec.budgets
                ],
                (False, False, False, True, True, True, False, False),
                "carbon budgets as the gates saw them",
            )
        )
    return Section("decisions", "Gate, budget and retrain decisions", tuple(paras), tuple(tables))


def audit_section(d: ReportData) -> Section:
    a = d.audit
    v = a.verify or {}
    verdict = (
        ("intact: " if v.get("ok") else "FAILED: ") + str(v.get("reason"))
        if a.verified
        else "not verified for this report"
    )
    facts = make_table(
        ("fact", "value"),
        [
            ("ledger", a.ledger),
            ("ledger id", a.ledger_id or NONE),
            ("records in the ledger", count(a.entries)),
            ("head hash", a.head_hash),
            ("verification", verdict),
            ("records replaced by corrections (period)", count(a.superseded)),
        ],
        (False, False),
    )
    sources = make_table(
        ("intensity source", "records", "energy (kWh)", "provider", "licence"),
        [
            (name(s.source), count(s.records), kwh(s.energy_kwh), s.provider, s.licence)
            for s in a.sources
        ],
        (False, True, True, False, False),
    )
    bullets = (
        ("What the verification rules out", tuple(a.proves.get("ruled_out", ())) or ("nothing",)),
        ("What it cannot rule out", tuple(a.proves.get("not_ruled_out", ())) or ("nothing",)),
        ("Methodology", a.methodology),
    )
    paras = (
        "Publish the head hash somewhere the ledger's writers cannot edit (`lowcarb ledger "
        "checkpoint`): verifying against it later detects a truncated or rewritten ledger.",
    )
    return Section("audit", "Audit", paras, (facts, sources), bullets)
