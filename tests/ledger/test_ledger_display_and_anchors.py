"""Forged records after a checkpoint, narrow terminals, hostile stored names, bad CLI URLs."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.ledger import Ed25519Signer, open_ledger
from lowcarb.ledger.testing import sample_draft


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(list(argv), ctx=CliContext(stdout=out, stderr=err, environ={}))
    return rc, out.getvalue(), err.getvalue()


def test_a_forged_record_after_a_checkpoint_fails_when_signatures_are_required(
    ledger_url: str, tmp_path: Path
) -> None:
    signer = Ed25519Signer.generate()
    pub = tmp_path / "w.pub"
    pub.write_bytes(signer.public_pem())
    with open_ledger(ledger_url, environ={}, signer=signer) as ledger:
        ledger.append_many([sample_draft() for _ in range(2)])
    cp = tmp_path / "cp.json"
    assert cli("ledger", "checkpoint", "--ledger", ledger_url, "--output", str(cp))[0] == 0
    common = ("ledger", "verify", "--ledger", ledger_url, "--checkpoint", str(cp), "--json")
    rc, out, _ = cli(*common, "--public-key", str(pub))
    assert rc == 0 and json.loads(out)["unanchored"] == 0
    with open_ledger(ledger_url, environ={}) as ledger:  # the forger has no key
        ledger.append(sample_draft(team="forged"))
    rc, out, _ = cli(*common)
    result = json.loads(out)  # without keys: passes, but never silently
    assert rc == 0 and result["unanchored"] == 1
    assert any("forged" in s for s in result["limits"]["not_ruled_out"])
    rc, out, _ = cli(*common, "--public-key", str(pub))
    result = json.loads(out)
    assert rc == 1 and result["ok"] is False and result["first_bad"] == 3


@pytest.mark.parametrize(
    "argv", [["show"], ["totals"], ["totals", "--by", "model"], ["totals", "--by", "month"]]
)
def test_tables_stay_readable_at_60_columns(
    sqlite_url: str, argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_ledger(sqlite_url, environ={}) as ledger:
        ledger.append(sample_draft(team="research-platform-" + "x" * 60, model="m" * 80))
    out = io.StringIO()
    monkeypatch.setenv("COLUMNS", "60")  # Rich sizes a non-terminal console from $COLUMNS
    rc = main(
        ["ledger", *argv, "--ledger", sqlite_url],
        ctx=CliContext(stdout=out, stderr=io.StringIO(), environ={}),
    )
    text = out.getvalue()
    assert rc == 0
    assert max(len(line) for line in text.splitlines()) <= 60, text
    if argv[0] == "totals":
        # The key figures survive: a number with a digit in the CO2e column, not an ellipsis.
        assert any(ch.isdigit() for ch in text) and "…" not in text.split("\n")[-2]


def test_hostile_names_already_stored_stay_readable(tmp_path: Path) -> None:
    # Written before names were checked (or by hand): still shown, escaped, never executed.
    path = tmp_path / "l.db"
    url = f"sqlite:///{path}"
    with open_ledger(url, environ={}) as ledger:
        ledger.append(sample_draft(team="ok"))
    with sqlite3.connect(path) as conn:
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'"):
            conn.execute(f'DROP TRIGGER "{name}"')
        (body,) = conn.execute("SELECT body FROM lowcarb_ledger").fetchone()
        text = body if isinstance(body, str) else body.decode()
        text = text.replace('"ok"', '"\\u001b[31m[/]evil"')
        conn.execute("UPDATE lowcarb_ledger SET body = ?", (text,))
    for argv in (["show"], ["totals"], ["show", "--json"]):
        rc, out, err = cli("ledger", *argv, "--ledger", url)
        assert rc == 0, err
        assert "\x1b" not in out and "[/]" in out
    rc, out, _ = cli("ledger", "verify", "--ledger", url)
    assert rc == 1 and "\x1b" not in out  # the edit is caught, and shown safely


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://"),
        ("sqlite://", "memory"),
        ("sqlite:/x.db", "sqlite:///"),
        ("postgresql+psycopg://u@127.0.0.1:99999/db", "port"),
    ],
)
@pytest.mark.parametrize("sub", ["verify", "show", "totals", "export", "checkpoint"])
def test_bad_urls_exit_2_with_one_line_and_create_nothing(
    sub: str, url: str, needle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    extra = {
        "checkpoint": ["--output", str(tmp_path / "cp.json")],
        "export": ["--format", "csv"],
    }.get(sub, [])
    rc, out, err = cli("ledger", sub, "--ledger", url, *extra)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_cli_ledger_url_comes_from_a_config_file_in_a_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "team.db"
    (tmp_path / "lowcarb.toml").write_text(f'ledger = "sqlite:///{db}"\n')
    with open_ledger(f"sqlite:///{db}", environ={}) as ledger:
        ledger.append(sample_draft())
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    for sub in ("verify", "show", "totals"):
        rc, out, err = cli("ledger", sub, "--json")
        assert rc == 0, err
        data = json.loads(out)
        assert data.get("entries", data.get("count", 1)) == 1
    assert not (work / ".lowcarb").exists()  # the default ledger was not used
