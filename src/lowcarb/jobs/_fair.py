"""Which due job a worker claims next: deadlines first, then round-robin between teams.

A queue claimed strictly by planned start lets one team that submits 10,000 jobs starve another
that submits ten. :meth:`JobStore.claim_next <lowcarb.jobs.JobStore.claim_next>` therefore takes,
among the jobs that are due (``queued``/``paused`` with a planned start at or before ``now``, or
whose latest feasible start has come):

1. **Deadlines first**: a job whose latest feasible start (deadline minus its remaining run
   time) has come would miss its deadline if it waited its team's turn; such jobs go before all
   others, least slack first.
2. **Then round-robin between teams**: the team whose last claim (the latest ``run_started_at``
   of its jobs) is oldest goes next; a team never claimed goes first of all; ties go to the team
   whose next job is due first, then by name. Jobs without a team form one team.
3. **Within a team**: planned start, then deadline, then submission order.

Concurrent workers on PostgreSQL each read the teams' last claims as committed when their claim
begins, so while several claims are in flight at once they may pick the same team and take its
next jobs (``SKIP LOCKED`` hands each a different one): the order is round-robin up to one claim
per concurrent worker. SQLite claims one at a time (``BEGIN IMMEDIATE``): the order is exact.

This module holds the SQL of claims and of lapsed leases; the store runs it in its transactions
(:mod:`._store`). Each statement is built once per dialect, with bound parameters (the time, the
team), so a claim costs the database's work and little of Python's.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Select,
    String,
    Update,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    update,
)
from sqlalchemy import select as sql_select

from lowcarb.jobs._job import JOBS, Job

__all__ = ["CLAIMABLE", "TeamTurn", "pick", "requeue_lapsed", "take", "team_turns"]

#: States a claim takes jobs from.
CLAIMABLE: tuple[str, ...] = ("queued", "paused")
#: How many of a team's first due jobs a PostgreSQL claim looks at before all of them: more than
#: the claims ever in flight at once for one team, so that the fallback is rare.
_AMONG = 32

_NOW = bindparam("now", type_=JOBS.c.planned_start.type)


def _params(now: datetime, **more: Any) -> dict[str, Any]:
    """Bound parameters of the statements below: ``now`` (and as SQLite text, ``now_text``)."""
    utc = now.astimezone(UTC)
    return {"now": utc, "now_text": utc.strftime("%Y-%m-%d %H:%M:%S.%f"), **more}


def _latest_start(dialect: str) -> ColumnElement[Any]:
    """A job's latest feasible start (deadline minus remaining run time), sortable.

    PostgreSQL: a timestamp. SQLite (times stored as ISO text): a Julian day number.
    """
    remaining_h = cast(JOBS.c.duration_h - JOBS.c.work_done_h, Float)
    if dialect == "postgresql":
        return JOBS.c.deadline - literal_column("interval '1 hour'") * remaining_h
    return func.julianday(JOBS.c.deadline) - remaining_h / 24.0


def _urgent(dialect: str) -> ColumnElement[bool]:
    """Jobs whose latest feasible start has come (at or before ``now``)."""
    if dialect == "postgresql":
        return _latest_start(dialect) <= _NOW
    return _latest_start(dialect) <= func.julianday(bindparam("now_text", type_=String))


def _due(dialect: str) -> ColumnElement[bool]:
    """Claimable jobs that are due: planned to start by ``now``, or urgent."""
    return and_(
        JOBS.c.state.in_(CLAIMABLE),
        JOBS.c.planned_start.is_not(None),
        or_(JOBS.c.planned_start <= _NOW, _urgent(dialect)),
    )


def _locked(dialect: str, query: Select[Any]) -> Select[Any]:
    return query.with_for_update(skip_locked=True) if dialect == "postgresql" else query


@dataclass(frozen=True, slots=True)
class TeamTurn:
    """A team with due jobs, and what decides its turn.

    Attributes:
        team: The team (None: jobs without a team).
        last_claim: When one of its jobs was last claimed (None: never).
        first_due: Planned start of its earliest due job.
        urgent: Whether one of its due jobs has reached its latest feasible start.
    """

    team: str | None
    last_claim: datetime | None
    first_due: datetime
    urgent: bool = False

    def key(self) -> tuple[bool, datetime, datetime, str]:
        """Sort key: never claimed first, then oldest last claim, earliest due, name."""
        last = self.last_claim or datetime.min.replace(tzinfo=UTC)
        return (self.last_claim is not None, last, self.first_due, self.team or "")


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@cache
def _turns_query(dialect: str) -> Select[Any]:
    """Per team: ``first_due`` (None: nothing due), ``urgent`` (0/1) and ``last_claim``.

    One pass over the table (its history included: the last claim is the latest
    ``run_started_at``), so that the cost does not grow with the number of teams.
    """
    due = _due(dialect)
    return sql_select(
        JOBS.c.team,
        func.min(case((due, JOBS.c.planned_start))).label("first_due"),
        func.max(case((and_(due, _urgent(dialect)), 1), else_=0)).label("urgent"),
        func.max(JOBS.c.run_started_at).label("last_claim"),
    ).group_by(JOBS.c.team)


def team_turns(rows: Sequence[Any]) -> list[TeamTurn]:
    """The teams with due jobs among the rows of the turns query, in turn order."""
    turns = [
        TeamTurn(
            team=r.team,
            last_claim=None if r.last_claim is None else _aware(r.last_claim),
            first_due=_aware(r.first_due),
            urgent=bool(r.urgent),
        )
        for r in rows
        if r.first_due is not None
    ]
    return sorted(turns, key=TeamTurn.key)


@cache
def _next_in_team(dialect: str, teamless: bool, among: int | None) -> Select[Any]:
    """The next due job (id, version, started_at) of team ``:team`` (or of no team), locked,
    skipping locked rows.

    ``among``: look only at the team's first ``among`` due jobs. PostgreSQL cannot stop sorting
    early under a row lock (it sorts every due row to lock the first), so the first ``among``
    are found without a lock (a top-N sort), then locked; :func:`pick` falls back to
    ``among=None`` when all of those are taken.
    """
    team = JOBS.c.team.is_(None) if teamless else JOBS.c.team == bindparam("team", type_=String)
    where = (_due(dialect), team)
    order = (JOBS.c.planned_start, JOBS.c.deadline, JOBS.c.created_at, JOBS.c.id)
    query = sql_select(JOBS.c.id, JOBS.c.version, JOBS.c.started_at).where(*where)
    if among is not None:
        first = sql_select(JOBS.c.id).where(*where).order_by(*order).limit(among)
        query = query.where(JOBS.c.id.in_(first))
    return _locked(dialect, query.order_by(*order).limit(1))


@cache
def _next_urgent(dialect: str) -> Select[Any]:
    """The due job with the least slack among those whose latest start has come, locked."""
    query = (
        sql_select(JOBS.c.id, JOBS.c.version, JOBS.c.started_at)
        .where(JOBS.c.state.in_(CLAIMABLE), JOBS.c.planned_start.is_not(None), _urgent(dialect))
        .order_by(_latest_start(dialect), JOBS.c.id)
        .limit(1)
    )
    return _locked(dialect, query)


def pick(conn: Connection, dialect: str, now: datetime) -> Any:
    """The due job to claim next (a locked row: id, version, started_at), or None; in the order
    of the module docstring."""
    params = _params(now)
    turns = team_turns(conn.execute(_turns_query(dialect), params).all())
    if any(turn.urgent for turn in turns):
        row = conn.execute(_next_urgent(dialect), params).first()
        if row is not None:
            return row
    tries: tuple[int | None, ...] = (_AMONG, None) if dialect == "postgresql" else (None,)
    for turn in turns:
        for among in tries:
            query = _next_in_team(dialect, turn.team is None, among)
            row = conn.execute(query, {**params, "team": turn.team}).first()
            if row is not None:
                return row
    return None


def _b(name: str, column: str) -> Any:
    """A bound parameter ``b_NAME`` typed as column ``column`` (times stored as the column's)."""
    return bindparam(f"b_{name}", type_=JOBS.c[column].type)


@cache
def _take_statement() -> Update:
    return (
        update(JOBS)
        .where(JOBS.c.id == _b("id", "id"), JOBS.c.version == _b("version", "version"))
        .values(
            state="running",
            version=JOBS.c.version + 1,
            updated_at=_b("now", "updated_at"),
            worker_id=_b("worker_id", "worker_id"),
            worker_host=_b("host", "worker_host"),
            worker_pid=_b("pid", "worker_pid"),
            lease_until=_b("lease_until", "lease_until"),
            pause_requested=False,
            child_pid=None,
            child_create_time=None,
            started_at=func.coalesce(JOBS.c.started_at, _b("now", "started_at")),
            run_started_at=_b("now", "run_started_at"),
            attempts=JOBS.c.attempts + 1,
        )
        .returning(*JOBS.c)
    )


def take(
    conn: Connection, row: Any, *, worker_id: str, lease_until: datetime, now: datetime
) -> Job | None:
    """Move the locked, claimable job ``row`` (id, version) to ``running`` for ``worker_id``."""
    params: Mapping[str, Any] = {
        "b_id": row.id,
        "b_version": row.version,
        "b_now": now.astimezone(UTC),
        "b_worker_id": worker_id,
        "b_host": socket.gethostname(),
        "b_pid": os.getpid(),
        "b_lease_until": lease_until.astimezone(UTC),
    }
    claimed = conn.execute(_take_statement(), params).mappings().first()
    return None if claimed is None else Job._from_row(claimed)


def requeue_lapsed(
    conn: Connection, dialect: str, now: datetime, *, max_attempts: int | None
) -> list[str]:
    """Re-queue (or fail, past ``max_attempts``) running jobs whose lease lapsed before ``now``;
    return their ids (see :meth:`lowcarb.jobs.JobStore.requeue_expired`)."""
    query = sql_select(
        JOBS.c.id,
        JOBS.c.version,
        JOBS.c.interruptible,
        JOBS.c.attempts,
        JOBS.c.worker_id,
        JOBS.c.note,
    ).where(JOBS.c.state == "running", JOBS.c.lease_until < now)
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    taken: list[str] = []
    for row in conn.execute(query).all():
        spent = max_attempts is not None and row.attempts >= max_attempts
        what = f"its lease lapsed (worker {row.worker_id} stopped renewing it)"
        state = "failed" if spent else "paused" if row.interruptible else "queued"
        note = f"{what}; {'failed after the last attempt' if spent else 're-queued'}"
        result = conn.execute(
            update(JOBS)
            .where(JOBS.c.id == row.id, JOBS.c.version == row.version)
            .values(
                state=state,
                version=row.version + 1,
                updated_at=now,
                worker_id=None,
                lease_until=None,
                child_pid=None,
                child_create_time=None,
                pause_requested=False,
                note=f"{row.note}; {note}" if row.note else note,
                **({"finished_at": now} if spent else {}),
            )
        )
        if result.rowcount == 1:
            taken.append(str(row.id))
    return taken
