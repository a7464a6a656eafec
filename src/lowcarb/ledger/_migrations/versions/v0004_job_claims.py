"""The job store's claim indexes, each job's latest start, and its wrapper's stored result.

Revision ID: 0004
Revises: 0003
Create Date: 2027-02-01

Before this revision a claim read every row of ``lowcarb_jobs`` (a GROUP BY team over the whole
table, history included, then every due row of the chosen team): 4.7 ms per claim with no
finished job, 88 ms (PostgreSQL) and 224 ms (SQLite) with 100,000. From here each step of a claim
(see ``lowcarb.jobs._fair``) reads an index that holds only what it needs, so its cost follows
the number of teams, not of jobs (5.5 ms with 100,000 finished jobs):

* ``latest_start``: a job's latest feasible start (deadline minus its remaining run time), kept
  by the job store whenever the deadline, the duration or the work done changes; filled in here
  for the rows already there. Jobs about to miss their deadline are claimed in its order.
* ``run_result``: what the job wrapper of the current attempt left when its command ended (the
  JSON of its ``result.json``), stored by the wrapper itself, so that a worker on another host
  can record a run whose worker died instead of running it again. NULL until then.
* ``ix_lowcarb_jobs_due`` (team, planned start, deadline, submission, id) and
  ``ix_lowcarb_jobs_urgent`` (latest start, id), both partial: only queued or paused jobs with a
  plan, in the order a claim takes them; ``ix_lowcarb_jobs_team_claim`` (team, run start): each
  team's last claim, over the history too (a backward index probe per team). Both team indexes
  key a job without a team as ``coalesce(team, '')``;
  ``ix_lowcarb_jobs_replan`` (planned at, submission, id), partial (queued or paused jobs): the
  jobs a worker plans next.

The predicates are written with constants, as the store's queries are, so that PostgreSQL's
generic plans and SQLite's planner can prove a query stays inside a partial index. On
PostgreSQL the indexes are built inside the upgrade's transaction (``CREATE INDEX``, not
``CONCURRENTLY``): writers to the jobs table wait for it (4.3 s with 100,000 jobs on a 2-core
machine; SQLite 1.2 s).
Written out here, frozen; ``lowcarb.jobs._job.JOBS`` describes the same table (a test compares).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLE = "lowcarb_jobs"
#: Queued or paused jobs with a plan: what a claim may take.
_CLAIMABLE = "state IN ('queued', 'paused') AND planned_start IS NOT NULL"
_WAITING = "state IN ('queued', 'paused')"
#: A job's team as the indexes key it: jobs without a team are the team '' (a name the job store
#: refuses), so that an index probe finds them too (PostgreSQL orders no index scan by a column
#: after an IS NULL condition).
_TEAM_KEY = "coalesce(team, '')"

#: latest_start = deadline - max(0, duration_h - work_done_h) hours, as the store computes it.
_PG_BACKFILL = (
    "UPDATE lowcarb_jobs SET latest_start = "
    "deadline - interval '1 hour' * greatest(0.0, duration_h - work_done_h)"
)
# SQLite keeps times as SQLAlchemy writes them ('YYYY-MM-DD HH:MM:SS.ffffff'); strftime's %f
# gives milliseconds, so three zeros complete the microseconds.
_SQLITE_BACKFILL = (
    "UPDATE lowcarb_jobs SET latest_start = strftime('%Y-%m-%d %H:%M:%f', "
    "julianday(deadline) - max(0.0, duration_h - work_done_h) / 24.0) || '000'"
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column(_TABLE, sa.Column("latest_start", sa.DateTime(timezone=True)))
    op.add_column(_TABLE, sa.Column("run_result", sa.Text()))
    op.execute(_PG_BACKFILL if dialect == "postgresql" else _SQLITE_BACKFILL)
    op.create_index(
        "ix_lowcarb_jobs_due",
        _TABLE,
        [sa.text(_TEAM_KEY), "planned_start", "deadline", "created_at", "id"],
        postgresql_where=sa.text(_CLAIMABLE),
        sqlite_where=sa.text(_CLAIMABLE),
    )
    op.create_index(
        "ix_lowcarb_jobs_urgent",
        _TABLE,
        ["latest_start", "id"],
        postgresql_where=sa.text(_CLAIMABLE),
        sqlite_where=sa.text(_CLAIMABLE),
    )
    op.create_index("ix_lowcarb_jobs_team_claim", _TABLE, [sa.text(_TEAM_KEY), "run_started_at"])
    op.create_index(
        "ix_lowcarb_jobs_replan",
        _TABLE,
        ["planned_at", "created_at", "id"],
        postgresql_where=sa.text(_WAITING),
        sqlite_where=sa.text(_WAITING),
    )
    if dialect == "postgresql":
        op.execute("ANALYZE lowcarb_jobs")


def downgrade() -> None:
    raise NotImplementedError("the lowcarb ledger's schema is never downgraded")
