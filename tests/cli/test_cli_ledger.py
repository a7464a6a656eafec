"""`lowcarb ledger ...`: the DESIGN.md contract (JSON shapes, exit codes, one-line errors)."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.ledger import Ed25519Signer, MarketFactor, open_ledger
from lowcarb.ledger.testing import sample_draft


def run(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    rc = main(list(argv), ctx=CliContext(stdout=out, stderr=err, environ=environ or {}))
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url, environ={}) as ledger:
        ledger.append(sample_draft(team="vision", model="resnet50"))
        ledger.append(sample_draft(team="nlp", model="bert", market=MarketFactor(0.0, "ppa:x")))
        ledger.append(sample_draft(team="vision", model="vit"))
    return url


def test_verify_json_contract(url: str) -> None:
    rc, out, _ = run("ledger", "verify", "--ledger", url, "--json")
    assert rc == 0
    result = json.loads(out)
    assert list(result)[:4] == ["ok", "entries", "first_bad", "reason"]
    assert (result["ok"], result["entries"], result["first_bad"]) == (True, 3, None)
    assert out.count("\n") == 1


def test_verify_human_output(url: str) -> None:
    rc, out, _ = run("ledger", "verify", "--ledger", url)
    assert rc == 0
    assert out.startswith("ledger OK: 3 records; chain intact")


def test_ledger_defaults_to_env_then_cwd(url: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rc, out, _ = run("ledger", "verify", "--json", environ={"LOWCARB_LEDGER": url})
    assert (rc, json.loads(out)["entries"]) == (0, 3)
    monkeypatch.chdir(tmp_path)
    rc, _, err = run("ledger", "verify")
    assert rc == 2
    assert err == "lowcarb: error: no ledger at '.lowcarb/ledger.db'; it is created by the " + (
        "first writer (e.g. `lowcarb run --ledger ...`)\n"
    )
    assert not (tmp_path / ".lowcarb").exists()  # reading never creates a ledger


def test_show_json_and_table(url: str) -> None:
    rc, out, _ = run("ledger", "show", "--ledger", url, "--json", "--team", "vision")
    assert rc == 0
    shown = json.loads(out)
    assert shown["count"] == 2
    assert [r["attribution"]["model"] for r in shown["records"]] == ["resnet50", "vit"]
    rc, out, _ = run("ledger", "show", "--ledger", url, "--limit", "2")
    assert rc == 0
    assert "nlp" in out and "vit" in out and "resnet50" not in out
    one = shown["records"][0]["id"]
    rc, out, _ = run("ledger", "show", "--ledger", url, "--json", "--id", one)
    assert [r["id"] for r in json.loads(out)["records"]] == [one]
    rc, _, err = run("ledger", "show", "--ledger", url, "--id", "nope")
    assert rc == 2 and "no record with id 'nope'" in err


def test_export_csv_stdout_and_file(url: str, tmp_path: Path) -> None:
    rc, out, err = run("ledger", "export", "--ledger", url, "--format", "csv", "--model", "bert")
    assert rc == 0
    rows = list(csv.DictReader(StringIO(out)))
    assert [r["team"] for r in rows] == ["nlp"]
    assert "exported 1 record(s)" in err
    target = tmp_path / "all.jsonl"
    rc, _, _ = run(
        "ledger", "export", "--ledger", url, "--format", "jsonl", "--output", str(target)
    )
    assert rc == 0
    assert len(target.read_text().splitlines()) == 3
    rc, _, err = run("ledger", "export", "--ledger", url, "--format", "parquet")
    assert rc == 2 and "--output" in err


def test_totals_json_and_table(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run("ledger", "totals", "--ledger", url, "--by", "team", "--json")
    assert rc == 0
    totals = json.loads(out)
    rows = {r["key"]: r for r in totals["rows"]}
    assert rows["vision"]["records"] == 2
    assert rows["nlp"]["market_co2e_g"] == 0.0
    assert rows["nlp"]["location_co2e_g"] == pytest.approx(1368.0)
    assert totals["total"]["location_co2e_g"] == pytest.approx(3 * 1368.0)
    rc, out, _ = run("ledger", "totals", "--ledger", url, "--by", "model")
    assert rc == 0
    assert "TOTAL" in out and "bert" in out
    rc, _, _ = run("ledger", "totals", "--ledger", url, "--by", "colour")
    assert rc == 2 and "invalid choice" in capsys.readouterr().err  # argparse: real stderr


def test_checkpoint_then_verify_against_it(url: str, tmp_path: Path) -> None:
    target = tmp_path / "cp.json"
    rc, out, _ = run("ledger", "checkpoint", "--ledger", url, "--output", str(target))
    assert rc == 0
    printed = json.loads(out)
    assert printed["count"] == 3
    assert json.loads(target.read_text()) == printed
    with open_ledger(url, environ={}) as ledger:
        ledger.append(sample_draft())
    rc, out, _ = run("ledger", "verify", "--ledger", url, "--checkpoint", str(target), "--json")
    assert (rc, json.loads(out)["ok"]) == (0, True)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    rc, _, err = run("ledger", "verify", "--ledger", url, "--checkpoint", str(bad))
    assert rc == 2 and "not a lowcarb checkpoint" in err


def test_keygen_and_verify_with_public_key(tmp_path: Path) -> None:
    priv, pub = tmp_path / "w.pem", tmp_path / "w.pub"
    rc, out, _ = run(
        "ledger", "keygen", "--private-key", str(priv), "--public-key", str(pub), "--json"
    )
    assert rc == 0
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    key_id = json.loads(out)["key_id"]
    url = f"sqlite:///{tmp_path / 'signed.db'}"
    with open_ledger(url, environ={"LOWCARB_LEDGER_SIGNING_KEY": str(priv)}) as ledger:
        assert ledger.append(sample_draft()).signer == key_id
    rc, _, _ = run("ledger", "verify", "--ledger", url, "--public-key", str(pub))
    assert rc == 0
    other = tmp_path / "other.pub"
    other.write_bytes(Ed25519Signer.generate().public_pem())
    rc, out, _ = run("ledger", "verify", "--ledger", url, "--public-key", str(other), "--json")
    assert (rc, json.loads(out)["first_bad"]) == (1, 1)
    rc, _, err = run("ledger", "keygen", "--private-key", str(priv), "--public-key", str(pub))
    assert rc == 2 and "never overwrites" in err


def test_bad_arguments_exit_2_with_one_line(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, _ = run("ledger", "export", "--ledger", url, "--format", "csv", "--since", "May")
    err = capsys.readouterr().err  # argparse writes to the real stderr
    assert rc == 2 and err.count("\n") == 1 and "ISO 8601" in err
    rc, _, err = run("ledger", "verify", "--ledger", "mysql://x/y")
    assert rc == 2 and "unknown dialect 'mysql'" in err
    rc, _, _ = run("ledger")
    assert rc == 2


def test_real_console_script(url: str) -> None:
    exe = Path(sys.executable).with_name("lowcarb")
    if not exe.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    env = {**os.environ, "LOWCARB_LEDGER": url}
    proc = subprocess.run(
        [str(exe), "ledger", "verify", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["entries"] == 3


@pytest.mark.parametrize("command", [["ledger", "export", "--format", "jsonl"], ["zones"]])
def test_a_reader_that_leaves_early_gets_no_traceback(url: str, command: list[str]) -> None:
    """``lowcarb ledger export ... | head``: stop quietly with status 1 (as Rich's tables do)."""
    argv = [*command, "--ledger", url] if command[0] == "ledger" else command
    proc = subprocess.Popen(
        [sys.executable, "-m", "lowcarb.cli", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command prints anything: it takes ~0.2 s to start
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
