"""The top-level ``lowcarb`` command: --version, --help and which command modules load."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from io import StringIO
from pathlib import Path

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


def test_help_states_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    _run("--help")
    listed = capsys.readouterr().out
    for line in ("0    success", "1    a negative verdict", "2    bad usage", "127  run"):
        assert line in listed


def test_python_dash_m_lowcarb_works(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lowcarb", "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("lowcarb ")


@pytest.mark.parametrize("shell", ["bash", "zsh", "tcsh"])
def test_completion_scripts_cover_every_command(shell: str) -> None:
    rc, out, _ = _run("completion", shell)
    assert rc == 0
    words = ("ledger", "gate") if shell == "tcsh" else ("ledger", "gate", "--emissions-csv")
    for word in words:  # shtab's tcsh script completes commands, not every subcommand flag
        assert word in out


def test_completion_for_bash_is_valid_shell(tmp_path: Path) -> None:
    _, out, _ = _run("completion", "bash")
    script = tmp_path / "lowcarb.bash"
    script.write_text(out)
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_an_internal_error_is_one_line_exit_70(monkeypatch: pytest.MonkeyPatch) -> None:
    import lowcarb.cli.zones as zones

    def boom(*_: object) -> int:
        raise RuntimeError("bug\nwith\x1b[31m two lines")

    monkeypatch.setattr(zones, "_handle", boom)
    rc, out, err = _run("zones")
    assert rc == 70 and out == ""
    assert err.count("\n") == 1 and "internal error: RuntimeError: bug with" in err
    assert "\x1b" not in err and "Traceback" not in err


def test_argparse_errors_are_one_line_without_control_characters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, _, _ = _run("ledger", "totals", "--by", "\x1b[31mteam\nx")
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "\x1b" not in err


@pytest.mark.parametrize(
    ("argv", "canonical", "alias", "dest"),
    [
        (["backtest", "--trace", "t.csv"], "--since", "--from", "start"),
        (["backtest", "--trace", "t.csv"], "--until", "--to", "end"),
        (["intensity", "history"], "--since", "--start", "start"),
        (["intensity", "history"], "--until", "--end", "end"),
        (
            ["plan", "--zone", "DE", "--duration", "1h", "--deadline", "2h"],
            "--forecaster",
            "--model",
            "model",
        ),
        (["backtest", "--trace", "t.csv"], "--forecaster", "--model", "model"),
    ],
)
def test_one_vocabulary_with_the_old_spellings_kept(
    argv: list[str], canonical: str, alias: str, dest: str
) -> None:
    """Time ranges are --since/--until and forecast models --forecaster in every command; the
    spellings scripts already use keep working."""
    from lowcarb.cli import build_parser

    value = "lag-ridge" if dest == "model" else "2022-01-01T00:00Z"
    parser = build_parser(argv)
    for flag in (canonical, alias):
        assert getattr(parser.parse_args([*argv, flag, value]), dest) == value


def test_profile_names_model_files_and_versions_apart() -> None:
    from lowcarb.cli import build_parser

    base = ["profile", "--data", "d.npz"]
    parser = build_parser(base)
    for file_flag, version_flag in (("--model-file", "--model-version"), ("--model", "--version")):
        args = parser.parse_args([*base, file_flag, "m.onnx", version_flag, "3"])
        assert (str(args.model), args.model_version) == ("m.onnx", "3")


def test_internal_error_traceback_only_with_verbose(monkeypatch: pytest.MonkeyPatch) -> None:
    import lowcarb.cli.zones as zones

    def boom(*_: object) -> int:
        raise KeyError("surprise")

    monkeypatch.setattr(zones, "_handle", boom)
    rc, _, err = _run("-v", "zones")
    assert rc == 70 and "Traceback" in err and "KeyError" in err
    assert err.rstrip().splitlines()[-1].startswith("lowcarb: internal error: KeyError:")


def test_a_file_the_system_refuses_is_one_line_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import lowcarb.cli.zones as zones

    def refused(*_: object) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", "/srv/out\n.csv")

    monkeypatch.setattr(zones, "_handle", refused)
    rc, out, err = _run("zones")
    assert (rc, out) == (2, "")
    assert err == "lowcarb: error: Permission denied: '/srv/out\\n.csv'\n"  # repr: one line


def test_install_hints_reach_the_user_intact(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pip install 'lowcarb[x]'` must not be eaten as Rich markup on the way out."""
    import lowcarb.cli.zones as zones
    from lowcarb.errors import MissingDependencyError

    def missing(*_: object) -> int:
        raise MissingDependencyError("pyarrow", "parquet")

    monkeypatch.setattr(zones, "_handle", missing)
    rc, _, err = _run("zones")
    assert rc == 2 and "pip install 'lowcarb[parquet]'" in err


def test_no_command_prints_help_and_exits_2() -> None:
    rc, out, err = _run()
    assert rc == 2 and out == "" and "usage: lowcarb" in err and "exit status:" in err
