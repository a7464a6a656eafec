"""Models side by side: accuracy, p95 latency, training CO2e, inference energy per 1,000.

One set of rows (:func:`comparison_rows`) rendered three ways: a Rich table for terminals,
GitHub-flavoured Markdown for pull requests and model cards, and JSON for tools. The first profile
is the reference the others' changes are computed against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.table import Table

from lowcarb._text import plain, safe
from lowcarb.errors import UsageError
from lowcarb.profiling import Profile

__all__ = ["comparison_json", "comparison_markdown", "comparison_rows", "comparison_table"]


def comparison_rows(profiles: Sequence[Profile]) -> list[dict[str, Any]]:
    """One row per profile, with changes relative to the first.

    Raises:
        UsageError: No profiles.
    """
    if not profiles:
        raise UsageError("compare needs at least one profile")
    ref = profiles[0]
    rows = []
    for p in profiles:
        energy_change = (
            (p.energy_per_1k_j - ref.energy_per_1k_j) / ref.energy_per_1k_j * 100.0
            if ref.energy_per_1k_j > 0
            else None
        )
        rows.append(
            {
                "model": p.model,
                "version": p.version,
                "accuracy": p.accuracy,
                "latency_p95_ms": p.latency_p95_ms,
                "training_co2e_kg": p.training_co2e_kg,
                "energy_per_1k_j": p.energy_per_1k_j,
                "energy_method": p.energy_method,
                "flops": p.flops,
                "params": p.params,
                "size_bytes": p.size_bytes,
                "accuracy_change_pts": (p.accuracy - ref.accuracy) * 100.0,
                "energy_change_pct": energy_change,
            }
        )
    return rows


def _co2e(kg: float | None) -> str:
    if kg is None:
        return "unknown"
    return f"{kg:.3g} kg" if kg >= 1 else f"{kg * 1000:.3g} g"


def _energy(row: dict[str, Any]) -> str:
    return f"{row['energy_per_1k_j']:.4g} J ({row['energy_method']})"


def _change(row: dict[str, Any], first: bool) -> str:
    if first:
        return "reference"
    pct = row["energy_change_pct"]
    energy = "n/a" if pct is None else f"{pct:+.1f}%"
    return f"energy {energy}, accuracy {row['accuracy_change_pts']:+.2f} pts"


def _cells(row: dict[str, Any], first: bool) -> list[str]:
    return [
        f"{row['model']}@{row['version']}",
        f"{row['accuracy'] * 100:.2f}%",
        f"{row['latency_p95_ms']:.3f} ms",
        _co2e(row["training_co2e_kg"]),
        _energy(row),
        _change(row, first),
    ]


_HEADERS = (
    "Model",
    "Accuracy",
    "p95 latency",
    "Training CO2e",
    "Energy / 1k inferences",
    "vs first",
)


# The terminal table: short headers and cells, no vertical rules, long names folded (never cut
# with "…"), so it stays whole in a 60-column terminal. Markdown keeps the long forms.
_TABLE_HEADERS = ("Model", "Acc.", "p95 ms", "CO2e", "J/1k", "vs first")


def _table_cells(row: dict[str, Any], first: bool) -> list[str]:
    """Cells ready for Rich: the name escaped, the figures formatted here."""
    energy = f"{row['energy_per_1k_j']:.4g}"
    if row["energy_method"] != "measured":
        energy = "~" + energy  # estimated; the caption says so
    if first:
        change = "reference"
    else:
        pct = row["energy_change_pct"]
        change = (
            f"{'n/a' if pct is None else f'{pct:+.1f}%'} J\n{row['accuracy_change_pts']:+.2f} pts"
        )
    return [
        safe(f"{row['model']}@{row['version']}"),
        f"{row['accuracy'] * 100:.2f}%",
        f"{row['latency_p95_ms']:.3g}",
        _co2e(row["training_co2e_kg"]),
        energy,
        change,
    ]


def comparison_table(rows: Sequence[dict[str, Any]], *, title: str | None = None) -> Table:
    """A Rich table of :func:`comparison_rows` that stays readable in 60 columns."""
    estimated = any(r["energy_method"] != "measured" for r in rows)
    table = Table(
        title=safe(title or "model comparison"),
        caption="~ energy estimated, not measured" if estimated else None,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column(_TABLE_HEADERS[0], overflow="fold", ratio=1)
    for header in _TABLE_HEADERS[1:5]:
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column(_TABLE_HEADERS[5], no_wrap=True)
    for i, row in enumerate(rows):
        table.add_row(*_table_cells(row, i == 0))
    return table


def comparison_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """GitHub-flavoured Markdown table of :func:`comparison_rows` (ends with a newline)."""
    lines = [
        "| " + " | ".join(_HEADERS) + " |",
        "|" + "|".join(["---", "---:", "---:", "---:", "---:", "---"]) + "|",
    ]
    for i, row in enumerate(rows):
        cells = [plain(c).replace("|", "\\|") for c in _cells(row, i == 0)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def comparison_json(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The ``lowcarb compare --json`` object: ``{reference, models: [...]}``."""
    first = rows[0] if rows else None
    return {
        "reference": None if first is None else f"{first['model']}@{first['version']}",
        "models": list(rows),
    }
