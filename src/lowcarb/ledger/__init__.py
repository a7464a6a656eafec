"""lowcarb.ledger: the tamper-evident, append-only carbon ledger.

Every kilogram of CO2e lowcarb measures is appended here, attributed to a team, project, model and
run, as a SHA-256 hash-chained record in SQLite (embedded default, ``.lowcarb/ledger.db``) or
PostgreSQL (shared by a team). There is no update or delete: mistakes are fixed by appending a
correction that references the corrected record. ``verify`` names the first record that was
edited, deleted, inserted or reordered; checkpoints and optional Ed25519 signatures cover what a
chain alone cannot (a truncated tail, a recomputed chain).

Example::

    from lowcarb.ledger import Attribution, draft_from_footprint, open_ledger

    with open_ledger() as ledger:
        record = ledger.append(
            draft_from_footprint(footprint, attribution=Attribution(team="vision", project="det"))
        )
        assert ledger.verify().ok

Modules: ``_record`` (types), ``_canonical`` (serialisation and hash, documented there),
``_chain`` (verification, checkpoints), ``_signing``, ``_schema`` + ``_migrations`` (Alembic),
``_engines`` + ``_setup`` + ``_sql`` + ``_sql_read`` (stores), ``_query`` (filters, totals),
``_export``, ``_ledger`` (the :class:`Ledger`) + ``_append_batch`` (an append's drafts checked
and encoded), ``_handoff`` + ``_queue_files`` + ``_wake`` + ``_group`` + ``_committer`` (group
commit), ``_tokens`` + ``_token_types`` (the dashboard's API tokens, beside the ledger);
``testing`` has sample footprints and drafts for tests.
:func:`open_engine` opens the ledger database the same way for tables kept beside the ledger
(the job store's ``lowcarb_jobs``, created by the migrations like the ledger's own tables).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lowcarb._lazy import lazy_attributes as _lazy_attributes
from lowcarb.ledger._canonical import GENESIS_HASH, record_dict
from lowcarb.ledger._record import (
    KNOWN_KINDS,
    Attribution,
    MarketFactor,
    Record,
    RecordDraft,
    draft_from_footprint,
)

if TYPE_CHECKING:
    from lowcarb.ledger._chain import Checkpoint, VerifyResult
    from lowcarb.ledger._engines import DEFAULT_URL, ENV_VAR
    from lowcarb.ledger._export import EXPORT_FORMATS, FLAT_COLUMNS
    from lowcarb.ledger._ledger import SIGNING_KEY_ENV_VAR, Ledger, open_ledger
    from lowcarb.ledger._query import GroupBy, RecordFilter, TotalRow, Totals
    from lowcarb.ledger._setup import open_engine
    from lowcarb.ledger._signing import Ed25519Signer, TrustedKey
    from lowcarb.ledger._sql import SqlLedgerStore
    from lowcarb.ledger._token_types import TOKEN_SCOPES, ApiToken, IssuedToken, TokenCheck
    from lowcarb.ledger._tokens import TokenStore, open_token_store

# The records and their hash load at once; the stores (SQLAlchemy) on first use (PEP 562), so a
# training script that only builds a Tracker does not pay for a database driver.
_LAZY: dict[str, str] = {
    "Checkpoint": "lowcarb.ledger._chain",
    "VerifyResult": "lowcarb.ledger._chain",
    "DEFAULT_URL": "lowcarb.ledger._engines",
    "ENV_VAR": "lowcarb.ledger._engines",
    "EXPORT_FORMATS": "lowcarb.ledger._export",
    "FLAT_COLUMNS": "lowcarb.ledger._export",
    "SIGNING_KEY_ENV_VAR": "lowcarb.ledger._ledger",
    "Ledger": "lowcarb.ledger._ledger",
    "open_ledger": "lowcarb.ledger._ledger",
    "GroupBy": "lowcarb.ledger._query",
    "RecordFilter": "lowcarb.ledger._query",
    "TotalRow": "lowcarb.ledger._query",
    "Totals": "lowcarb.ledger._query",
    "open_engine": "lowcarb.ledger._setup",
    "Ed25519Signer": "lowcarb.ledger._signing",
    "TrustedKey": "lowcarb.ledger._signing",
    "SqlLedgerStore": "lowcarb.ledger._sql",
    "TOKEN_SCOPES": "lowcarb.ledger._token_types",
    "ApiToken": "lowcarb.ledger._token_types",
    "IssuedToken": "lowcarb.ledger._token_types",
    "TokenCheck": "lowcarb.ledger._token_types",
    "TokenStore": "lowcarb.ledger._tokens",
    "open_token_store": "lowcarb.ledger._tokens",
}


__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY, globals())


__all__ = [
    "DEFAULT_URL",
    "ENV_VAR",
    "EXPORT_FORMATS",
    "FLAT_COLUMNS",
    "GENESIS_HASH",
    "KNOWN_KINDS",
    "SIGNING_KEY_ENV_VAR",
    "TOKEN_SCOPES",
    "ApiToken",
    "Attribution",
    "Checkpoint",
    "Ed25519Signer",
    "GroupBy",
    "IssuedToken",
    "Ledger",
    "MarketFactor",
    "Record",
    "RecordDraft",
    "RecordFilter",
    "SqlLedgerStore",
    "TokenCheck",
    "TokenStore",
    "TotalRow",
    "Totals",
    "TrustedKey",
    "VerifyResult",
    "draft_from_footprint",
    "open_engine",
    "open_ledger",
    "open_token_store",
    "record_dict",
]
