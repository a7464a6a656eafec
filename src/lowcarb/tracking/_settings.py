"""Tracker settings, resolved in one place: arguments, then environment, then the config file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from lowcarb._config import load_settings, resolve_ledger_url
from lowcarb._text import check_name
from lowcarb.energy import parse_meter_names
from lowcarb.errors import InvalidValueError
from lowcarb.grid import resolve_zone
from lowcarb.ledger import Attribution

__all__ = ["TrackerConfig", "attribution", "resolve_tracker_config"]


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """What a Tracker runs with once every source of settings is applied.

    Attributes:
        zone: Zone id or cloud region, or None (the labelled world average).
        pue: Facility PUE, >= 1.0.
        ledger_url: The ledger to append to, or None to record nowhere.
        attribution: Who the work is charged to, every name checked.
        sample_interval_s: Background sampling interval of meters that integrate power.
    """

    zone: str | None
    pue: float
    ledger_url: str | None
    attribution: Attribution
    sample_interval_s: float


def attribution(
    *,
    team: str | None = None,
    project: str | None = None,
    model: str | None = None,
    model_version: str | None = None,
    run_id: str | None = None,
    stage: str | None = None,
    user: str | None = None,
) -> Attribution:
    """An :class:`~lowcarb.ledger.Attribution` whose names are checked with messages that name
    the field and the fix (``team name ... is longer than 200 characters``).

    Raises:
        InvalidValueError: A name with control characters, empty, or too long.
    """
    names = {
        "team": team,
        "project": project,
        "model": model,
        "model_version": model_version,
        "run_id": run_id,
        "stage": stage,
    }
    checked = {key: check_name(value, what=key.replace("_", " ")) for key, value in names.items()}
    return Attribution(**checked, user=_safe_user(user))


def resolve_tracker_config(
    *,
    zone: str | None,
    pue: float | None,
    ledger: str | None,
    attribution: Attribution | None,
    sample_interval_s: float | None,
    environ: Mapping[str, str],
    cwd: Path | None,
) -> TrackerConfig:
    """Apply arguments, ``LOWCARB_*`` variables and the config file, in that order.

    ``ledger=""`` records nowhere, even where a ledger is configured.

    Raises:
        InvalidValueError: A PUE below 1, a non-positive interval, a bad name.
        UnknownZoneError: An unknown zone.
        UsageError: A ledger URL lowcarb cannot keep.
    """
    settings = load_settings(environ=environ, cwd=cwd)
    # A typo in LOWCARB_METERS fails here, before any work runs (the meters are found later, on
    # the monitor's thread, once the work has started).
    parse_meter_names(environ.get("LOWCARB_METERS"))
    if pue is not None and not pue >= 1.0:
        raise InvalidValueError(f"pue must be a number >= 1.0, got {pue!r}")
    interval = sample_interval_s if sample_interval_s is not None else settings.sample_interval_s
    if not interval > 0:
        raise InvalidValueError(f"sample_interval_s must be > 0, got {interval!r}")
    ledger_url = (
        None
        if ledger == ""
        else resolve_ledger_url(
            ledger, environ=environ, cwd=cwd, default=None, settings=settings, flag_name="ledger"
        )
    )
    given = attribution if attribution is not None else Attribution()
    named = {
        **given.as_dict(),
        "team": given.team if given.team is not None else settings.team,
        "project": given.project if given.project is not None else settings.project,
    }
    origin = settings.origin or {}
    # A name taken from the environment or the config file says where it came from.
    came_from = {
        key: f" ({origin[key]})"
        for key in ("team", "project")
        if getattr(given, key) is None and key in origin
    }
    checked = {
        key: check_name(value, what=key.replace("_", " ") + came_from.get(key, ""))
        for key, value in named.items()
        if key != "user"
    }
    # The login name is not chosen by the user of this call: made safe, never refused.
    login = (
        given.user
        if given.user is not None
        else (environ.get("LOWCARB_USER") or environ.get("USER"))
    )
    return TrackerConfig(
        zone=resolve_zone(zone, environ=environ, config_zone=settings.zone),
        pue=pue if pue is not None else settings.pue,
        ledger_url=ledger_url,
        attribution=replace(given, **checked, user=_safe_user(login)),
        sample_interval_s=float(interval),
    )


def _safe_user(login: str | None) -> str | None:
    if login is None:
        return None
    cleaned = "".join(ch for ch in login if ch.isprintable())[:200].strip()
    return cleaned or None
