"""Settings from the config file and the environment.

Precedence for every setting: an explicit argument (CLI flag or keyword) > environment variable >
config file > built-in default. The config file is the first found of:

1. the path in ``LOWCARB_CONFIG``;
2. ``lowcarb.toml`` in the working directory;
3. ``[tool.lowcarb]`` in ``pyproject.toml`` in the working directory;
4. ``$XDG_CONFIG_HOME/lowcarb/config.toml`` (default ``~/.config/lowcarb/config.toml``).

Example ``lowcarb.toml``::

    zone = "DE"          # Electricity Maps zone id or cloud region (aws:eu-central-1)
    pue = 1.2            # facility power usage effectiveness
    ledger = "sqlite:///.lowcarb/ledger.db"
    team = "vision"
    project = "detector"

lowcarb never guesses location over the network: with no zone anywhere it says so and uses a
labelled world average.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lowcarb.errors import ConfigError

__all__ = ["Settings", "find_config_file", "load_settings"]

_KEYS = {"zone", "pue", "ledger", "team", "project", "sample_interval_s"}
_ENV = {
    "zone": "LOWCARB_ZONE",
    "pue": "LOWCARB_PUE",
    "ledger": "LOWCARB_LEDGER",
    "team": "LOWCARB_TEAM",
    "project": "LOWCARB_PROJECT",
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings; ``origin`` says where each non-default value came from."""

    zone: str | None = None
    pue: float = 1.0
    ledger: str | None = None
    team: str | None = None
    project: str | None = None
    sample_interval_s: float = 1.0
    config_file: Path | None = None
    origin: Mapping[str, str] | None = None


def find_config_file(*, environ: Mapping[str, str], cwd: Path) -> tuple[Path, bool] | None:
    """Return (path, is_pyproject) of the config file in effect, or None."""
    explicit = environ.get("LOWCARB_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(
                f"LOWCARB_CONFIG points to {explicit!r}, which is not a file; fix or unset it"
            )
        return path, False
    if (cwd / "lowcarb.toml").is_file():
        return cwd / "lowcarb.toml", False
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file() and _pyproject_section(pyproject) is not None:
        return pyproject, True
    xdg = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")) / ".config")
    user = Path(xdg).expanduser() / "lowcarb" / "config.toml"
    if user.is_file():
        return user, False
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}; fix it") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}") from None


def _pyproject_section(path: Path) -> dict[str, Any] | None:
    section = _read_toml(path).get("tool", {}).get("lowcarb")
    return section if isinstance(section, dict) else None


def _pue(value: object, where: str) -> float:
    try:
        pue = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"pue in {where} must be a number >= 1.0, got {value!r}") from None
    if not (math.isfinite(pue) and pue >= 1.0):
        raise ConfigError(f"pue in {where} must be a number >= 1.0, got {value!r}")
    return pue


def load_settings(*, environ: Mapping[str, str], cwd: Path | None = None) -> Settings:
    """Merge the config file and environment variables (explicit flags are applied by callers)."""
    cwd = cwd or Path.cwd()
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    found = find_config_file(environ=environ, cwd=cwd)
    config_path: Path | None = None
    if found is not None:
        config_path, is_pyproject = found
        data = (_pyproject_section(config_path) or {}) if is_pyproject else _read_toml(config_path)
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise ConfigError(
                f"unknown key {unknown[0]!r} in {str(config_path)!r}; "
                f"known keys: {', '.join(sorted(_KEYS))}"
            )
        for key, value in data.items():
            values[key] = value
            origin[key] = str(config_path)
    for key, var in _ENV.items():
        if environ.get(var):
            values[key] = environ[var]
            origin[key] = f"${var}"
    if "pue" in values:
        values["pue"] = _pue(values["pue"], origin["pue"])
    if "sample_interval_s" in values:
        interval = values["sample_interval_s"]
        if not isinstance(interval, int | float) or not 0 < interval <= 3600:
            raise ConfigError(
                f"sample_interval_s in {origin['sample_interval_s']} must be a number of "
                f"seconds in (0, 3600], got {interval!r}"
            )
        values["sample_interval_s"] = float(interval)
    for key in ("zone", "ledger", "team", "project"):
        if key in values and not isinstance(values[key], str):
            raise ConfigError(f"{key} in {origin[key]} must be a string, got {values[key]!r}")
    return Settings(**values, config_file=config_path, origin=origin)
