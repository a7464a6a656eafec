"""Settings precedence: flags > environment > config file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from lowcarb._config import load_settings
from lowcarb.errors import ConfigError


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
