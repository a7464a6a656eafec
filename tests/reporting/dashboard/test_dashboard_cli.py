"""`lowcarb tokens` and `lowcarb dashboard` through the real ``lowcarb.cli.main``.

The commands are registered as ``lowcarb.cli`` registers every command (``_COMMANDS``; set here
too, so the tests do not depend on the order the registration lands in).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from io import StringIO
from typing import Any

import httpx
import pytest
from dashboard_helpers import World

from lowcarb import cli
from lowcarb.cli._common import CliContext


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli._COMMANDS, "tokens", "tokens")
    monkeypatch.setitem(cli._COMMANDS, "dashboard", "dashboard")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    code = cli.main(list(argv), ctx=CliContext(stdout=out, stderr=err, environ={}))
    return code, out.getvalue(), err.getvalue()


def test_tokens_create_list_revoke(tmp_path_factory: pytest.TempPathFactory) -> None:
    from dashboard_helpers import build_world

    tmp = tmp_path_factory.mktemp("cli")
    w = build_world(f"sqlite:///{tmp / 'ledger.db'}", tmp)
    code, out, err = run("tokens", "create", "--team", "vision", "--ledger", w.url)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("token ") and "team vision, scopes read, expires never" in lines[0]
    assert lines[1].startswith("lcb_") and "shown once" in lines[2]
    code, out, _ = run(
        "tokens", "create", "--admin", "--expires", "90d", "--json", "--ledger", w.url
    )
    admin = json.loads(out)
    assert code == 0 and admin["admin"] and admin["token"].startswith("lcb_")
    assert admin["scopes"] == ["admin", "read", "write"] and admin["expires_at"]
    code, out, _ = run("tokens", "list", "--json", "--ledger", w.url)
    listed = json.loads(out)["tokens"]
    assert [t["state"] for t in listed] == ["active", "active"]
    assert "lcb_" not in out  # never a secret
    code, out, _ = run("tokens", "revoke", admin["id"], "--ledger", w.url)
    assert code == 0 and out.startswith(f"revoked token {admin['id']}")
    code, out, _ = run("tokens", "list", "--ledger", w.url)
    assert code == 0 and "revoked" in out and "vision" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["tokens", "create"], "a team token needs a team (--team T)"),
        (["tokens", "create", "--team", "a", "--expires", "soon"], "--expires 'soon' is not a"),
        (["tokens", "create", "--team", "a", "--expires", "900d"], "longer than the 366 days"),
        (["tokens", "revoke", "nothex"], "is not 16 hex digits"),
        (["tokens", "revoke", "0123456789abcdef"], "no token with id"),
    ],
)
def test_tokens_bad_input_is_one_line_and_exit_2(world: World, argv: list[str], words: str) -> None:
    code, out, err = run(*argv, "--ledger", world.url)
    assert code == 2 and out == ""
    assert words in err and len(err.strip().splitlines()) == 1


def test_a_team_admin_token_is_refused_and_nothing_is_made(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from dashboard_helpers import build_world

    tmp = tmp_path_factory.mktemp("team-admin")
    w = build_world(f"sqlite:///{tmp / 'ledger.db'}", tmp)
    code, out, err = run("tokens", "create", "--team", "vision", "--admin", "--ledger", w.url)
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1
    assert "an --admin token reads every team, not only 'vision'" in err
    assert "drop --team for an admin token, or drop --admin" in err
    code, out, _ = run("tokens", "list", "--json", "--ledger", w.url)
    assert code == 0 and json.loads(out) == {"tokens": []}


def test_tokens_on_a_missing_ledger_create_nothing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    path = tmp_path_factory.mktemp("none") / "typo.db"
    code, _, err = run("tokens", "create", "--team", "a", "--ledger", f"sqlite:///{path}")
    assert code == 2 and "no ledger at" in err and not path.exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["dashboard", "--port", "70000"], "port must be 1..65535"),
        (["dashboard", "--ledger", "sqlite:///{tmp}/none.db"], "no ledger at"),
        (["dashboard", "--trace", "{tmp}/missing.csv"], "missing.csv"),
    ],
)
def test_dashboard_bad_input_fails_before_serving(
    world: World,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    words: str,
) -> None:
    tmp = tmp_path_factory.mktemp("dash")
    args = [a.replace("{tmp}", str(tmp)) for a in argv]
    if "--ledger" not in args:
        args += ["--ledger", world.url]
    code, _, err = run(*args)
    err += capsys.readouterr().err  # argparse writes its usage errors to sys.stderr
    assert code == 2 and words in err, err


@pytest.mark.parametrize(
    ("argv", "env", "words"),
    [
        (["--provider", "electricitymaps"], {}, "needs ELECTRICITYMAPS_API_TOKEN set"),
        (["--provider", "watttime"], {}, "use --provider electricitymaps (or ukci, for GB)"),
        (["--provider", "ukci", "--trace", "x.csv"], {}, "(--trace or --provider), not both"),
    ],
)
def test_dashboard_provider_refusals_fail_before_serving(
    world: World, argv: list[str], env: dict[str, str], words: str
) -> None:
    out, err = StringIO(), StringIO()
    argv = ["dashboard", "--ledger", world.url, *argv]
    code = cli.main(argv, ctx=CliContext(stdout=out, stderr=err, environ=env))
    assert code == 2 and words in err.getvalue(), err.getvalue()
    assert len(err.getvalue().strip().splitlines()) == 1


def test_dashboard_with_a_live_provider_answers_the_sdk_api_from_it(
    world: World, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard_helpers import TestClient

    import lowcarb.reporting.dashboard as dashboard

    served: list[object] = []
    monkeypatch.setattr(dashboard, "run_dashboard", lambda app, **kw: served.append(app))
    asked: list[httpx.Request] = []

    def electricity_maps(request: httpx.Request) -> httpx.Response:
        """A stand-in of Electricity Maps v3 past-range: 100 + the UTC hour."""
        asked.append(request)
        start = request.url.params["start"][:13]
        hours = [f"{start[:11]}{h:02d}" for h in range(int(start[11:13]), 24)]
        data = [
            {"datetime": f"{h}:00:00.000Z", "carbonIntensity": 100 + int(h[11:])} for h in hours
        ]
        return httpx.Response(200, json={"zone": request.url.params["zone"], "data": data})

    env = {
        "ELECTRICITYMAPS_API_TOKEN": "tok",
        "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache")),
    }
    out, err = StringIO(), StringIO()
    argv = ["dashboard", "--ledger", world.url, "--provider", "electricitymaps"]
    code = cli.main(argv, ctx=CliContext(stdout=out, stderr=err, environ=env))
    assert code == 0 and len(served) == 1, err.getvalue()
    app: Any = served[0]
    source = app.state.dashboard.source
    assert source.name == "electricitymaps"
    source.fetcher.client = httpx.Client(transport=httpx.MockTransport(electricity_maps))
    with TestClient(app) as client:
        r = client.get(
            "/emissions/bylocation",
            params={"location": "DE", "time": "2024-03-05T01:00Z", "toTime": "2024-03-05T03:00Z"},
        )
    assert r.status_code == 200, r.text
    assert [p["rating"] for p in r.json()] == [101.0, 102.0, 103.0]
    assert r.headers["X-Lowcarb-Source"] == "electricitymaps:v3/past-range"
    assert asked[0].headers["auth-token"] == "tok"
    assert asked[0].url.params["zone"] == "DE"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dashboard_serves_and_warns_when_exposed_without_a_token(world: World) -> None:
    port = _free_port()
    code = (
        "import sys; from lowcarb import cli; "
        "cli._COMMANDS.setdefault('dashboard', 'dashboard'); sys.exit(cli.main(sys.argv[1:]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "LOWCARB_LEDGER"}
    argv = ["dashboard", "--ledger", world.url, "--host", "0.0.0.0", "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lines = []
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "lowcarb dashboard on" in line or not line:
                break
        text = "".join(lines)
        assert "warning: the dashboard listens on 0.0.0.0 and the ledger has no API token" in text
        for _ in range(100):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/overview", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert r.status_code == 401 and "no API token exists" in r.json()["detail"]
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
            if proc.stderr is not None:
                proc.stderr.close()
