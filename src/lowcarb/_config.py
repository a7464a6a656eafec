"""Settings from the config file and the environment.

Precedence for every setting: an explicit argument (CLI flag or keyword) > environment variable >
config file > built-in default. The config file is the first found of:

1. the path in ``LOWCARB_CONFIG``;
2. ``lowcarb.toml``, or ``[tool.lowcarb]`` in ``pyproject.toml``, in the working directory or
   the nearest of its parents that has one (as git and ruff search);
3. ``$XDG_CONFIG_HOME/lowcarb/config.toml`` (default ``~/.config/lowcarb/config.toml``).

A relative SQLite path in a config file is relative to that file's directory, so every command run
from anywhere inside a project reaches the same ledger. The one resolver of the ledger URL is
:func:`resolve_ledger_url` (flag > ``LOWCARB_LEDGER`` > config file > default); every command and
the library use it.

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

__all__ = [
    "DEFAULT_LEDGER_URL",
    "Settings",
    "find_config_file",
    "load_settings",
    "resolve_ledger_url",
]

#: The ledger commands that read one use when none is configured (relative to the cwd).
DEFAULT_LEDGER_URL = "sqlite:///.lowcarb/ledger.db"

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
    for directory in (cwd, *cwd.parents):
        if (directory / "lowcarb.toml").is_file():
            return directory / "lowcarb.toml", False
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and _pyproject_section(pyproject) is not None:
            return pyproject, True
    xdg = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")) / ".config")
    user = Path(xdg).expanduser() / "lowcarb" / "config.toml"
    if user.is_file():
        return user, False
    return None


_MAX_CONFIG_BYTES = 1 << 20


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = fh.read(_MAX_CONFIG_BYTES + 1)
        if len(data) > _MAX_CONFIG_BYTES:
            raise ConfigError(
                f"config file {str(path)!r} is larger than 1 MiB; is it the right file?"
            )
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text; fix it") from None
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
    cwd = (cwd or Path.cwd()).absolute()
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
    if "ledger" in values and config_path is not None and origin["ledger"] == str(config_path):
        values["ledger"] = _anchor_sqlite(values["ledger"], config_path.parent)
    return Settings(**values, config_file=config_path, origin=origin)


def _anchor_sqlite(url: str, base: Path) -> str:
    """A relative SQLite path in a config file, made relative to the file's directory."""
    if "://" not in url:
        path = url
    elif url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        path = url[len("sqlite:///") :]
    else:
        return url
    if not path or Path(path).is_absolute() or path.startswith(":memory:"):
        return url
    return f"sqlite:///{base / path}"


def resolve_ledger_url(
    flag: str | None,
    *,
    environ: Mapping[str, str],
    cwd: Path | None = None,
    default: str | None = DEFAULT_LEDGER_URL,
    settings: Settings | None = None,
    allow_memory: bool = False,
    flag_name: str = "--ledger",
) -> str | None:
    """The ledger URL a command uses: ``flag`` > ``LOWCARB_LEDGER`` > config file > ``default``.

    The URL is checked (:func:`lowcarb.units.parse_ledger_url`) but not opened. ``default=None``
    means "no ledger unless one is configured" (``lowcarb run``).

    Raises:
        UsageError: The URL names no ledger lowcarb can keep (unknown dialect, ``postgres://``,
            ``sqlite:/x.db``, in-memory ``sqlite://``, a bad port).
        ConfigError: A malformed config file.
    """
    from lowcarb.units import parse_ledger_url

    if flag is not None:
        chosen, what = flag, flag_name
    else:
        settings = settings if settings is not None else load_settings(environ=environ, cwd=cwd)
        if settings.ledger:
            chosen = settings.ledger
            where = (settings.origin or {}).get("ledger", "config")
            what = f"ledger in {where}"
        elif default is None:
            return None
        else:
            chosen, what = default, "default ledger URL"
    return parse_ledger_url(chosen, what=what, allow_memory=allow_memory)
