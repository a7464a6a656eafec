"""lowcarb.serving (see DESIGN.md)."""
