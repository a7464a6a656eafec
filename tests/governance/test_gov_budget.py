"""Carbon budgets: calendar periods, spend from a real ledger, warn-or-refuse, training CO2e."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from lowcarb.energy import ComponentEnergy, Measurement
from lowcarb.errors import BudgetExceededError, LedgerError, UsageError
from lowcarb.governance import (
    budget_report,
    check_budgets,
    enforce_budgets,
    parse_policy,
    period_bounds,
)
from lowcarb.grid import Footprint, Intensity, price
from lowcarb.ledger import Attribution, RecordDraft, draft_from_footprint, open_ledger
from lowcarb.profiling import training_co2e

NOW = datetime(2025, 5, 20, 12, 0, tzinfo=UTC)
POLICY = parse_policy(
    """
budgets:
  - {team: vision, period: month, co2e_kg: 10, on_exceed: refuse}
  - {team: vision, period: year, co2e_kg: 100, on_exceed: warn, warn_at_pct: 5}
  - {project: chatbot, period: week, co2e_kg: 1, on_exceed: warn}
"""
)


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("day", datetime(2025, 5, 20, tzinfo=UTC), datetime(2025, 5, 21, tzinfo=UTC)),
        ("week", datetime(2025, 5, 19, tzinfo=UTC), datetime(2025, 5, 26, tzinfo=UTC)),
        ("month", datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)),
        ("quarter", datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)),
        ("year", datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_period_bounds(period: str, start: datetime, end: datetime) -> None:
    assert period_bounds(period, NOW) == (start, end)  # type: ignore[arg-type]


def test_period_bounds_at_year_end_and_in_other_timezones() -> None:
    december = datetime(2025, 12, 31, 23, 59, tzinfo=UTC)
    assert period_bounds("month", december)[1] == datetime(2026, 1, 1, tzinfo=UTC)
    assert period_bounds("quarter", december) == (
        datetime(2025, 10, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    # 00:30 on June 1st in UTC+2 is still May 31st in UTC: periods are UTC calendar periods.
    plus_two = datetime.fromisoformat("2025-06-01T00:30:00+02:00")
    assert period_bounds("month", plus_two)[0] == datetime(2025, 5, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        period_bounds("month", datetime(2025, 6, 1))


def _footprint_kg(kg: float) -> Footprint:
    # 1 kWh at 1000 g/kWh is 1 kg.
    m = Measurement("run", NOW, 60.0, (ComponentEnergy("cpu", kg * 3.6e6, "measured", "test"),))
    return price(m, intensity=Intensity("XX", 1000.0, "test"), pue=1.0)


def _draft(kg: float, **attribution: str) -> RecordDraft:
    return draft_from_footprint(_footprint_kg(kg), attribution=Attribution(**attribution))


@pytest.fixture(params=["sqlite", "postgres"])
def budget_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ledger with runs at known times, on both backends: what budgets must and must not
    count. (Named apart from conftest's ``ledger_url`` so it cannot shadow it.)"""
    url = (
        f"sqlite:///{tmp_path / 'budget.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    times = iter(
        [
            datetime(2025, 5, 2, tzinfo=UTC),  # vision, this month: 4 kg
            datetime(2025, 5, 19, tzinfo=UTC),  # vision, this month, corrected below: 5 -> 3 kg
            datetime(2025, 4, 30, 23, 59, tzinfo=UTC),  # vision, last month: 50 kg
            datetime(2025, 5, 19, 10, tzinfo=UTC),  # another team, this week: 70 kg
            datetime(2025, 5, 20, tzinfo=UTC),  # the correction
        ]
    )
    with open_ledger(url, environ={}, clock=lambda: next(times)) as ledger:
        ledger.append(_draft(4, team="vision", project="detector", model="det", model_version="1"))
        wrong = ledger.append(
            _draft(5, team="vision", model="det", model_version="2", stage="training")
        )
        ledger.append(_draft(50, team="vision", model="det", model_version="2"))
        ledger.append(
            _draft(
                70, team="nlp", project="chatbot", model="det", model_version="2", stage="serving"
            )
        )
        ledger.correct(
            wrong.id,
            _draft(3, team="vision", model="det", model_version="2", stage="training"),
            reason="meter double-counted",
        )
    return url


def test_budget_status_sums_the_period_with_corrections(budget_ledger: str) -> None:
    month, year = budget_report(
        POLICY, ledger_url=budget_ledger, team="vision", now=NOW, environ={}
    )
    assert month.spent_kg == pytest.approx(4 + 3)
    assert month.records == 2
    assert month.state == "ok"
    assert month.remaining_kg == pytest.approx(3.0)
    assert year.spent_kg == pytest.approx(4 + 3 + 50)
    assert year.state == "warning"  # 57 % of 100 kg, warn_at_pct 5
    d = month.to_dict()
    assert d["period_start"] == "2025-05-01T00:00:00+00:00"
    assert d["limit_co2e_kg"] == 10.0 and d["used_pct"] == pytest.approx(70.0)
    (chatbot,) = budget_report(
        POLICY, ledger_url=budget_ledger, project="chatbot", now=NOW, environ={}
    )
    assert chatbot.state == "exhausted"


def test_check_refuses_a_hard_budget_and_warns_on_a_soft_one(budget_ledger: str) -> None:
    statuses, warnings = check_budgets(
        POLICY,
        ledger_url=budget_ledger,
        team="vision",
        project=None,
        co2e_kg=3.0,
        now=NOW,
        environ={},
    )
    assert len(statuses) == 2 and warnings == []  # 7 + 3 = 10: at the limit, not past it
    with pytest.raises(BudgetExceededError, match="would exceed the carbon budget team=vision"):
        check_budgets(
            POLICY,
            ledger_url=budget_ledger,
            team="vision",
            project=None,
            co2e_kg=3.01,
            now=NOW,
            environ={},
        )
    assert BudgetExceededError("x").exit_code == 1
    _, warnings = check_budgets(
        POLICY,
        ledger_url=budget_ledger,
        team="nlp",
        project="chatbot",
        co2e_kg=0.0,
        now=NOW,
        environ={},
    )
    assert len(warnings) == 1 and "carbon budget is spent" in warnings[0]
    # No budget applies to this team: nothing to check, the ledger is not even needed.
    assert check_budgets(POLICY, ledger_url=None, team="ops", project=None, co2e_kg=9.0) == ((), [])


def test_budgets_fail_closed_without_a_ledger(sqlite_url: str) -> None:
    with pytest.raises(UsageError, match="no ledger is configured"):
        check_budgets(POLICY, ledger_url=None, team="vision", project=None, co2e_kg=0.0)
    # A ledger that does not exist yet proves nothing: it is not created empty.
    with pytest.raises(LedgerError, match="cannot read carbon budgets"):
        budget_report(POLICY, ledger_url=sqlite_url, now=NOW, environ={})
    with pytest.raises(UsageError, match="has no carbon budgets for team=ops"):
        budget_report(POLICY, ledger_url=sqlite_url, team="ops", now=NOW, environ={})


def test_enforce_budgets_rejects_negative_amounts(budget_ledger: str) -> None:
    statuses = budget_report(POLICY, ledger_url=budget_ledger, team="vision", now=NOW, environ={})
    with pytest.raises(ValueError, match="co2e_kg must be >= 0"):
        enforce_budgets(statuses, co2e_kg=-1.0)


def test_training_co2e_counts_training_runs_of_the_version(budget_ledger: str) -> None:
    with open_ledger(budget_ledger, environ={}) as ledger:
        v2 = training_co2e(ledger, model="det", version="2")
        v1 = training_co2e(ledger, model="det", version="1")
        v9 = training_co2e(ledger, model="det", version="9")
    # v2: the corrected 3 kg training run and the 50 kg run without a stage; not serving.
    assert v2.co2e_kg == pytest.approx(53.0)
    assert v2.records == 2
    assert v1.co2e_kg == pytest.approx(4.0)
    assert (v9.co2e_kg, v9.records) == (None, 0)
    assert v2.source.startswith("ledger:" + budget_ledger.split("://")[0])
