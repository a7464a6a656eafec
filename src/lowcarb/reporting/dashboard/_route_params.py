"""The routes' parameters, declared once with their bounds, and what a page's JSON answers.

The bounds let FastAPI refuse oversized values before a page runs; the period and filters
(:class:`Filters`) are parsed by :func:`~lowcarb.reporting.dashboard._query.parse_query`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from lowcarb.reporting.dashboard._records import MAX_LIMIT, MAX_NOTE_CHARS
from lowcarb.reporting.dashboard._responses import ERROR_RESPONSES

__all__ = [
    "JSON_OK",
    "Before",
    "Filters",
    "FiltersDep",
    "Format",
    "Kind",
    "Limit",
    "Model",
    "NoteIn",
    "RecordId",
    "TeamPath",
    "TokenId",
    "Zones",
    "given",
]

Since = Annotated[
    str | None,
    Query(max_length=64, description="First UTC day, e.g. 2024-05-01 (default: 30 days back)."),
]
Until = Annotated[
    str | None,
    Query(max_length=64, description="Day after the last, excluded (default: tomorrow, UTC)."),
]
Team = Annotated[
    str | None, Query(max_length=200, description="Only this team (a team token: its own).")
]
Project = Annotated[str | None, Query(max_length=200, description="Only this project.")]
Format = Annotated[Literal["html", "json"], Query(description="html (default) or json.")]
TeamPath = Annotated[str, PathParam(max_length=200, description="A team name.")]
Model = Annotated[str | None, Query(max_length=200, description="Only this model.")]
Kind = Annotated[
    str | None, Query(max_length=64, description="Only this kind (run, inference, ...).")
]
Before = Annotated[
    int | None,
    Query(ge=1, le=2**62, description="Only records before this seq (the next page)."),
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Records per page.")]
RecordId = Annotated[str, PathParam(max_length=100, description="A ledger record id.")]
Zones = Annotated[
    list[str] | None,
    Query(description="Zone ids or cloud regions (repeat, up to 8); default: the period's."),
]
TokenId = Annotated[str, PathParam(max_length=16, description="A token id (16 hex).")]


class Filters(BaseModel):
    """The period and filters as a request gave them (parsed by :func:`parse_query`)."""

    since: str | None = None
    until: str | None = None
    team: str | None = None
    project: str | None = None


def given(value: str | None) -> str | None:
    """A form's empty field means "not given" (the filter form sends every field)."""
    return value if value else None


def _filters(
    since: Since = None, until: Until = None, team: Team = None, project: Project = None
) -> Filters:
    return Filters(since=given(since), until=given(until), team=given(team), project=given(project))


FiltersDep = Annotated[Filters, Depends(_filters)]


class NoteIn(BaseModel):
    """A note on a record (appended to the ledger as a record of kind ``note``)."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS, description="The note.")


JSON_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The page as JSON.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    **ERROR_RESPONSES,
}
