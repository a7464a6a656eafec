"""Reports of who emitted what: footprint tables (CodeCarbon-compatible CSV is a tracking sink)."""

from lowcarb.reporting._table import format_energy, print_footprint

__all__ = ["format_energy", "print_footprint"]
