"""Reports of who emitted what: footprint tables and CodeCarbon-compatible CSV."""

from lowcarb.reporting._codecarbon import (
    CODECARBON_COLUMNS,
    append_emissions_csv,
    check_emissions_csv,
    emissions_row,
)
from lowcarb.reporting._table import format_energy, print_footprint

__all__ = [
    "CODECARBON_COLUMNS",
    "append_emissions_csv",
    "check_emissions_csv",
    "emissions_row",
    "format_energy",
    "print_footprint",
]
