"""collect(): the figures equal the records', per team, project, model, day, zone; both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine

from lowcarb.errors import UsageError
from lowcarb.ledger import MarketFactor, RecordFilter, open_ledger
from lowcarb.profiling import profile_from_dict, training_co2e
from lowcarb.reporting.report import ReportData, ReportQuery, collect

SINCE = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = datetime(2024, 4, 1, tzinfo=UTC)
REL = 1e-9


def _collect(url: str, **kw: object) -> ReportData:
    query = ReportQuery(
        SINCE,
        UNTIL,
        team=kw.pop("team", None),
        project=kw.pop("project", None),  # type: ignore[arg-type]
    )
    with open_ledger(url, create=False, environ={}) as ledger:
        return collect(ledger, query, **kw)  # type: ignore[arg-type]


def test_totals_equal_the_ledgers_own_totals_on_both_backends(any_world) -> None:
    data = _collect(any_world.url)
    with open_ledger(any_world.url, create=False, environ={}) as ledger:
        for by, rows in (
            ("team", data.by_team),
            ("project", data.by_project),
            ("model", data.by_model),
            ("kind", data.by_kind),
        ):
            ref = ledger.totals(by, RecordFilter(since=SINCE, until=UNTIL))
            assert data.totals.records == ref.total.records == 9
            assert data.totals.energy_kwh == pytest.approx(ref.total.energy_kwh, rel=REL)
            assert data.totals.co2e_g == pytest.approx(ref.total.location_co2e_g, rel=REL)
            mine = {g.key: g.figures for g in rows}
            assert set(mine) == {r.key for r in ref.rows}
            for r in ref.rows:
                assert mine[r.key].records == r.records
                assert mine[r.key].energy_kwh == pytest.approx(r.energy_kwh, rel=REL)
                assert mine[r.key].co2e_g == pytest.approx(r.location_co2e_g, rel=REL)
    # By hand: 4.5 + 2 (the correction) + 1 + 0.5 + 1.2 + 0.7 (trials) kWh.
    assert data.totals.energy_kwh == pytest.approx(9.9)
    assert data.totals.co2e_g == pytest.approx(1800 + 800 + 50 + 200 + 480 + 35)
    assert data.audit.superseded == 1
    assert data.audit.verified and data.audit.verify is not None and data.audit.verify["ok"]


def test_measured_and_estimated_energy_follow_each_components_provenance(world) -> None:
    data = _collect(world.url)
    # Estimated: the GPU of Jan 10 (2 kWh x PUE 1.5) and bert's 1 kWh x 1.2.
    assert data.totals.estimated_kwh == pytest.approx(3.0 + 1.2)
    assert data.totals.measured_kwh == pytest.approx(9.9 - 4.2)
    nlp = next(g for g in data.by_team if g.key == "nlp")
    assert nlp.figures.measured_share == pytest.approx(0.7 / 1.9)


def test_filters_by_team_project_and_period(world) -> None:
    vision = _collect(world.url, team="vision")
    assert {g.key for g in vision.by_team} == {"vision"}
    assert vision.totals.energy_kwh == pytest.approx(4.5 + 2 + 1 + 0.5)
    chat = _collect(world.url, project="chat")
    assert chat.totals.records == 1 and chat.totals.co2e_g == pytest.approx(480)
    with open_ledger(world.url, create=False, environ={}) as ledger:
        feb = collect(
            ledger,
            ReportQuery(datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)),
            verify=False,
        )
    assert feb.totals.records == 2 and feb.totals.co2e_g == pytest.approx(250)
    assert len(feb.daily) == 29 and feb.daily[4].figures.co2e_g == pytest.approx(50)
    assert feb.audit.verified is False and feb.audit.verify is None


def test_unknown_team_or_project_lists_the_known_ones(world) -> None:
    with pytest.raises(
        UsageError, match=r"unknown team 'visoin'.*did you mean 'vision'.*known teams: nlp, vision"
    ):
        _collect(world.url, team="visoin")
    with pytest.raises(
        UsageError, match=r"unknown project 'nope'.*known projects: chat, detector, s1, s2"
    ):
        _collect(world.url, project="nope")


def test_series_cover_every_day_and_week_of_the_period(world) -> None:
    data = _collect(world.url)
    assert len(data.daily) == 91 and data.daily[0].label == "2024-01-01"
    assert sum(p.figures.co2e_g for p in data.daily) == pytest.approx(data.totals.co2e_g)
    assert [w.label for w in data.weekly][:2] == ["2024-W01", "2024-W02"]
    assert sum(w.figures.energy_kwh for w in data.weekly) == pytest.approx(9.9)
    jan10 = data.daily[9]
    assert dict(jan10.co2e_g_by_team) == {"vision": pytest.approx(1800)}


def test_market_based_scope2_is_never_invented(world) -> None:
    bare = _collect(world.url).scope2
    assert bare.location_co2e_g == pytest.approx(3365)
    assert bare.market_co2e_g is None
    assert "no contractual factor for zone(s) DE" in (bare.market_reason or "")
    fr = next(z for z in bare.zones if z.zone == "FR")
    assert fr.figures.market_records == 1 and fr.market_co2e_g is None  # trials have none
    factors = {"DE": MarketFactor(500.0, "residual mix DE"), "FR": MarketFactor(20.0, "supplier")}
    full = _collect(world.url, market_factors=factors).scope2
    # DE: 8.2 kWh x 500; FR: the PPA record 0 g + 0.7 kWh of trials x 20.
    assert full.market_co2e_g == pytest.approx(8.2 * 500 + 0.7 * 20)
    assert full.market_reason is None and full.market_covered_share == pytest.approx(1.0)
    half = _collect(world.url, market_factors={"FR": MarketFactor(20.0, "supplier")}).scope2
    assert half.market_co2e_g is None and half.market_covered_share == pytest.approx(1.7 / 9.9)


def test_models_table_joins_ledger_figures_profiles_and_gates(world) -> None:
    profile = profile_from_dict(
        {
            "model": "resnet",
            "version": "2",
            "accuracy": 0.9,
            "latency_p95_ms": 11.0,
            "energy_per_1k_j": 1000.0,
            "energy_method": "measured",
            "flops": 4e9,
            "size_bytes": 100,
            "training_co2e_kg": 0.05,
        }
    )
    data = _collect(world.url, profiles=[profile])
    rows = {(m.model, m.version): m for m in data.models}
    assert set(rows) == {("resnet", "1"), ("resnet", "2"), ("resnet", "3"), ("bert", "1")}
    assert rows[("resnet", "3")].training.records == 0 and rows[("resnet", "3")].gate == "reject"
    v1 = rows[("resnet", "1")]
    with open_ledger(world.url, create=False, environ={}) as ledger:
        lifetime = training_co2e(ledger, model="resnet", version="1").co2e_kg
    # The same records as lowcarb.profiling counts, less the 40 kg appended before the period.
    assert v1.training.co2e_g / 1000 == pytest.approx((lifetime or 0.0) - 40.0)
    v2 = rows[("resnet", "2")]
    assert v2.profile is not None and v2.profile["accuracy"] == 0.9
    assert v2.inferences == 100_000 and v2.energy_per_1k_j_ledger == pytest.approx(18_000)
    assert rows[("bert", "1")].profile is None


def test_scheduler_savings_weight_jobs_by_run_time(world) -> None:
    s = _collect(world.url).scheduler
    assert s.available and s.jobs == 2 and s.hours == pytest.approx(3.0)
    assert s.planned_intensity_g_per_kwh == pytest.approx(500 / 3)
    assert s.immediate_intensity_g_per_kwh == pytest.approx(700 / 3)
    assert s.savings_pct == pytest.approx((1 - 500 / 700) * 100)
    assert s.forecast_saved_co2e_g == pytest.approx(200)
    assert s.realised_jobs == 1 and s.realised_savings_pct == pytest.approx((1 - 220 / 300) * 100)
    assert [t["team"] for t in s.by_team] == ["nlp", "vision"]
    assert _collect(world.url, team="nlp").scheduler.jobs == 1


def test_tuning_fronts_come_from_trials_that_carry_their_metric(world) -> None:
    studies = {s.study: s for s in _collect(world.url).tuning}
    s1 = studies["s1"]
    assert s1.figures.records == 3 and s1.figures.energy_kwh == pytest.approx(0.6)
    assert [(p.trial, p.metric) for p in s1.front] == [(0, 0.8), (1, 0.9)]
    assert studies["s2"].front == () and "Optuna storage" in (studies["s2"].front_reason or "")


def test_decisions_are_read_by_their_recorded_fields(world) -> None:
    d = _collect(world.url).decisions
    assert d.total == 2 and not d.truncated
    retrain, gate = d.rows  # newest first
    assert (retrain.type, retrain.outcome) == ("retrain", "retrain")
    assert "drift in 3 of 5 features" in retrain.summary
    assert (gate.type, gate.outcome, gate.model, gate.version) == ("gate", "reject", "resnet", "3")
    assert "budget" in gate.summary and "max_energy_increase_pct" in gate.summary
    (budget,) = d.budgets
    assert (budget.scope, budget.state, budget.spent_co2e_kg) == ("team=vision", "exhausted", 1.5)
    assert sorted(d.counts) == [("gate", "reject", 1), ("retrain", "retrain", 1)]
    models = {(m.model, m.version): m for m in _collect(world.url).models}
    assert models[("resnet", "3")].gate == "reject"


def test_audit_names_sources_licences_and_what_verification_proves(world) -> None:
    a = _collect(world.url).audit
    sources = {s.source: s for s in a.sources}
    assert "ODbL 1.0" in sources["static:electricitymaps-2022-lca"].licence
    assert sources["trace:fr_2024.csv"].provider == "a trace file the user supplied"
    assert a.entries == 14 and len(a.head_hash) == 64
    assert "edit of a record" in a.proves["ruled_out"]
    assert any("truncation" in item for item in a.proves["not_ruled_out"])


def test_an_engine_works_as_well_as_a_ledger(world) -> None:
    engine = create_engine(world.url)
    try:
        data = collect(engine, ReportQuery(SINCE, UNTIL), verify=False)
    finally:
        engine.dispose()
    assert data.totals.records == 9 and data.audit.entries == 14


def test_a_tampered_ledger_is_reported_not_hidden(world) -> None:
    import sqlite3

    path = world.url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER lowcarb_ledger_no_update")
        conn.execute(
            "UPDATE lowcarb_ledger SET body = replace(body, '\"nlp\"', '\"NLP\"') WHERE seq = 7"
        )
    finally:
        conn.close()
    data = _collect(world.url)
    assert data.audit.verify is not None and data.audit.verify["ok"] is False
    assert data.notes[0].startswith("LEDGER VERIFICATION FAILED: record #7")


def _comparable(d: ReportData) -> dict[str, object]:
    doc = d.to_dict()
    doc.pop("generated_at")
    doc["audit"] = {
        k: v for k, v in doc["audit"].items() if k in ("entries", "sources", "superseded")
    }
    for row in doc["decisions"]["rows"]:
        row.pop("record_id")
    return doc


def test_postgresql_and_sqlite_give_the_same_report(
    postgres_url: str, make_world, tmp_path
) -> None:
    lite = make_world(f"sqlite:///{tmp_path / 'l.db'}")
    pg = make_world(postgres_url)
    _same(_comparable(_collect(lite.url)), _comparable(_collect(pg.url)), "report")


def _same(a: object, b: object, where: str) -> None:
    """Equal, floats to 1e-9 (the two databases add in different orders)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=REL, abs=1e-12), where
    else:
        assert a == b, where


@pytest.mark.parametrize(
    ("since", "until"),
    [(SINCE, UNTIL), (datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))],
)
def test_a_team_filter_gives_the_same_figures_whichever_index_reads_it(
    world, since: datetime, until: datetime
) -> None:
    """SQLite reads by the team index for a long period, by the timestamp index for a short one
    (the vision team has 9 records in all; the first period 12, the second 2)."""
    with open_ledger(world.url, create=False, environ={}) as ledger:
        data = collect(ledger, ReportQuery(since, until, team="vision"), verify=False)
        ref = ledger.totals("team", RecordFilter(team="vision", since=since, until=until)).total
    assert data.totals.records == ref.records > 0
    assert data.totals.co2e_g == pytest.approx(ref.location_co2e_g, rel=REL)
