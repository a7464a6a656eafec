"""Every access-control decision: who (anonymous, team tokens, admin, revoked, expired,
malformed) x every page and API -> the expected status, and never another team's data.

The ledger has tokens (``token_world``): anonymous requests are refused; ``vision`` reads team
vision only; ``nlp_writer`` reads nlp and may add notes; ``admin`` reads all and manages
tokens. A ledger without tokens answers anonymous reads on loopback only.
"""

from __future__ import annotations

from collections.abc import Callable
from html import unescape

import pytest
from dashboard_helpers import HOSTILE, TestClient, Tokens, World, bearer, period

from lowcarb.ledger import TokenStore, open_engine

GETS = [
    "/api/overview",
    "/api/teams",
    "/api/models",
    "/api/runs",
    "/api/jobs",
    "/api/decisions",
    "/api/grid",
    "/",
    "/runs",
    "/teams",
    "/models",
    "/jobs",
    "/decisions",
    "/grid",
]
EMISSIONS = "/emissions/bylocation?location=DE&time=2024-01-30T00:00Z&toTime=2024-01-30T03:00Z"

#: nlp's names and numbers: none may appear in a body answered to the vision token.
NLP_NAMES = ("chat", "bert", "drift in 3 of 5 features", '"nlp"', ">nlp<")


def _headers(tokens: Tokens, who: str) -> dict[str, str]:
    if who == "anonymous":
        return {}
    if who == "malformed":
        return bearer("lcb_not-a-token")
    if who == "basic":
        return {"Authorization": "Basic dXNlcjpwYXNz"}
    if who == "wrong-secret":
        real = tokens.vision
        return bearer(real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB"))
    return bearer(getattr(tokens, who))


def _no_nlp(body: str, ids: list[str]) -> None:
    for name in NLP_NAMES:
        assert name not in body, name
    for record_id in ids:
        assert record_id not in body


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("anonymous", 401),
        ("malformed", 401),
        ("basic", 401),
        ("wrong-secret", 401),
        ("revoked", 401),
        ("expired", 401),
        ("vision", 200),
        ("nlp_writer", 200),
        ("admin", 200),
    ],
)
def test_every_read_endpoint_by_principal(
    token_client: TestClient, token_world: tuple[World, Tokens], who: str, status: int
) -> None:
    w, tokens = token_world
    for path in [*GETS, f"/records/{w.ids['vision'][0]}", f"/api/records/{w.ids['vision'][0]}"]:
        sep = "&" if "?" in path else "?"
        r = token_client.get(f"{path}{sep}{period()}", headers=_headers(tokens, who))
        expected = 404 if who == "nlp_writer" and "/records/" in path else status
        assert r.status_code == expected, (who, path, r.text[:200])
        if r.status_code == 401:
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert "lcb_" in r.text or "lowcarb tokens create" in r.text  # how to get one
        if who == "vision":
            _no_nlp(r.text, w.ids["nlp"])
    r = token_client.get(EMISSIONS, headers=_headers(tokens, who))
    assert r.status_code == (200 if status == 200 else 401), (who, r.text[:200])


def test_refusal_messages_say_what_is_wrong(
    token_client: TestClient, token_world: tuple[World, Tokens]
) -> None:
    _, tokens = token_world
    msgs = {
        who: token_client.get("/api/overview", headers=_headers(tokens, who)).json()["detail"]
        for who in ("anonymous", "malformed", "basic", "wrong-secret", "revoked", "expired")
    }
    assert msgs["anonymous"].startswith("no token: send `Authorization: Bearer lcb_...`")
    assert msgs["malformed"].startswith("malformed token: expected lcb_ followed by 16 hex")
    assert "must be `Bearer lcb_...`" in msgs["basic"]
    assert "never issued it, or its secret is wrong" in msgs["wrong-secret"]
    assert f"token {tokens.ids['revoked']} was revoked at" in msgs["revoked"]
    assert f"token {tokens.ids['expired']} expired at" in msgs["expired"]
    for msg in msgs.values():
        assert tokens.vision.split("_")[-1] not in msg  # a secret is never echoed


def test_a_team_token_sees_only_its_team(
    token_client: TestClient, token_world: tuple[World, Tokens]
) -> None:
    _, tokens = token_world
    h = bearer(tokens.vision)
    page = token_client.get(f"/api/overview?{period()}", headers=h).json()
    assert page["query"]["team"] == "vision" and [g["team"] for g in page["by_team"]] == ["vision"]
    assert page["totals"]["co2e_g"] == pytest.approx(2600)
    runs = token_client.get(f"/api/runs?{period()}", headers=h).json()["records"]
    assert {r["team"] for r in runs} == {"vision"} and len(runs) == 6
    teams = token_client.get(f"/api/teams?{period()}", headers=h).json()["teams"]
    assert [t["team"] for t in teams] == ["vision"]
    jobs = token_client.get(f"/api/jobs?{period()}", headers=h).json()["jobs"]
    assert {j["team"] for j in jobs} == {"vision"}
    decisions = token_client.get(f"/api/decisions?{period()}", headers=h).json()["rows"]
    assert {d["team"] for d in decisions} == {"vision"}
    models = token_client.get(f"/api/models?{period()}", headers=h).json()["models"]
    assert {m["model"] for m in models} == {"resnet"}
    html = token_client.get(f"/?{period()}", headers=h).text
    assert '<option value="vision"' in html and "nlp" not in html and HOSTILE not in html
    assert "every team" not in html  # no "all teams" choice for a team token


@pytest.mark.parametrize(
    "path",
    [
        "/api/overview?team=nlp",
        "/api/teams/nlp",
        "/api/runs?team=nlp",
        "/api/models?team=nlp",
        "/api/jobs?team=nlp",
        "/api/decisions?team=nlp",
        "/api/grid?team=nlp",
        "/teams/nlp",
        "/?team=nlp",
        "/api/overview?team=no-such-team",  # 403 too: existence is not revealed
    ],
)
def test_cross_team_reads_are_403_without_data(
    token_client: TestClient, token_world: tuple[World, Tokens], path: str
) -> None:
    w, tokens = token_world
    r = token_client.get(path, headers=bearer(tokens.vision))
    assert r.status_code == 403, r.text[:200]
    assert "this token reads team 'vision' only" in unescape(r.text)
    for name in ("chat", "bert", "drift"):
        assert name not in r.text
    for record_id in w.ids["nlp"]:
        assert record_id not in r.text


def test_another_teams_record_is_404_like_a_missing_one(
    token_client: TestClient, token_world: tuple[World, Tokens]
) -> None:
    w, tokens = token_world
    h = bearer(tokens.vision)
    other = token_client.get(f"/api/records/{w.ids['nlp'][0]}", headers=h)
    missing = token_client.get("/api/records/00000000-0000-7000-8000-000000000000", headers=h)
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"].replace(w.ids["nlp"][0], "X") == missing.json()["detail"].replace(
        "00000000-0000-7000-8000-000000000000", "X"
    )
    own = token_client.get(f"/api/records/{w.ids['vision'][0]}", headers=h)
    assert own.status_code == 200


def test_unknown_project_of_another_team_is_not_revealed(
    token_client: TestClient, token_world: tuple[World, Tokens]
) -> None:
    _, tokens = token_world
    r = token_client.get(f"/api/overview?{period()}&project=chat", headers=bearer(tokens.vision))
    assert r.status_code == 404
    assert "known projects of team 'vision': detector" in r.json()["detail"]


def test_admin_reads_every_team_and_manages_tokens(
    token_client: TestClient, token_world: tuple[World, Tokens]
) -> None:
    _, tokens = token_world
    h = bearer(tokens.admin)
    page = token_client.get(f"/api/overview?{period()}&team=nlp", headers=h).json()
    assert page["totals"]["co2e_g"] == pytest.approx(150)
    listed = token_client.get("/api/tokens", headers=h).json()["tokens"]
    states = {t["id"]: t["state"] for t in listed}
    assert states[tokens.ids["revoked"]] == "revoked"
    assert states[tokens.ids["expired"]] == "expired"
    assert all("secret" not in str(t) and "lcb_" not in str(t) for t in listed)
    html = token_client.get("/tokens", headers=h).text
    assert f'action="/tokens/{tokens.ids["vision"]}/revoke"' in html


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("anonymous", 401),
        ("malformed", 401),
        ("revoked", 401),
        ("vision", 403),
        ("nlp_writer", 403),
        ("admin", 200),
    ],
)
def test_token_pages_and_revocation_need_admin(
    token_client: TestClient, token_world: tuple[World, Tokens], who: str, status: int
) -> None:
    w, tokens = token_world
    engine = open_engine(w.url, environ={})
    try:
        victim = TokenStore(engine).create(team="vision")  # a token of its own to revoke
    finally:
        engine.dispose()
    h = _headers(tokens, who)
    assert token_client.get("/api/tokens", headers=h).status_code == status
    assert token_client.get("/tokens", headers=h).status_code == status
    r = token_client.post(f"/api/tokens/{victim.token.id}/revoke", headers=h)
    assert r.status_code == status, r.text[:200]
    after = token_client.get("/api/overview", headers=bearer(victim.bearer)).status_code
    assert after == (401 if status == 200 else 200)  # revoked only by the admin
    if status == 200:
        assert r.json()["token"]["state"] == "revoked"
        unknown = token_client.post("/api/tokens/0123456789abcdef/revoke", headers=h)
        assert unknown.status_code == 404
        bad = token_client.post("/api/tokens/nothex/revoke", headers=h)
        assert bad.status_code == 400


@pytest.mark.parametrize(
    ("who", "team", "status"),
    [
        ("anonymous", "nlp", 401),
        ("revoked", "vision", 401),
        ("vision", "vision", 403),  # read-only token
        ("nlp_writer", "vision", 404),  # another team's record
        ("nlp_writer", "nlp", 201),
        ("admin", "vision", 201),
    ],
)
def test_notes_need_the_write_scope_and_stay_in_the_team(
    token_client: TestClient,
    token_world: tuple[World, Tokens],
    who: str,
    team: str,
    status: int,
) -> None:
    w, tokens = token_world
    record_id = w.ids[team][0]
    r = token_client.post(
        f"/api/records/{record_id}/notes",
        json={"text": "rerun on the new cluster <b>please</b>"},
        headers=_headers(tokens, who),
    )
    assert r.status_code == status, r.text[:200]
    if status == 201:
        note = r.json()["record"]
        assert note["kind"] == "note" and note["metadata"]["about"] == record_id
        assert note["attribution"]["team"] == team
        html = token_client.get(r.json()["links"]["record"], headers=_headers(tokens, who)).text
        assert "&lt;b&gt;please&lt;/b&gt;" in html


def test_a_write_with_the_login_cookie_must_come_from_this_site(
    make_client: Callable[..., TestClient], token_world: tuple[World, Tokens]
) -> None:
    w, tokens = token_world
    token_client = make_client(w.url)
    login = token_client.post("/login", data={"token": tokens.nlp_writer}, follow_redirects=False)
    assert login.status_code == 303 and "httponly" in login.headers["set-cookie"].lower()
    assert "samesite=strict" in login.headers["set-cookie"].lower()
    url = f"/api/records/{w.ids['nlp'][0]}/notes"
    elsewhere = token_client.post(
        url, json={"text": "x"}, headers={"Origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403 and "Origin" in elsewhere.json()["detail"]
    same = token_client.post(url, json={"text": "x"}, headers={"Origin": "http://testserver"})
    assert same.status_code == 201
    page = token_client.get("/api/overview")
    assert page.status_code == 200 and page.json()["viewer"]["team"] == "nlp"
    token_client.get("/logout")
    assert token_client.get("/api/overview").status_code == 401
    bad = token_client.post("/login", data={"token": "nope"})
    assert bad.status_code == 401 and "malformed token" in bad.text


def test_without_tokens_loopback_reads_anonymously_but_never_writes(
    client: TestClient, world: World
) -> None:
    assert client.get(f"/api/overview?{period()}").json()["viewer"]["anonymous"] is True
    r = client.post(f"/api/records/{world.ids['nlp'][0]}/notes", json={"text": "hi"})
    assert r.status_code == 403 and "anonymous local access is read-only" in r.json()["detail"]
    assert client.get("/api/tokens").status_code == 403
    assert client.get(EMISSIONS).status_code == 200


def test_exposed_without_tokens_answers_no_one(
    world: World, make_client: Callable[..., TestClient]
) -> None:
    c = make_client(world.url, host="0.0.0.0")
    r = c.get("/api/overview")
    assert r.status_code == 401
    assert "listens on 0.0.0.0 and no API token exists" in r.json()["detail"]
    assert "lowcarb tokens create" in r.json()["detail"]
    assert c.get("/").status_code == 401
    assert c.get(EMISSIONS).status_code == 401


def test_the_sdk_health_check_answers_anyone(
    token_world: tuple[World, Tokens], make_client: Callable[..., TestClient]
) -> None:
    c = make_client(token_world[0].url, host="192.0.2.10")
    assert c.get("/api/overview").status_code == 401
    r = c.get("/health")
    assert (r.status_code, r.text) == (200, "Healthy")


def test_exposed_with_tokens_needs_one(
    token_world: tuple[World, Tokens], make_client: Callable[..., TestClient]
) -> None:
    w, tokens = token_world
    c = make_client(w.url, host="192.0.2.10")
    assert c.get("/api/overview").status_code == 401
    assert c.get("/api/overview", headers=bearer(tokens.vision)).status_code == 200
