"""lowcarb.energy (see DESIGN.md)."""
