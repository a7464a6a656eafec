"""lowcarb.tuning (see DESIGN.md)."""
