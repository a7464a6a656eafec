"""Settings precedence: flags > environment > config file > defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lowcarb._config import DEFAULT_LEDGER_URL, load_settings, resolve_ledger_url
from lowcarb.errors import ConfigError, UsageError


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), **extra}


def test_defaults_without_any_config(tmp_path: Path) -> None:
    s = load_settings(environ=_env(tmp_path), cwd=tmp_path)
    assert s.zone is None and s.pue == 1.0 and s.ledger is None and s.config_file is None


def test_lowcarb_toml_then_environment_overrides(tmp_path: Path) -> None:
    (tmp_path / "lowcarb.toml").write_text('zone = "DE"\npue = 1.3\nteam = "vision"\n')
    s = load_settings(environ=_env(tmp_path), cwd=tmp_path)
    assert (s.zone, s.pue, s.team) == ("DE", 1.3, "vision")
    assert s.origin is not None and s.origin["zone"].endswith("lowcarb.toml")
    s = load_settings(environ=_env(tmp_path, LOWCARB_ZONE="FR", LOWCARB_PUE="1.1"), cwd=tmp_path)
    assert (s.zone, s.pue, s.team) == ("FR", 1.1, "vision")
    assert s.origin is not None and s.origin["zone"] == "$LOWCARB_ZONE"


def test_pyproject_tool_section(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname="x"\n[tool.lowcarb]\nzone = "GB"\n')
    assert load_settings(environ=_env(tmp_path), cwd=tmp_path).zone == "GB"


def test_user_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "xdg" / "lowcarb"
    cfg.mkdir(parents=True)
    (cfg / "config.toml").write_text('zone = "NO-NO1"\n')
    env = _env(tmp_path, XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    assert load_settings(environ=env, cwd=tmp_path).zone == "NO-NO1"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("zone = ", "not valid TOML"),
        ('zome = "DE"\n', "unknown key 'zome'"),
        ("pue = 0.5\n", "pue"),
        ('pue = "high"\n', "pue"),
        ("zone = 3\n", "zone"),
        ("sample_interval_s = -1\n", "sample_interval_s"),
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "lowcarb.toml").write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_settings(environ=_env(tmp_path), cwd=tmp_path)


def test_lowcarb_config_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LOWCARB_CONFIG"):
        load_settings(
            environ=_env(tmp_path, LOWCARB_CONFIG=str(tmp_path / "nope.toml")), cwd=tmp_path
        )


def test_bad_pue_in_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\$LOWCARB_PUE"):
        load_settings(environ=_env(tmp_path, LOWCARB_PUE="0.9"), cwd=tmp_path)


def test_config_file_is_found_in_a_parent_directory(tmp_path: Path) -> None:
    (tmp_path / "lowcarb.toml").write_text('zone = "DE"\nledger = "sqlite:///.lowcarb/l.db"\n')
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    s = load_settings(environ=_env(tmp_path), cwd=deep)
    assert s.zone == "DE" and s.config_file == tmp_path / "lowcarb.toml"
    # a relative SQLite path is relative to the config file, wherever the command runs
    assert s.ledger == f"sqlite:///{tmp_path / '.lowcarb' / 'l.db'}"


def test_the_nearest_config_file_wins(tmp_path: Path) -> None:
    (tmp_path / "lowcarb.toml").write_text('zone = "DE"\n')
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[tool.lowcarb]\nzone = "FR"\n')
    assert load_settings(environ=_env(tmp_path), cwd=inner / ".").zone == "FR"
    (inner / "pyproject.toml").write_text('[project]\nname = "x"\n')  # no section: keep going up
    assert load_settings(environ=_env(tmp_path), cwd=inner).zone == "DE"


def test_ledger_url_precedence_flag_env_config_default(tmp_path: Path) -> None:
    (tmp_path / "lowcarb.toml").write_text('ledger = "/abs/config.db"\n')
    env = _env(tmp_path)
    assert resolve_ledger_url(None, environ=env, cwd=tmp_path) == "sqlite:////abs/config.db"
    env_set = _env(tmp_path, LOWCARB_LEDGER="sqlite:///env.db")
    assert resolve_ledger_url(None, environ=env_set, cwd=tmp_path) == "sqlite:///env.db"
    assert resolve_ledger_url("flag.db", environ=env_set, cwd=tmp_path) == "sqlite:///flag.db"
    (tmp_path / "lowcarb.toml").unlink()
    assert resolve_ledger_url(None, environ=env, cwd=tmp_path) == DEFAULT_LEDGER_URL
    assert resolve_ledger_url(None, environ=env, cwd=tmp_path, default=None) is None


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ({"flag": "postgres://u@h/db"}, "--ledger scheme 'postgres'"),
        ({"env": "sqlite://"}, "$LOWCARB_LEDGER"),
        ({"config": 'ledger = "sqlte:///x.db"\n'}, "lowcarb.toml"),
    ],
)
def test_bad_ledger_url_names_where_it_came_from(
    tmp_path: Path, source: dict[str, str], needle: str
) -> None:
    env = _env(tmp_path, **({"LOWCARB_LEDGER": source["env"]} if "env" in source else {}))
    if "config" in source:
        (tmp_path / "lowcarb.toml").write_text(source["config"])
    with pytest.raises(UsageError, match=re.escape(needle)):
        resolve_ledger_url(source.get("flag"), environ=env, cwd=tmp_path)


@pytest.mark.parametrize(
    "content", [b"\xff\xfe\x00binary", b"zone = 'DE'\n" + b"# pad\n" * 200_000]
)
def test_binary_or_huge_config_is_refused(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "lowcarb.toml").write_bytes(content)
    with pytest.raises(ConfigError, match=r"lowcarb\.toml"):
        load_settings(environ=_env(tmp_path), cwd=tmp_path)
