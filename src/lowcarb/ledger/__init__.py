"""lowcarb.ledger (see DESIGN.md)."""
