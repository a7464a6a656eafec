"""A stored job: the description of its table and its row snapshot.

The table, ``lowcarb_jobs`` in the ledger database, is created by the ledger's migrations
(revision 0002, ``lowcarb/ledger/_migrations/versions/v0002_jobs.py``; its claim indexes,
``latest_start`` and ``run_result`` in 0004), never by this module; :data:`JOBS` describes it for
queries and must agree with the migrations (a test compares them).

States::

    queued ──claim──► running ──exit 0──► succeeded
      ▲                 │  └──exit ≠ 0──► failed
      │                 └──paused by the worker (SIGTERM)──► paused ──claim──► running ...
      └── a run killed with its worker is re-queued (resumed from its checkpoint if it has one)
    queued/paused ──cancel──► cancelled
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from lowcarb.scheduling import JobSpec

__all__ = [
    "ACTIVE_STATES",
    "CANCELLABLE_STATES",
    "CLAIMABLE_SQL",
    "JOBS",
    "WAITING_SQL",
    "Job",
    "JobState",
    "encode_column",
    "latest_start",
]

JobState = Literal["queued", "running", "paused", "succeeded", "failed", "cancelled"]
#: States a worker may still act on.
ACTIVE_STATES: tuple[JobState, ...] = ("queued", "running", "paused")
#: States from which a job may be cancelled (a running job is stopped by its worker).
CANCELLABLE_STATES: tuple[JobState, ...] = ("queued", "paused")

#: Queued or paused jobs with a plan: what a claim may take. Written with constants (as the
#: partial indexes of migration 0004 are), so that every planner proves a query inside them.
CLAIMABLE_SQL = "state IN ('queued', 'paused') AND planned_start IS NOT NULL"
#: Queued or paused jobs, planned or not: what a worker plans.
WAITING_SQL = "state IN ('queued', 'paused')"

_meta = MetaData()
JOBS = Table(
    "lowcarb_jobs",
    _meta,
    Column("id", String(36), primary_key=True),
    Column("version", Integer, nullable=False, default=0),
    Column("state", String(16), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("command", Text, nullable=False),  # JSON list
    Column("cwd", Text, nullable=False),
    Column("state_dir", Text, nullable=False),
    Column("zones", Text, nullable=False),  # JSON list, first = home zone
    Column("duration_h", Float, nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("interruptible", Boolean, nullable=False),
    Column("min_chunk_h", Float, nullable=False),
    Column("pause_overhead_h", Float, nullable=False),
    Column("power_w", Text),  # JSON number/list or null
    Column("team", String(200)),
    Column("project", String(200)),
    Column("work_done_h", Float, nullable=False, default=0.0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("planned_at", DateTime(timezone=True)),
    Column("planned_start", DateTime(timezone=True)),
    Column("plan", Text),  # JSON of Plan.to_dict()
    Column("worker_id", String(64)),
    Column("worker_host", String(255)),
    Column("worker_pid", Integer),
    Column("child_pid", Integer),
    Column("child_create_time", Float),
    Column("lease_until", DateTime(timezone=True)),
    Column("pause_requested", Boolean, nullable=False, default=False),
    Column("started_at", DateTime(timezone=True)),
    Column("run_started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("exit_code", Integer),
    Column("record_ids", Text, nullable=False, default="[]"),
    Column("realised_intensity_g_per_kwh", Float),
    Column("note", Text, nullable=False, default=""),
    # Revision 0004: deadline minus remaining run time (kept by the store), and the wrapper's
    # result of the current attempt (JSON of its result.json, stored by the wrapper).
    Column("latest_start", DateTime(timezone=True)),
    Column("run_result", Text),
)


# The claim's indexes (revision 0004; see lowcarb.jobs._fair for the queries that read them).
# Jobs without a team are keyed as the team '' (a name that submit refuses), so that an index
# probe finds them as it finds any team's: PostgreSQL orders no index scan by a column after an
# ``IS NULL`` condition.
Index(
    "ix_lowcarb_jobs_due",
    text("coalesce(team, '')"),
    JOBS.c.planned_start,
    JOBS.c.deadline,
    JOBS.c.created_at,
    JOBS.c.id,
    postgresql_where=text(CLAIMABLE_SQL),
    sqlite_where=text(CLAIMABLE_SQL),
)
Index(
    "ix_lowcarb_jobs_urgent",
    JOBS.c.latest_start,
    JOBS.c.id,
    postgresql_where=text(CLAIMABLE_SQL),
    sqlite_where=text(CLAIMABLE_SQL),
)
Index("ix_lowcarb_jobs_team_claim", text("coalesce(team, '')"), JOBS.c.run_started_at)
Index(
    "ix_lowcarb_jobs_replan",
    JOBS.c.planned_at,
    JOBS.c.created_at,
    JOBS.c.id,
    postgresql_where=text(WAITING_SQL),
    sqlite_where=text(WAITING_SQL),
)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Job:
    """A stored job (a snapshot of its row).

    Times are timezone-aware UTC. ``plan`` is the latest plan as a JSON object (see
    :meth:`Plan.to_dict`), ``work_done_h`` the run time completed by earlier chunks, ``version``
    the row version used for conditional updates, ``latest_start`` the latest time it can start
    and still meet its deadline (deadline minus remaining run time), ``run_result`` what the job
    wrapper of the current attempt stored when its command ended (see :mod:`._jobwrap`).
    """

    id: str
    version: int
    state: JobState
    created_at: datetime
    updated_at: datetime
    command: tuple[str, ...]
    cwd: str
    state_dir: str
    zones: tuple[str, ...]
    duration_h: float
    deadline: datetime
    interruptible: bool
    min_chunk_h: float
    pause_overhead_h: float
    power_w: float | tuple[float, ...] | None
    team: str | None
    project: str | None
    work_done_h: float
    attempts: int
    planned_at: datetime | None
    planned_start: datetime | None
    plan: dict[str, Any] | None
    worker_id: str | None
    worker_host: str | None
    worker_pid: int | None
    child_pid: int | None
    child_create_time: float | None
    lease_until: datetime | None
    pause_requested: bool
    started_at: datetime | None
    run_started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    record_ids: tuple[str, ...]
    realised_intensity_g_per_kwh: float | None
    note: str
    latest_start: datetime | None = None
    run_result: dict[str, Any] | None = None

    @property
    def remaining_h(self) -> float:
        """Run time still to do, hours."""
        return max(0.0, self.duration_h - self.work_done_h)

    def remaining_spec(self) -> JobSpec:
        """The job as the planner sees it now: its remaining run time, by its deadline."""
        return JobSpec(
            duration_h=self.remaining_h,
            deadline=self.deadline,
            interruptible=self.interruptible,
            min_chunk_h=self.min_chunk_h,
            pause_overhead_h=self.pause_overhead_h,
            power_w=self.power_w,
        )

    @classmethod
    def _from_row(cls, row: Mapping[Any, Any]) -> Job:
        data = dict(row)
        for key in ("command", "zones", "record_ids"):
            data[key] = tuple(json.loads(data[key] or "[]"))
        power = json.loads(data["power_w"]) if data["power_w"] else None
        data["power_w"] = tuple(power) if isinstance(power, list) else power
        data["plan"] = json.loads(data["plan"]) if data["plan"] else None
        result = data.get("run_result")
        data["run_result"] = json.loads(result) if result else None
        for f in fields(cls):
            if f.type in ("datetime", "datetime | None"):
                data[f.name] = _utc(data[f.name])
        data["pause_requested"] = bool(data["pause_requested"])
        data["interruptible"] = bool(data["interruptible"])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``lowcarb jobs --json`` prints)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.strftime("%Y-%m-%dT%H:%M:%SZ")
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


def encode_column(key: str, value: Any) -> Any:
    """``value`` as stored in column ``key`` (UTC datetimes; JSON for lists and plans)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if key in ("command", "zones", "record_ids"):
        return json.dumps(list(value))
    if key in ("plan", "power_w", "run_result"):
        return None if value is None else json.dumps(value)
    return value


def latest_start(deadline: datetime, duration_h: float, work_done_h: float) -> datetime:
    """The latest start that still meets ``deadline``: the deadline minus the remaining run time
    (``duration_h - work_done_h``, at least 0), UTC. What column ``latest_start`` holds."""
    return deadline.astimezone(UTC) - timedelta(hours=max(0.0, duration_h - work_done_h))
