"""The dashboard's pages: each as HTML and as JSON, and the writes (notes, revoking a token).

Every page is ``GET /<page>`` (HTML; ``?format=json`` for its JSON) and ``GET /api/<page>``
(JSON, in the OpenAPI document); parameters are declared once (``_route_params``, with their
bounds, so FastAPI refuses oversized values before a page runs) and parsed by
:func:`~lowcarb.reporting.dashboard._query.parse_query`; ``_page_response`` turns a page into
either. The routes open without a token (sign-in, static files, health) are in ``_open_routes``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from lowcarb.reporting.dashboard._activity import decisions_page, jobs_page
from lowcarb.reporting.dashboard._admin import revoke_token, tokens_page
from lowcarb.reporting.dashboard._auth import Principal
from lowcarb.reporting.dashboard._grid import grid_page
from lowcarb.reporting.dashboard._open_routes import add_open_routes
from lowcarb.reporting.dashboard._page_response import page_response
from lowcarb.reporting.dashboard._query import DashboardQuery, parse_query
from lowcarb.reporting.dashboard._records import add_note, record_page, runs_page
from lowcarb.reporting.dashboard._responses import ERROR_RESPONSES, MAX_BODY_BYTES
from lowcarb.reporting.dashboard._route_params import (
    JSON_OK,
    Before,
    Filters,
    FiltersDep,
    Format,
    Kind,
    Limit,
    Model,
    NoteIn,
    RecordId,
    TeamPath,
    TokenId,
    Zones,
    given,
)
from lowcarb.reporting.dashboard._service import Dashboard
from lowcarb.reporting.dashboard._summary import models_page, overview_page, teams_page

__all__ = ["add_routes"]


def add_routes(app: FastAPI, d: Dashboard) -> None:
    """Add the routes of the dashboard ``d`` to ``app``: pages, writes, then the open ones."""

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

    # -- summary pages --------------------------------------------------------------------

    def _overview(request: Request, f: Filters, as_html: bool, team: str | None = None) -> Response:
        principal = who(request)
        if team is not None:
            f = f.model_copy(update={"team": team})
        q = query(f)
        current = "/" if team is None else "/teams"
        return page_response(
            d,
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

    @app.get("/api/overview", responses=JSON_OK, tags=["pages"])
    def overview_api(request: Request, f: FiltersDep) -> Response:
        """Totals, daily series and figures by team, project, model, kind and zone."""
        return _overview(request, f, False)

    def _teams(request: Request, f: Filters, as_html: bool) -> Response:
        principal = who(request)
        q = query(f)
        return page_response(
            d,
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

    @app.get("/api/teams", responses=JSON_OK, tags=["pages"])
    def teams_api(request: Request, f: FiltersDep) -> Response:
        """Every team the token may read, with its figures for the period."""
        return _teams(request, f, False)

    @app.get("/teams/{team_name}", include_in_schema=False)
    def team_html(
        request: Request, team_name: TeamPath, f: FiltersDep, format: Format = "html"
    ) -> Response:
        return _overview(request, f, format == "html", team=team_name)

    @app.get("/api/teams/{team_name}", responses=JSON_OK, tags=["pages"])
    def team_api(request: Request, team_name: TeamPath, f: FiltersDep) -> Response:
        """One team's overview (403 for a team token of another team)."""
        return _overview(request, f, False, team=team_name)

    def _models(request: Request, f: Filters, model: str | None, as_html: bool) -> Response:
        principal = who(request)
        q = query(f, model=given(model))
        return page_response(
            d,
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

    @app.get("/api/models", responses=JSON_OK, tags=["pages"])
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
        q = query(f, model=given(model), kind=given(kind))
        hidden = [(k, v) for k, v in (("model", model), ("kind", kind)) if v is not None]
        return page_response(
            d,
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

    @app.get("/api/runs", responses=JSON_OK, tags=["pages"])
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
        return page_response(
            d,
            request,
            lambda: record_page(d, record_id, principal),
            principal,
            as_html=format == "html",
            current="/runs",
            q=None,
        )

    @app.get("/api/records/{record_id}", responses=JSON_OK, tags=["pages"])
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
        return page_response(
            d,
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

    @app.get("/api/jobs", responses=JSON_OK, tags=["pages"])
    def jobs_api(request: Request, f: FiltersDep) -> Response:
        """Jobs of the period: state, planned vs immediate vs realised intensity."""
        return _activity(request, f, lambda q, p: jobs_page(d, q, p), "/jobs", False)

    @app.get("/decisions", include_in_schema=False)
    def decisions_html(request: Request, f: FiltersDep, format: Format = "html") -> Response:
        return _activity(
            request, f, lambda q, p: decisions_page(d, q, p), "/decisions", format == "html"
        )

    @app.get("/api/decisions", responses=JSON_OK, tags=["pages"])
    def decisions_api(request: Request, f: FiltersDep) -> Response:
        """Gate, budget and retrain decisions of the period, newest first."""
        return _activity(request, f, lambda q, p: decisions_page(d, q, p), "/decisions", False)

    def _grid(request: Request, f: Filters, zone: list[str] | None, as_html: bool) -> Response:
        principal = who(request)
        q = query(f)
        zones = [z for z in zone or [] if z]  # an empty form field is no zone
        return page_response(
            d,
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

    @app.get("/api/grid", responses=JSON_OK, tags=["pages"])
    def grid_api(request: Request, f: FiltersDep, zone: Zones = None) -> Response:
        """Each zone's intensity over the last day and its forecast for the next."""
        return _grid(request, f, zone, False)

    # -- tokens ---------------------------------------------------------------------------

    @app.get("/tokens", include_in_schema=False)
    def tokens_html(request: Request, format: Format = "html") -> Response:
        principal = who(request)
        return page_response(
            d,
            request,
            lambda: tokens_page(d, principal),
            principal,
            as_html=format == "html",
            current="/tokens",
            q=None,
        )

    @app.get("/api/tokens", responses=JSON_OK, tags=["admin"])
    def tokens_api(request: Request) -> Response:
        """Every token and its state, never a secret (admin)."""
        return JSONResponse(tokens_page(d, who(request)))

    @app.post("/api/tokens/{token_id}/revoke", responses=JSON_OK, tags=["admin"])
    def revoke_api(request: Request, token_id: TokenId) -> Response:
        """Revoke a token now (admin)."""
        principal = d.access.for_write(request, "admin")
        return JSONResponse(revoke_token(d, token_id, principal))

    @app.post("/tokens/{token_id}/revoke", include_in_schema=False)
    def revoke_form(request: Request, token_id: TokenId) -> Response:
        principal = d.access.for_write(request, "admin")
        revoke_token(d, token_id, principal)
        return RedirectResponse("/tokens", status_code=303)

    add_open_routes(app, d)
