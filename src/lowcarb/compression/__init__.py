"""lowcarb.compression (see DESIGN.md)."""
