"""lowcarb.scheduling (see DESIGN.md)."""
