"""The request body bound, however the body is sent, and refusals in the shape of each API.

The bound (64 KiB) is kept on the bytes received, not on ``Content-Length``: a chunked body (no
length) or one longer than it declares is cut off as it is read. Refusals on the Carbon Aware
SDK paths (413, 401) are the SDK's ``ValidationProblemDetails`` with the status's own RFC 9110
``type`` and ``title``; elsewhere, the dashboard's one line.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dashboard_helpers import TestClient, Tokens, World, bearer

from lowcarb.reporting.dashboard import create_dashboard_app

LIMIT = 64 * 1024
CHUNK = 64 * 1024
CHUNKS = 48  # 3 MiB in all
SDK_BATCH = "/emissions/forecasts/batch"


def _chunks(total: int = CHUNKS, piece: bytes = b"x") -> Iterator[bytes]:
    for _ in range(total):
        yield piece * CHUNK


class _Receiver:
    """An ASGI ``receive`` handing out a chunked body, counting what the app asked for."""

    def __init__(self, chunks: int, piece: bytes = b"x") -> None:
        self.chunks = chunks
        self.piece = piece
        self.read = 0

    async def __call__(self) -> dict[str, Any]:
        if self.read >= self.chunks:
            return {"type": "http.disconnect"}
        self.read += 1
        return {
            "type": "http.request",
            "body": self.piece * CHUNK,
            "more_body": self.read < self.chunks,
        }


def _asgi_post(app: Any, path: str, receiver: _Receiver, headers: list[tuple[bytes, bytes]]):
    """POST through the raw ASGI interface (the transfer as a server hands it over); returns
    the status and body of the response."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"transfer-encoding", b"chunked"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }

    async def drive() -> None:
        # lifespan is not needed: the app's resources are opened when it is built
        await app(scope, receiver, send)

    asyncio.run(drive())
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body


@pytest.fixture(scope="module")
def app(token_world: tuple[World, Tokens]) -> Any:
    w, _ = token_world
    from dashboard_helpers import NOW

    return create_dashboard_app(w.url, clock=lambda: NOW, environ={})


@pytest.mark.parametrize(
    ("path", "content_type", "auth"),
    [
        ("/login", b"application/x-www-form-urlencoded", False),
        ("/api/records/{nlp}/notes", b"application/json", True),
        (SDK_BATCH, b"application/json", True),
    ],
)
def test_a_chunked_body_is_cut_off_at_the_bound(
    app: Any, token_world: tuple[World, Tokens], path: str, content_type: bytes, auth: bool
) -> None:
    w, tokens = token_world
    headers = [(b"content-type", content_type)]
    if auth:
        headers.append((b"authorization", f"Bearer {tokens.nlp_writer}".encode()))
    receiver = _Receiver(CHUNKS, b"[" if content_type == b"application/json" else b"t")
    status, body = _asgi_post(app, path.format(nlp=w.ids["nlp"][0]), receiver, headers)
    assert status == 413, body[:300]
    assert receiver.read <= LIMIT // CHUNK + 1  # 2 of the 48 chunks, not 3 MiB
    assert b"65,536 bytes" in body


def test_chunked_bodies_over_http_get_413_in_each_apis_shape(
    token_client: TestClient, token_world: tuple[World, Tokens]
) -> None:
    w, tokens = token_world
    h = bearer(tokens.nlp_writer)
    login = token_client.post(
        "/login",
        content=_chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert login.status_code == 413 and "65,536 bytes" in login.text
    assert "lowcarb_token" not in login.headers.get("set-cookie", "")
    note = token_client.post(
        f"/api/records/{w.ids['nlp'][0]}/notes",
        content=_chunks(),
        headers={**h, "Content-Type": "application/json"},
    )
    assert note.status_code == 413
    assert note.json() == {
        "detail": "the request body is over 65,536 bytes; send less",
        "status": 413,
    }
    sdk = token_client.post(
        SDK_BATCH, content=_chunks(), headers={**h, "Content-Type": "application/json"}
    )
    assert sdk.status_code == 413
    assert sdk.json() == {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.14",
        "title": "Content Too Large",
        "status": 413,
        "detail": "the request body is over 65,536 bytes; send less",
        "errors": {},
    }


def test_a_declared_length_past_the_bound_is_refused_unread_in_the_sdk_shape(
    app: Any, token_world: tuple[World, Tokens]
) -> None:
    _, tokens = token_world
    receiver = _Receiver(CHUNKS)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(CHUNK * CHUNKS).encode()),
        (b"authorization", f"Bearer {tokens.nlp_writer}".encode()),
    ]
    status, body = _asgi_post(app, SDK_BATCH, receiver, headers)
    assert status == 413 and receiver.read == 0
    problem = json.loads(body)
    assert problem["title"] == "Content Too Large" and problem["errors"] == {}


def test_a_body_within_the_bound_still_works(
    token_client: TestClient, token_world: tuple[World, Tokens]
) -> None:
    w, tokens = token_world
    r = token_client.post(
        f"/api/records/{w.ids['nlp'][0]}/notes",
        content=iter([b'{"text": ', b'"chunked, ', b'and small"}']),
        headers={**bearer(tokens.nlp_writer), "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text


def test_sdk_paths_refuse_callers_with_the_sdk_shape_and_the_right_rfc_type(
    token_world: tuple[World, Tokens], make_client: Callable[..., TestClient]
) -> None:
    w, tokens = token_world
    c = make_client(w.url, host="192.0.2.10")
    r = c.get("/emissions/bylocation", params={"location": "DE"})
    assert r.status_code == 401
    body = r.json()
    assert set(body) == {"type", "title", "status", "detail", "errors"}
    assert body["type"] == "https://tools.ietf.org/html/rfc9110#section-15.5.2"
    assert body["title"] == "Unauthorized" and body["status"] == 401
    assert "lowcarb tokens create" in body["detail"] or "Bearer" in body["detail"]
    assert r.headers["WWW-Authenticate"].startswith('Bearer realm="lowcarb"')
    bad = c.get(
        "/emissions/bylocation", params={"location": "DE"}, headers={"Authorization": "Basic x"}
    )
    assert bad.status_code == 401 and bad.json()["title"] == "Unauthorized"
    assert 'error="invalid_request"' in bad.headers["WWW-Authenticate"]
    ok = c.get("/emissions/bylocation", params={"location": "DE"}, headers=bearer(tokens.vision))
    assert ok.status_code in (200, 204)
