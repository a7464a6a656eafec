"""lowcarb.grid (see DESIGN.md)."""
