"""What every page reads from: the ledger, its rollup, tokens, jobs and the grid source.

:class:`Dashboard` holds them for one app (opened once, shared by request threads: each store
is thread-safe) and checks names the way every page needs: a team or project nobody's records
or jobs carry is a 404 listing the known ones (only the asker's own, for a team token); so is a
record kind that neither lowcarb writes nor any record (of the asker's team) has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from lowcarb._text import plain
from lowcarb.errors import close_matches
from lowcarb.grid import IntensitySource
from lowcarb.jobs import JobStore
from lowcarb.ledger import KNOWN_KINDS, Ledger, TokenStore
from lowcarb.reporting.dashboard._auth import Access, Principal
from lowcarb.reporting.dashboard._errors import DashboardError
from lowcarb.reporting.dashboard._query import DashboardQuery
from lowcarb.reporting.dashboard._rollup import DailyRollup, RollupStatus

__all__ = ["NOTE_KIND", "Dashboard"]

JOBS_TABLE = "lowcarb_jobs"
#: The kind of the records the dashboard itself appends (a note on a record).
NOTE_KIND = "note"
_SHOWN = 20


def _listed(names: list[str]) -> str:
    shown = ", ".join(plain(n) for n in names[:_SHOWN])
    return shown + (f" (and {len(names) - _SHOWN} more)" if len(names) > _SHOWN else "")


@dataclass
class Dashboard:
    """The resources of one dashboard app.

    Attributes:
        ledger: The ledger (records, appends of notes).
        rollup: Its daily rollup.
        tokens: Its API tokens.
        jobs: Its job store.
        source: Grid intensities and forecasts (a trace, or the embedded profile).
        access: Who a request acts as.
        clock: Returns now, timezone-aware.
    """

    ledger: Ledger
    rollup: DailyRollup
    tokens: TokenStore
    jobs: JobStore
    source: IntensitySource
    access: Access
    clock: Callable[[], datetime]

    def now(self) -> datetime:
        """Now, UTC."""
        return self.clock().astimezone(UTC)

    def today(self) -> date:
        """Today, UTC."""
        return self.now().date()

    def refresh(self) -> RollupStatus:
        """Bring the rollup up to the ledger's head (cheap when nothing was appended)."""
        return self.rollup.refresh()

    def close(self) -> None:
        """Release the database connections."""
        self.ledger.close()

    # -- names ------------------------------------------------------------------------------

    def _job_names(self, column: str, team: str | None) -> set[str]:
        engine = self.ledger.engine
        try:  # the table exists: the dashboard opened the ledger at the head schema (0003)
            with engine.connect() as conn:
                sql = f"SELECT DISTINCT {column} FROM {JOBS_TABLE} WHERE {column} IS NOT NULL"
                params: dict[str, Any] = {}
                if team is not None:
                    sql += " AND team = :team"
                    params["team"] = team
                return {str(r[0]) for r in conn.execute(text(sql), params)}
        except SQLAlchemyError:
            return set()  # names are a courtesy check; the page's own query reports failures

    def known(self, column: str, *, team: str | None = None) -> list[str]:
        """Every team, project or model that records (or, for teams and projects, jobs) name,
        of one team when ``team`` is given."""
        names = set(self.rollup.distinct(column, team=team))
        if column in ("team", "project"):
            names |= self._job_names(column, team)
        return sorted(names)

    def _unknown(self, what: str, value: str, known: Iterable[str], scope: str) -> DashboardError:
        names = list(known)
        near = close_matches(value, names)
        hint = f"did you mean {', '.join(repr(n) for n in near)}? " if near else ""
        listed = f"known {what}s{scope}: {_listed(names)}" if names else f"no {what} yet{scope}"
        return DashboardError(
            404,
            f"unknown {what} {plain(value)[:200]!r}: no record or job{scope} names it; "
            f"{hint}{listed}",
            param=what,
        )

    def scoped(self, q: DashboardQuery, who: Principal) -> DashboardQuery:
        """``q`` limited to what ``who`` may read, with its names checked.

        Raises:
            DashboardError: 403 for another team's records; 404 for a team, project or model
                that no record or job names (within the asker's team), or an unknown kind.
        """
        team = who.team_for(q.team)
        q = q.with_(team=team)
        own = who.team is not None and not who.admin
        if team is not None and not own and team not in self.known("team"):
            raise self._unknown("team", team, self.known("team"), "")
        scope = f" of team {plain(team)[:200]!r}" if team is not None else ""
        for what in ("project", "model"):
            value = getattr(q, what)
            if value is None:
                continue
            known = self.known(what, team=team)
            if value not in known:
                raise self._unknown(what, value, known, scope)
        if q.kind is not None:
            kinds = sorted({*KNOWN_KINDS, NOTE_KIND, *self.rollup.distinct("kind", team=team)})
            if q.kind not in kinds:
                near = close_matches(q.kind, kinds)
                hint = f"did you mean {', '.join(repr(n) for n in near)}? " if near else ""
                raise DashboardError(
                    404,
                    f"unknown kind {plain(q.kind)[:64]!r}: lowcarb writes no such record and no "
                    f"record{scope} has it; {hint}known kinds: {_listed(kinds)}",
                    param="kind",
                )
        return q
