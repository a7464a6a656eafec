"""The footprint table: hostile names shown literally, readable on a 60-column terminal."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

from rich.console import Console

from lowcarb.grid import static_intensity
from lowcarb.ledger.testing import sample_footprint
from lowcarb.reporting import format_energy, print_footprint
from lowcarb.tracking import footprint_to_dict


def _render(out: dict[str, Any], *, title: str = "run", width: int = 60) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, soft_wrap=False, highlight=False, color_system=None)
    print_footprint(console, out, title=title)
    return buf.getvalue()


def _footprint(**changes: Any) -> dict[str, Any]:
    footprint = sample_footprint()
    footprint = dataclasses.replace(footprint, intensity=static_intensity("aws:eu-central-1"))
    out = footprint_to_dict(footprint)
    out.update({"exit_code": 0, "record_id": "01a2052a-b480-7a4d-b53c-f36922cfed91", **changes})
    return out


def test_names_and_fields_are_shown_literally_never_as_markup_or_escapes() -> None:
    out = _footprint(zone="[bold red]APPROVED", record_id="[/]")
    out["components"][0].update(name="[/]\x1b[31mcpu", method="[blink]m", source="[link=x]s")
    text = _render(out, title="lowcarb run: [red]x[/]", width=200)  # a MarkupError would raise
    assert "\x1b" not in text
    for literal in ("[bold red]APPROVED", "[blink]m", "[link=x]s", "lowcarb run: [red]x[/]"):
        assert literal in text
    assert "ledger record   [/]" in text


def test_readable_at_60_columns() -> None:
    text = _render(_footprint(), width=60)
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines)
    # Each fact starts on its own line with its label; a long provenance wraps under the value
    # column (16 spaces), not back to column 0.
    labels = ("duration", "energy ", "grid intensity", "emissions", "exit code", "ledger record")
    for label in labels:
        assert sum(line.startswith(label) for line in lines) == 1, label
    start = next(i for i, line in enumerate(lines) if line.startswith("grid intensity"))
    assert lines[start + 1].startswith(" " * 16) and lines[start + 1].strip()
    assert "01a2052a-b480-7a4d-b53c-f36922cfed91" in text  # ids are not cut with an ellipsis
    assert "…" not in text


def test_format_energy_units() -> None:
    assert format_energy(12.34) == "12.3 J"
    assert format_energy(7200.0) == "2.00 Wh"
    assert format_energy(3.6e6) == "1.000 kWh"


def test_install_hints_in_notes_are_not_eaten_as_markup() -> None:
    hint = "GPU not measured: nvidia-ml-py is missing; pip install 'lowcarb[nvidia]'"
    text = _render(_footprint(notes=[hint]), width=200)
    assert hint in text
