"""The dashboard in a real browser: Playwright driving Debian's Chromium.

Every page loads with no console error and no request leaving the app (no CDN), charts render
(Plotly's SVG appears), a filter changes the figures, a click on a bar leads to the records
behind it, and a team token cannot reach another team's pages. The app is served by uvicorn on
a free port in a background thread. The ``browser`` fixture (``tests/reporting/conftest.py``)
launches Debian's Chromium through Playwright's ``executable_path``; without it the tests skip,
unless ``LOWCARB_REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from dashboard_helpers import NOW, Tokens, World, build_world, make_tokens, period

from lowcarb.reporting.dashboard import create_dashboard_app


class _Server:
    """uvicorn serving an app on 127.0.0.1:<free port> in a thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the dashboard did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, World]]:
    """A dashboard over a ledger without tokens (anonymous local reads)."""
    tmp = tmp_path_factory.mktemp("browser")
    w = build_world(f"sqlite:///{tmp / 'ledger.db'}", tmp)
    with _Server(create_dashboard_app(w.url, clock=lambda: NOW, environ={})) as server:
        yield server.url, w


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, World, Tokens]]:
    """A dashboard over a ledger with tokens."""
    tmp = tmp_path_factory.mktemp("browser-tokens")
    w = build_world(f"sqlite:///{tmp / 'ledger.db'}", tmp)
    tokens = make_tokens(w.url)
    with _Server(create_dashboard_app(w.url, clock=lambda: NOW, environ={})) as server:
        yield server.url, w, tokens


class _Watch:
    """Console errors, uncaught page errors, failed requests and requests leaving the app."""

    def __init__(self, page: Any, base: str) -> None:
        self.errors: list[str] = []
        self.outside: list[str] = []
        host = urlsplit(base).netloc
        page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        page.on(
            "request",
            lambda r: (
                self.outside.append(r.url)
                if urlsplit(r.url).scheme in ("http", "https") and urlsplit(r.url).netloc != host
                else None
            ),
        )


CHART_PAGES = {"/": 4, "/teams": 1, "/models": 1, "/jobs": 1, "/grid": 2, "/teams/vision": 4}


def test_every_page_loads_without_console_errors_and_charts_render(
    browser: Any, local: tuple[str, World]
) -> None:
    base, w = local
    page = browser.new_page()
    watch = _Watch(page, base)
    pages = [*CHART_PAGES, "/runs", "/decisions", f"/records/{w.ids['vision'][0]}", "/login"]
    for path in pages:
        sep = "&" if "?" in path else "?"
        target = f"{base}{path}{sep}{period()}" if not path.startswith("/login") else base + path
        response = page.goto(target)
        assert response is not None and response.status == 200, path
        expected = CHART_PAGES.get(path, 0)
        if expected:
            page.wait_for_selector(
                "div.chart[data-rendered=true] svg.main-svg", state="attached", timeout=15_000
            )
            rendered = page.locator("div.chart[data-rendered=true]").count()
            assert rendered == expected, path
            assert page.locator("div.chart svg.main-svg").count() >= expected, path
    assert watch.errors == []
    assert watch.outside == []  # no CDN, no fonts, nothing but the app itself
    page.close()


def test_a_filter_changes_the_figures(browser: Any, local: tuple[str, World]) -> None:
    base, _ = local
    page = browser.new_page()
    watch = _Watch(page, base)
    page.goto(f"{base}/?{period()}")
    page.wait_for_selector("#chart-daily[data-rendered=true]")
    before = page.inner_text("#card-2")
    bars_before = page.locator("#chart-daily g.point").count()
    page.fill("#filter-since", "2024-01-01")
    page.fill("#filter-until", "2024-01-06")
    with page.expect_navigation():
        page.click("#filter-apply")
    page.wait_for_selector("#chart-daily[data-rendered=true]")
    after = page.inner_text("#card-2")
    assert (before, after) == ("3.150", "1.600")
    assert "until=2024-01-06" in page.url
    assert page.locator("#chart-daily g.point").count() < bars_before
    page.select_option("#filter-team", "nlp")
    page.fill("#filter-until", "2024-02-01")
    with page.expect_navigation():
        page.click("#filter-apply")
    assert page.inner_text("#card-2") == "0.150"
    assert watch.errors == []
    page.close()


def test_clicking_a_bar_opens_the_records_behind_it(browser: Any, local: tuple[str, World]) -> None:
    base, _ = local
    page = browser.new_page()
    page.goto(f"{base}/?{period()}")
    page.wait_for_selector("#chart-projects[data-rendered=true]")
    bar = page.locator("#chart-projects g.point path").last  # the largest: detector
    with page.expect_navigation():
        bar.click(force=True)
    assert "/runs?" in page.url and "project=detector" in page.url
    assert page.locator("#table-records tbody tr").count() == 6
    page.close()


def test_a_team_token_cannot_reach_another_teams_pages(
    browser: Any, guarded: tuple[str, World, Tokens]
) -> None:
    base, w, tokens = guarded
    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {tokens.vision}"})
    page = context.new_page()
    response = page.goto(f"{base}/teams/nlp?{period()}")
    assert response is not None and response.status == 403
    body = page.content()
    assert "chat" not in body and "bert" not in body
    response = page.goto(f"{base}/records/{w.ids['nlp'][0]}")
    assert response is not None and response.status == 404
    response = page.goto(f"{base}/?{period()}")
    assert response is not None and response.status == 200
    options = page.locator("#filter-team option").all_inner_texts()
    assert options == ["vision"]
    assert "team vision" in page.inner_text("header .viewer")
    assert page.inner_text("#card-2") == "2.600"
    context.close()
    anonymous = browser.new_page()
    response = anonymous.goto(f"{base}/?{period()}")
    assert response is not None and response.status == 401
    anonymous.close()


def test_sign_in_with_a_token_sets_a_cookie_for_this_site(
    browser: Any, guarded: tuple[str, World, Tokens]
) -> None:
    base, _, tokens = guarded
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=token]", tokens.vision)
    with page.expect_navigation():
        page.click("#login button")
    assert page.url.rstrip("/") == base
    assert "team vision" in page.inner_text("header .viewer")
    cookie = next(c for c in context.cookies() if c["name"] == "lowcarb_token")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    response = page.goto(f"{base}/teams/nlp")
    assert response is not None and response.status == 403
    context.close()
