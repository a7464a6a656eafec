"""The routes open without a token: signing in and out, the static files, the health check.

Signing in checks a token once and keeps it in an HTTP-only, same-site cookie (``_auth`` reads it
back on every page); the static files are those of ``_static``, plotly.js with its version in the
URL and a cache lifetime of a year.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from lowcarb.reporting.dashboard._auth import COOKIE
from lowcarb.reporting.dashboard._html import render_login
from lowcarb.reporting.dashboard._service import Dashboard
from lowcarb.reporting.dashboard._static import DASHBOARD_CSS, DASHBOARD_JS, plotly_bundle

__all__ = ["add_open_routes"]


def add_open_routes(app: FastAPI, d: Dashboard) -> None:
    """Add the sign-in, static-file and health routes of the dashboard ``d`` to ``app``."""
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
