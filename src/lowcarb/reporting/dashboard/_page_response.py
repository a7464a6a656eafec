"""A page as a response: its JSON as built, or HTML drawn from its view with the filter form,
the footer that says which ledger records its figures sum, and a link to the page's JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from lowcarb.reporting.dashboard._auth import Principal
from lowcarb.reporting.dashboard._html import render_page
from lowcarb.reporting.dashboard._query import DashboardQuery
from lowcarb.reporting.dashboard._service import Dashboard
from lowcarb.reporting.dashboard._views import view_for

__all__ = ["page_response"]


def _footer(page: dict[str, Any]) -> list[str]:
    """The lines under a page: its period, and which ledger records its figures sum."""
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


def _html(
    d: Dashboard,
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
        footer=_footer(page),
        json_href=f"{request.url.path}?{urlencode(params)}",
        hidden=hidden or [],
    )
    return HTMLResponse(body)


def page_response(
    d: Dashboard,
    request: Request,
    build: Callable[[], dict[str, Any]],
    principal: Principal,
    *,
    as_html: bool,
    current: str,
    q: DashboardQuery | None,
    hidden: list[tuple[str, str]] | None = None,
) -> Response:
    """The page ``build`` makes, as JSON, or as HTML when ``as_html``.

    Args:
        d: The dashboard (the teams and projects the filter form offers).
        request: The request (the page's JSON link keeps its query).
        build: Builds the page's JSON.
        principal: Who asks (the navigation and the filter form depend on it).
        as_html: HTML (the page's view in the template) rather than the page's JSON.
        current: The navigation entry to mark.
        q: The period and filters asked for; the HTML shows the team the page settled on.
        hidden: Parameters the filter form carries along unchanged (``model``, ``zone``, ...).
    """
    page = build()
    if not as_html:
        return JSONResponse(page)
    page_q = q
    if "query" in page and q is not None:
        page_q = q.with_(team=page["query"]["team"])
    return _html(d, request, page, principal, current, page_q, hidden)
