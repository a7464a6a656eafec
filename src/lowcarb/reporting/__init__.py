"""lowcarb.reporting (see DESIGN.md)."""
