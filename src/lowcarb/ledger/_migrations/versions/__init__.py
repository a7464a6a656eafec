"""Alembic revision files, one per schema version (see ``_schema.KNOWN_REVISIONS``)."""
