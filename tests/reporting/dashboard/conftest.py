"""Fixtures of the dashboard tests: the seeded ledger, tokens of every kind, apps and clients."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from dashboard_helpers import NOW, TestClient, Tokens, World, build_world, make_tokens

from lowcarb.reporting.dashboard import create_dashboard_app


@pytest.fixture(autouse=True)
def _no_ambient_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOWCARB_LEDGER", "LOWCARB_LEDGER_SIGNING_KEY"):
        if name in os.environ:
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The seeded ledger (SQLite), without tokens (built once per module)."""
    tmp = tmp_path_factory.mktemp("dashboard")
    return build_world(f"sqlite:///{tmp / 'ledger.db'}", tmp)


@pytest.fixture(scope="module")
def token_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Tokens]:
    """The seeded ledger with tokens: admin, vision (read), nlp (read+write), revoked, expired."""
    tmp = tmp_path_factory.mktemp("dashboard-tokens")
    w = build_world(f"sqlite:///{tmp / 'ledger.db'}", tmp)
    return w, make_tokens(w.url)


def clock() -> datetime:
    return NOW


def _make(clients: list[TestClient], url: str, **kwargs: Any) -> TestClient:
    kwargs.setdefault("clock", clock)
    app = create_dashboard_app(url, environ={}, **kwargs)
    client = TestClient(app, raise_server_exceptions=False)
    client.__enter__()
    clients.append(client)
    return client


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Build a client of a dashboard app (closed after the test)."""
    clients: list[TestClient] = []
    yield lambda url, **kwargs: _make(clients, url, **kwargs)
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    """The local dashboard over the ledger without tokens (anonymous reads allowed)."""
    clients: list[TestClient] = []
    yield _make(clients, world.url)
    clients[0].__exit__(None, None, None)


@pytest.fixture(scope="module")
def token_client(token_world: tuple[World, Tokens]) -> Iterator[TestClient]:
    """The dashboard over the ledger with tokens (no cookie: tests that sign in make their own)."""
    clients: list[TestClient] = []
    yield _make(clients, token_world[0].url)
    clients[0].__exit__(None, None, None)
