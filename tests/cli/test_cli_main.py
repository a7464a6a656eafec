"""The top-level ``lowcarb`` command: --version, --help and which command modules load."""

from __future__ import annotations

from importlib.metadata import version
from io import StringIO

import pytest

from lowcarb.cli import _modules_for, main
from lowcarb.cli._common import CliContext


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    rc = main(list(argv), ctx=CliContext(stdout=out, stderr=err))
    return rc, out.getvalue(), err.getvalue()


def test_version_prints_the_installed_version_without_loading_commands() -> None:
    rc, out, _ = _run("--version")
    assert rc == 0 and out.strip() == f"lowcarb {version('lowcarb')}"
    assert _modules_for(["--version"]) == []


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, _ = _run("--help")
    listed = capsys.readouterr().out
    assert rc == 0
    for command in ("run", "ledger", "plan", "backtest", "submit", "worker", "gate", "budget"):
        assert command in listed


def test_only_the_named_command_module_loads() -> None:
    assert _modules_for(["-v", "submit", "--help"]) == ["jobs"]
    assert _modules_for(["--version", "--help"]) == _modules_for([])
    assert len(_modules_for(["nonsense"])) == len(_modules_for([])) > 5
