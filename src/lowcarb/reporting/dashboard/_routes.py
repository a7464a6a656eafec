"""The dashboard's routes: each page as HTML and as JSON, writes, sign-in, static files.

Every page is ``GET /<page>`` (HTML; ``?format=json`` for its JSON) and ``GET /api/<page>``
(JSON, in the OpenAPI document); parameters are declared once here (with their bounds, so
FastAPI refuses oversized values before a page runs) and parsed by
:func:`~lowcarb.reporting.dashboard._query.parse_query`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlencode

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from lowcarb.reporting.dashboard._activity import decisions_page, jobs_page
from lowcarb.reporting.dashboard._admin import revoke_token, tokens_page
from lowcarb.reporting.dashboard._auth import COOKIE, Principal
from lowcarb.reporting.dashboard._grid import grid_page
from lowcarb.reporting.dashboard._html import render_login, render_page
from lowcarb.reporting.dashboard._query import DashboardQuery, parse_query
from lowcarb.reporting.dashboard._records import (
    MAX_LIMIT,
    MAX_NOTE_CHARS,
    add_note,
    record_page,
    runs_page,
)
from lowcarb.reporting.dashboard._responses import (
    ERROR_RESPONSES,
    MAX_BODY_BYTES,
)
from lowcarb.reporting.dashboard._service import Dashboard
from lowcarb.reporting.dashboard._static import DASHBOARD_CSS, DASHBOARD_JS, plotly_bundle
from lowcarb.reporting.dashboard._summary import models_page, overview_page, teams_page
from lowcarb.reporting.dashboard._views import view_for

__all__ = ["add_routes"]


# -- parameters -----------------------------------------------------------------------------

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


def _given(value: str | None) -> str | None:
    """A form's empty field means "not given" (the filter form sends every field)."""
    return value if value else None


def _filters(
    since: Since = None, until: Until = None, team: Team = None, project: Project = None
) -> Filters:
    return Filters(
        since=_given(since), until=_given(until), team=_given(team), project=_given(project)
    )


FiltersDep = Annotated[Filters, Depends(_filters)]


class NoteIn(BaseModel):
    """A note on a record (appended to the ledger as a record of kind ``note``)."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS, description="The note.")


_JSON_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The page as JSON.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    **ERROR_RESPONSES,
}


# -- routes ---------------------------------------------------------------------------------


def add_routes(app: FastAPI, d: Dashboard) -> None:
    def who(request: Request) -> Principal:
        principal = d.access.principal(request)
        request.state.principal = principal
        return principal

    def query(f: Filters, **more: str | None) -> DashboardQuery:
        return parse_query(
            since=f.since,
            until=f.until,
            team=f.team,
            project=f.project,
            today=d.today(),
            **more,
        )

    def footer(page: dict[str, Any]) -> list[str]:
        out = []
        q = page.get("query")
        if q:
            out.append(f"Period: {q['since']} to {q['until']} (UTC days, until excluded).")
        r = page.get("rollup")
        if r:
            out.append(
                f"Figures: the ledger's records through #{r['through_seq']} (hash "
                f"{r['through_hash'][:12]}...), summed per UTC day with corrections applied; "
                "energy measured vs estimated as each record says."
            )
        return out

    def html(
        request: Request,
        page: dict[str, Any],
        principal: Principal,
        current: str,
        q: DashboardQuery | None,
        hidden: list[tuple[str, str]] | None = None,
    ) -> Response:
        teams = [principal.team] if principal.team is not None else d.known("team")
        projects = d.known("project", team=q.team) if q is not None else []
        params = dict(request.query_params)
        params["format"] = "json"
        body = render_page(
            view_for(page),
            current=current,
            who=principal,
            q=q,
            teams=teams,
            projects=projects,
            footer=footer(page),
            json_href=f"{request.url.path}?{urlencode(params)}",
            hidden=hidden or [],
        )
        return HTMLResponse(body)

    def answer(
        request: Request,
        build: Callable[[], dict[str, Any]],
        principal: Principal,
        *,
        as_html: bool,
        current: str,
        q: DashboardQuery | None,
        hidden: list[tuple[str, str]] | None = None,
    ) -> Response:
        page = build()
        if not as_html:
            return JSONResponse(page)
        page_q = q
        if "query" in page and q is not None:
            page_q = q.with_(team=page["query"]["team"])
        return html(request, page, principal, current, page_q, hidden)

    # -- summary pages --------------------------------------------------------------------

    def _overview(request: Request, f: Filters, as_html: bool, team: str | None = None) -> Response:
        principal = who(request)
        if team is not None:
            f = f.model_copy(update={"team": team})
        q = query(f)
        current = "/" if team is None else "/teams"
        return answer(
            request,
            lambda: overview_page(d, q, principal),
            principal,
            as_html=as_html,
            current=current,
            q=q,
        )

    @app.get("/", include_in_schema=False)
    def overview_html(request: Request, f: FiltersDep, format: Format = "html") -> Response:
        return _overview(request, f, format == "html")

    @app.get("/api/overview", responses=_JSON_OK, tags=["pages"])
    def overview_api(request: Request, f: FiltersDep) -> Response:
        """Totals, daily series and figures by team, project, model, kind and zone."""
        return _overview(request, f, False)

    def _teams(request: Request, f: Filters, as_html: bool) -> Response:
        principal = who(request)
        q = query(f)
        return answer(
            request,
            lambda: teams_page(d, q, principal),
            principal,
            as_html=as_html,
            current="/teams",
            q=q,
        )

    @app.get("/teams", include_in_schema=False)
    def teams_html(request: Request, f: FiltersDep, format: Format = "html") -> Response:
        return _teams(request, f, format == "html")

    @app.get("/api/teams", responses=_JSON_OK, tags=["pages"])
    def teams_api(request: Request, f: FiltersDep) -> Response:
        """Every team the token may read, with its figures for the period."""
        return _teams(request, f, False)

    @app.get("/teams/{team_name}", include_in_schema=False)
    def team_html(
        request: Request, team_name: TeamPath, f: FiltersDep, format: Format = "html"
    ) -> Response:
        return _overview(request, f, format == "html", team=team_name)

    @app.get("/api/teams/{team_name}", responses=_JSON_OK, tags=["pages"])
    def team_api(request: Request, team_name: TeamPath, f: FiltersDep) -> Response:
        """One team's overview (403 for a team token of another team)."""
        return _overview(request, f, False, team=team_name)

    def _models(request: Request, f: Filters, model: str | None, as_html: bool) -> Response:
        principal = who(request)
        q = query(f, model=_given(model))
        return answer(
            request,
            lambda: models_page(d, q, principal),
            principal,
            as_html=as_html,
            current="/models",
            q=q,
        )

    @app.get("/models", include_in_schema=False)
    def models_html(
        request: Request, f: FiltersDep, model: Model = None, format: Format = "html"
    ) -> Response:
        return _models(request, f, model, format == "html")

    @app.get("/api/models", responses=_JSON_OK, tags=["pages"])
    def models_api(request: Request, f: FiltersDep, model: Model = None) -> Response:
        """Model versions: training and inference energy and CO2e, J per 1,000 inferences."""
        return _models(request, f, model, False)

    # -- records --------------------------------------------------------------------------

    def _runs(
        request: Request,
        f: Filters,
        model: str | None,
        kind: str | None,
        before: int | None,
        limit: int,
        as_html: bool,
    ) -> Response:
        principal = who(request)
        q = query(f, model=_given(model), kind=_given(kind))
        hidden = [(k, v) for k, v in (("model", model), ("kind", kind)) if v is not None]
        return answer(
            request,
            lambda: runs_page(d, q, principal, before=before, limit=limit),
            principal,
            as_html=as_html,
            current="/runs",
            q=q,
            hidden=hidden,
        )

    @app.get("/runs", include_in_schema=False)
    def runs_html(
        request: Request,
        f: FiltersDep,
        model: Model = None,
        kind: Kind = None,
        before: Before = None,
        limit: Limit = 100,
        format: Format = "html",
    ) -> Response:
        return _runs(request, f, model, kind, before, limit, format == "html")

    @app.get("/api/runs", responses=_JSON_OK, tags=["pages"])
    def runs_api(
        request: Request,
        f: FiltersDep,
        model: Model = None,
        kind: Kind = None,
        before: Before = None,
        limit: Limit = 100,
    ) -> Response:
        """The records behind a figure, newest first (``before`` pages back)."""
        return _runs(request, f, model, kind, before, limit, False)

    @app.get("/records/{record_id}", include_in_schema=False)
    def record_html(request: Request, record_id: RecordId, format: Format = "html") -> Response:
        principal = who(request)
        return answer(
            request,
            lambda: record_page(d, record_id, principal),
            principal,
            as_html=format == "html",
            current="/runs",
            q=None,
        )

    @app.get("/api/records/{record_id}", responses=_JSON_OK, tags=["pages"])
    def record_api(request: Request, record_id: RecordId) -> Response:
        """One record exactly as the ledger stores it (404 for another team's)."""
        principal = who(request)
        return JSONResponse(record_page(d, record_id, principal))

    @app.post(
        "/api/records/{record_id}/notes",
        status_code=201,
        responses={
            201: {
                "description": "The note record appended to the ledger.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            **ERROR_RESPONSES,
            413: ERROR_RESPONSES[400] | {"description": f"Body over {MAX_BODY_BYTES} bytes."},
        },
        tags=["writes"],
    )
    def note_api(request: Request, record_id: RecordId, note: NoteIn) -> Response:
        """Add a note about a record (needs the ``write`` scope; your team's records only)."""
        principal = d.access.for_write(request, "write")
        return JSONResponse(add_note(d, record_id, note.text, principal), status_code=201)

    # -- activity -------------------------------------------------------------------------

    def _activity(
        request: Request,
        f: Filters,
        build: Callable[[DashboardQuery, Principal], dict[str, Any]],
        current: str,
        as_html: bool,
    ) -> Response:
        principal = who(request)
        q = query(f)
        return answer(
            request,
            lambda: build(q, principal),
            principal,
            as_html=as_html,
            current=current,
            q=q,
        )

    @app.get("/jobs", include_in_schema=False)
    def jobs_html(request: Request, f: FiltersDep, format: Format = "html") -> Response:
        return _activity(request, f, lambda q, p: jobs_page(d, q, p), "/jobs", format == "html")

    @app.get("/api/jobs", responses=_JSON_OK, tags=["pages"])
    def jobs_api(request: Request, f: FiltersDep) -> Response:
        """Jobs of the period: state, planned vs immediate vs realised intensity."""
        return _activity(request, f, lambda q, p: jobs_page(d, q, p), "/jobs", False)

    @app.get("/decisions", include_in_schema=False)
    def decisions_html(request: Request, f: FiltersDep, format: Format = "html") -> Response:
        return _activity(
            request, f, lambda q, p: decisions_page(d, q, p), "/decisions", format == "html"
        )

    @app.get("/api/decisions", responses=_JSON_OK, tags=["pages"])
    def decisions_api(request: Request, f: FiltersDep) -> Response:
        """Gate, budget and retrain decisions of the period, newest first."""
        return _activity(request, f, lambda q, p: decisions_page(d, q, p), "/decisions", False)

    def _grid(request: Request, f: Filters, zone: list[str] | None, as_html: bool) -> Response:
        principal = who(request)
        q = query(f)
        zones = [z for z in zone or [] if z]  # an empty form field is no zone
        return answer(
            request,
            lambda: grid_page(d, q, principal, zones=zones),
            principal,
            as_html=as_html,
            current="/grid",
            q=q,
            hidden=[("zone", z) for z in zones],
        )

    @app.get("/grid", include_in_schema=False)
    def grid_html(
        request: Request, f: FiltersDep, zone: Zones = None, format: Format = "html"
    ) -> Response:
        return _grid(request, f, zone, format == "html")

    @app.get("/api/grid", responses=_JSON_OK, tags=["pages"])
    def grid_api(request: Request, f: FiltersDep, zone: Zones = None) -> Response:
        """Each zone's intensity over the last day and its forecast for the next."""
        return _grid(request, f, zone, False)

    # -- tokens ---------------------------------------------------------------------------

    @app.get("/tokens", include_in_schema=False)
    def tokens_html(request: Request, format: Format = "html") -> Response:
        principal = who(request)
        return answer(
            request,
            lambda: tokens_page(d, principal),
            principal,
            as_html=format == "html",
            current="/tokens",
            q=None,
        )

    @app.get("/api/tokens", responses=_JSON_OK, tags=["admin"])
    def tokens_api(request: Request) -> Response:
        """Every token and its state, never a secret (admin)."""
        return JSONResponse(tokens_page(d, who(request)))

    @app.post("/api/tokens/{token_id}/revoke", responses=_JSON_OK, tags=["admin"])
    def revoke_api(request: Request, token_id: TokenId) -> Response:
        """Revoke a token now (admin)."""
        principal = d.access.for_write(request, "admin")
        return JSONResponse(revoke_token(d, token_id, principal))

    @app.post("/tokens/{token_id}/revoke", include_in_schema=False)
    def revoke_form(request: Request, token_id: TokenId) -> Response:
        principal = d.access.for_write(request, "admin")
        revoke_token(d, token_id, principal)
        return RedirectResponse("/tokens", status_code=303)

    # -- sign in --------------------------------------------------------------------------

    @app.get("/login", include_in_schema=False)
    def login_form() -> Response:
        return HTMLResponse(render_login())

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        body = (await request.body())[:4096].decode("utf-8", "replace")
        presented = (parse_qs(body).get("token") or [""])[0].strip()
        check = await run_in_threadpool(d.tokens.check, presented or None)
        if check.token is None:
            return HTMLResponse(render_login(check.message), status_code=401)
        response = RedirectResponse("/", status_code=303)
        max_age = None
        if check.token.expires_at is not None:
            max_age = max(1, int((check.token.expires_at - d.now()).total_seconds()))
        response.set_cookie(
            COOKIE,
            presented,
            max_age=max_age,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @app.get("/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- static files and health ----------------------------------------------------------

    version, bundle = plotly_bundle()
    immutable = {"Cache-Control": "public, max-age=31536000, immutable"}

    @app.get(f"/static/plotly-{version}.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        return Response(bundle, media_type="text/javascript", headers=immutable)

    @app.get("/static/dashboard.js", include_in_schema=False)
    def dashboard_js() -> Response:
        return Response(DASHBOARD_JS, media_type="text/javascript")

    @app.get("/static/dashboard.css", include_in_schema=False)
    def dashboard_css() -> Response:
        return Response(DASHBOARD_CSS, media_type="text/css")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}
