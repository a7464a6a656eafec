"""lowcarb.governance (see DESIGN.md)."""
