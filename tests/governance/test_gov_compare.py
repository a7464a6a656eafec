"""Side-by-side comparison rows, and their Markdown, Rich and JSON renderings."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from rich.console import Console

from lowcarb.errors import UsageError
from lowcarb.governance import (
    comparison_json,
    comparison_markdown,
    comparison_rows,
    comparison_table,
)
from lowcarb.profiling import profile_from_dict


def _p(version: str, **changes: Any) -> Any:
    data: dict[str, Any] = {
        "model": "clf",
        "version": version,
        "accuracy": 0.9,
        "latency_p95_ms": 2.0,
        "energy_per_1k_j": 100.0,
        "energy_method": "estimated",
        "flops": 10.0,
        "size_bytes": 10,
        "training_co2e_kg": 0.004,
    }
    data.update(changes)
    return profile_from_dict(data)


PROFILES = [
    _p("1"),
    _p("2", accuracy=0.925, latency_p95_ms=3.5, energy_per_1k_j=150.0, training_co2e_kg=12.5),
    _p("3", training_co2e_kg=None, energy_method="measured"),
]


def test_rows_carry_changes_against_the_first() -> None:
    rows = comparison_rows(PROFILES)
    assert [r["version"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["energy_change_pct"] == 0.0
    assert rows[1]["energy_change_pct"] == pytest.approx(50.0)
    assert rows[1]["accuracy_change_pts"] == pytest.approx(2.5)
    with pytest.raises(UsageError):
        comparison_rows([])
    assert comparison_rows([_p("1", energy_per_1k_j=0.0)])[0]["energy_change_pct"] is None


def test_markdown_is_a_github_table() -> None:
    assert comparison_markdown(comparison_rows(PROFILES)) == (
        "| Model | Accuracy | p95 latency | Training CO2e | Energy / 1k inferences | vs first |\n"
        "|---|---:|---:|---:|---:|---|\n"
        "| clf@1 | 90.00% | 2.000 ms | 4 g | 100 J (estimated) | reference |\n"
        "| clf@2 | 92.50% | 3.500 ms | 12.5 kg | 150 J (estimated) | energy +50.0%, "
        "accuracy +2.50 pts |\n"
        "| clf@3 | 90.00% | 2.000 ms | unknown | 100 J (measured) | energy +0.0%, "
        "accuracy +0.00 pts |\n"
    )


def test_the_table_fits_60_columns_without_cutting_figures() -> None:
    out = StringIO()
    Console(file=out, width=60, color_system=None).print(
        comparison_table(comparison_rows(PROFILES))
    )
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 60
    assert "…" not in text
    for cell in ("92.50%", "12.5 kg", "~150", "reference"):
        assert cell in text


def test_rich_table_and_json() -> None:
    out = StringIO()
    Console(file=out, width=160, color_system=None).print(
        comparison_table(comparison_rows(PROFILES))
    )
    text = out.getvalue()
    for cell in ("clf@2", "92.50%", " 3.5 ", "12.5 kg", "~150", "reference", "energy estimated"):
        assert cell in text
    data = comparison_json(comparison_rows(PROFILES))
    assert data["reference"] == "clf@1"
    assert data["models"][2]["training_co2e_kg"] is None
    assert set(data["models"][0]) >= {
        "model",
        "version",
        "accuracy",
        "latency_p95_ms",
        "training_co2e_kg",
        "energy_per_1k_j",
    }
