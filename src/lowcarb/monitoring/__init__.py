"""lowcarb.monitoring (see DESIGN.md)."""
