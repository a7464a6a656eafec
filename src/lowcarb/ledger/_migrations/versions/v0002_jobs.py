"""The job store's table, ``lowcarb_jobs``, beside the ledger (see :mod:`lowcarb.jobs`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

Before this revision the job queue made its table itself (SQLAlchemy ``create_all``) the first
time it opened a ledger, so a ledger at 0001 may already hold ``lowcarb_jobs``, with jobs in it.
Such a table is kept as it is (same columns and index as below: it was made from the same
description); only a missing state index is added. Otherwise the table is created.

The table is written out here, frozen, as a migration must not change after release; the job
store's own description (``lowcarb.jobs._job.JOBS``) must agree with it, which a test checks.
The ledger's append-only triggers do not cover it: jobs are working state, not audit records.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLE = "lowcarb_jobs"
_STATE_INDEX = "ix_lowcarb_jobs_state"


def _columns() -> list[sa.Column[Any]]:
    aware = sa.DateTime(timezone=True)
    return [
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", aware, nullable=False),
        sa.Column("updated_at", aware, nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("cwd", sa.Text(), nullable=False),
        sa.Column("state_dir", sa.Text(), nullable=False),
        sa.Column("zones", sa.Text(), nullable=False),
        sa.Column("duration_h", sa.Float(), nullable=False),
        sa.Column("deadline", aware, nullable=False),
        sa.Column("interruptible", sa.Boolean(), nullable=False),
        sa.Column("min_chunk_h", sa.Float(), nullable=False),
        sa.Column("pause_overhead_h", sa.Float(), nullable=False),
        sa.Column("power_w", sa.Text()),
        sa.Column("team", sa.String(200)),
        sa.Column("project", sa.String(200)),
        sa.Column("work_done_h", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("planned_at", aware),
        sa.Column("planned_start", aware),
        sa.Column("plan", sa.Text()),
        sa.Column("worker_id", sa.String(64)),
        sa.Column("worker_host", sa.String(255)),
        sa.Column("worker_pid", sa.Integer()),
        sa.Column("child_pid", sa.Integer()),
        sa.Column("child_create_time", sa.Float()),
        sa.Column("lease_until", aware),
        sa.Column("pause_requested", sa.Boolean(), nullable=False),
        sa.Column("started_at", aware),
        sa.Column("run_started_at", aware),
        sa.Column("finished_at", aware),
        sa.Column("exit_code", sa.Integer()),
        sa.Column("record_ids", sa.Text(), nullable=False),
        sa.Column("realised_intensity_g_per_kwh", sa.Float()),
        sa.Column("note", sa.Text(), nullable=False),
    ]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(_TABLE):
        op.create_table(_TABLE, *_columns())
    elif any(ix["name"] == _STATE_INDEX for ix in inspector.get_indexes(_TABLE)):
        return
    op.create_index(_STATE_INDEX, _TABLE, ["state"])


def downgrade() -> None:
    raise NotImplementedError("the lowcarb ledger's schema is never downgraded")
