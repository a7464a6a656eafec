"""Rich rendering of a profile (used by ``lowcarb profile``)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from lowcarb._text import safe
from lowcarb.profiling._profile import Profile

__all__ = ["print_profile"]


def print_profile(console: Console, profile: Profile) -> None:
    """The profile as a two-column table."""
    table = Table(title=f"efficiency profile of {safe(profile.label)}", title_justify="left")
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for key, value in profile.to_dict().items():
        if key == "notes":
            continue
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        table.add_row(key, safe(shown))
    console.print(table)
    for note in profile.notes:
        console.print(f"note: {safe(note)}", style="yellow")
