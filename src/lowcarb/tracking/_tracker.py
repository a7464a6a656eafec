"""The user-facing :class:`Tracker`: measure (energy/), price (grid/), record (ledger/).

This module only composes the packages; each concept lives in its own package. ``start()`` does no
hardware discovery and no network: the :class:`~lowcarb.energy.EnergyMonitor` discovers meters on a
background thread, and pricing and the ledger write happen at ``stop()``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, overload

from lowcarb._config import Settings, load_settings, resolve_ledger_url
from lowcarb._text import check_name
from lowcarb.energy import EnergyMonitor, Measurement, Meter
from lowcarb.errors import InvalidValueError, LedgerError, LowcarbError, UsageError
from lowcarb.grid import Footprint, price, resolve_zone, static_intensity

__all__ = ["Tracker", "footprint_to_dict", "track"]

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def footprint_to_dict(footprint: Footprint) -> dict[str, Any]:
    """The footprint as the JSON object of the ``lowcarb run`` contract (DESIGN.md)."""
    m = footprint.measurement
    i = footprint.intensity
    return {
        "duration_s": round(m.duration_s, 6),
        "energy_kwh": footprint.energy_kwh,
        "it_energy_kwh": footprint.it_energy_kwh,
        "co2e_g": footprint.co2e_g,
        "zone": i.zone,
        "intensity_g_per_kwh": i.intensity_g_per_kwh,
        "intensity_source": i.source,
        "intensity_kind": i.kind,
        "intensity_signal": i.signal,
        "intensity_scope": i.scope,
        "intensity_note": i.note,
        "pue": footprint.pue,
        "method": m.method,
        "components": [
            {
                "name": c.name,
                "energy_kwh": c.energy_kwh,
                "energy_j": c.energy_j,
                "method": c.method,
                "source": c.source,
                "detail": c.detail,
            }
            for c in m.components
        ],
        "started_at": m.started_at.isoformat(),
        "notes": list(m.notes),
    }


class Tracker:
    """Measure a block of code, a function or a process tree; price it; optionally record it.

    Use it as a context manager, a decorator (see :func:`track`), or with ``start()``/``stop()``.
    Nested named windows measure phases inside one run::

        with Tracker(zone="DE", pue=1.2) as t:
            with t.window("train"):
                fit()
        print(t.footprint.co2e_g, t.windows["train"].energy_kwh)

    Settings not given explicitly come from the environment (``LOWCARB_ZONE``, ``LOWCARB_PUE``,
    ``LOWCARB_LEDGER``, ``LOWCARB_TEAM``, ``LOWCARB_PROJECT``) or the config file (see
    :mod:`lowcarb._config`). Without a zone the footprint uses a labelled world average.

    Args:
        name: Name of the whole-run window.
        zone: Electricity Maps zone id or cloud region (``aws:eu-west-1``).
        pue: Facility PUE (>= 1.0).
        ledger: SQLAlchemy URL of a ledger to append the run to. It is checked and opened here,
            before any work runs: a URL that names no ledger lowcarb can keep (``sqlte://``,
            ``postgres://``, in-memory ``sqlite://``), an unreachable server or a file that is
            not a ledger raises at once. A ledger that fails later, at ``stop()``, loses nothing:
            the footprint is spooled to ``.lowcarb/unrecorded/``. ``""`` records nowhere, even
            where ``LOWCARB_LEDGER`` or the config file names a ledger.
        team, project, model, model_version, run_id, stage, user: Attribution for the ledger
            record (``user`` defaults to ``LOWCARB_USER`` or ``USER``).
        metadata: Free JSON-serialisable metadata for the ledger record.
        meters: Meters to use instead of detecting them (e.g. a ``FakeMeter`` in tests).
        pid: Root of the process tree to measure (default: this process).
        sample_interval_s: Background sampling interval for meters that integrate power.
        environ: Environment mapping (injected for tests).
        cwd: Directory in which to look for the config file.
        mlflow: Log the footprint to the active MLflow run at ``stop()`` under the ``lowcarb.*``
            schema of :mod:`lowcarb.governance`. ``None`` (default): only when MLflow is already
            imported and a run is active; ``True``: always (fails without an active run);
            ``False``: never.
    """

    def __init__(
        self,
        name: str = "run",
        *,
        zone: str | None = None,
        pue: float | None = None,
        ledger: str | None = None,
        team: str | None = None,
        project: str | None = None,
        model: str | None = None,
        model_version: str | None = None,
        run_id: str | None = None,
        stage: str | None = None,
        user: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        meters: Sequence[Meter] | None = None,
        pid: int | None = None,
        sample_interval_s: float | None = None,
        environ: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        mlflow: bool | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        settings: Settings = load_settings(environ=env, cwd=cwd)
        if pue is not None and not pue >= 1.0:
            raise InvalidValueError(f"pue must be a number >= 1.0, got {pue!r}")
        interval = (
            sample_interval_s if sample_interval_s is not None else settings.sample_interval_s
        )
        if not interval > 0:
            raise InvalidValueError(f"sample_interval_s must be > 0, got {interval!r}")
        self.name = name
        self.zone = resolve_zone(zone, environ=env, config_zone=settings.zone)
        self.pue = pue if pue is not None else settings.pue
        # ledger="" means "record nowhere", even where a ledger is configured.
        self.ledger_url = (
            None
            if ledger == ""
            else resolve_ledger_url(
                ledger, environ=env, cwd=cwd, default=None, settings=settings, flag_name="ledger"
            )
        )
        named = {
            "team": team if team is not None else settings.team,
            "project": project if project is not None else settings.project,
            "model": model,
            "model_version": model_version,
            "run_id": run_id,
            "stage": stage,
        }
        self.attribution: dict[str, str | None] = {
            key: check_name(value, what=key.replace("_", " ")) for key, value in named.items()
        }
        # The login name is not chosen by the user of this call: made safe, never refused.
        login = user if user is not None else (env.get("LOWCARB_USER") or env.get("USER"))
        self.attribution["user"] = _safe_user(login)
        self.metadata = dict(metadata or {})
        self.intensity = static_intensity(self.zone)  # validates the zone before any work runs
        if self.ledger_url:
            self._check_ledger(env)
        self._meters = meters
        self._pid = pid
        self._interval_s = float(interval)
        self._monitor: EnergyMonitor | None = None
        self.measurement: Measurement | None = None
        self.footprint: Footprint | None = None
        self.windows: dict[str, Measurement] = {}
        self.record_id: str | None = None
        self.ledger_error: LowcarbError | None = None
        self.spooled_to: Path | None = None
        self._cwd = cwd
        self._environ = env
        self._mlflow = mlflow

    def _check_ledger(self, environ: Mapping[str, str]) -> None:
        """Open the ledger once before any work runs, so a bad one fails before acting."""
        from lowcarb.ledger import open_ledger

        with open_ledger(self.ledger_url, environ=environ) as ledger:
            if ledger.read_only:
                raise LedgerError(
                    f"ledger {ledger.url} is read-only here, so the run could not be recorded; "
                    "point --ledger at a ledger you can write"
                )

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, *, pid: int | None = None) -> Tracker:
        """Start measuring. Returns at once: meters are discovered on a background thread.

        Args:
            pid: Measure this process tree instead of the one given at construction.
        """
        if self._monitor is not None:
            raise UsageError(f"tracker {self.name!r} is already started; call stop() first")
        self._monitor = EnergyMonitor(
            meters=self._meters,
            pid=pid if pid is not None else self._pid,
            sample_interval_s=self._interval_s,
            environ=self._environ,
        )
        self._monitor.start()
        return self

    def stop(self) -> Footprint:
        """Stop, price the run and append it to the ledger when one is configured.

        A ledger failure does not raise (the measurement must not be lost with it): it is logged
        and kept in ``ledger_error``.
        """
        if self._monitor is None:
            raise UsageError(f"tracker {self.name!r} was not started; call start() first")
        measurement = self._monitor.stop()
        self._monitor = None
        self.measurement = measurement
        self.footprint = price(measurement, intensity=self.intensity, pue=self.pue)
        if self.ledger_url:
            self._append_to_ledger(self.footprint)
        if self._should_log_mlflow():
            from lowcarb.governance import log_footprint

            log_footprint(self.footprint, windows=self.windows)
        return self.footprint

    def _should_log_mlflow(self) -> bool:
        if self._mlflow is not None:
            return self._mlflow
        mlflow = sys.modules.get("mlflow")  # never imported here: MLflow is an optional extra
        return mlflow is not None and mlflow.active_run() is not None

    def _append_to_ledger(self, footprint: Footprint) -> None:
        from lowcarb.ledger import Attribution, draft_from_footprint, open_ledger

        try:
            with open_ledger(self.ledger_url) as ledger:
                record = ledger.append(
                    draft_from_footprint(
                        footprint,
                        kind="run",
                        attribution=Attribution(**self.attribution),
                        metadata=self.metadata,
                    )
                )
            self.record_id = record.id
        except LowcarbError as exc:
            self.ledger_error = exc
            self.spooled_to = self._spool(footprint)
            log.error(
                "the run was measured but not recorded in the ledger (%s); its footprint was "
                "saved to %s",
                exc,
                self.spooled_to,
            )

    def _spool(self, footprint: Footprint) -> Path | None:
        """Keep an unrecorded footprint on disk so a ledger outage loses no data."""
        directory = (self._cwd or Path.cwd()) / ".lowcarb" / "unrecorded"
        stamp = footprint.measurement.started_at.strftime("%Y%m%dT%H%M%SZ")
        path = directory / f"{stamp}-{uuid.uuid4().hex[:8]}.json"
        payload = {
            "ledger": self.ledger_url,
            "attribution": self.attribution,
            "metadata": self.metadata,
            "footprint": footprint_to_dict(footprint),
        }
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
        except OSError as exc:
            log.error("could not save the unrecorded footprint to %s: %s", path, exc)
            return None
        return path

    def wait_ready(self, timeout_s: float | None = None) -> bool:
        """Block until meter discovery has finished (True) or ``timeout_s`` passed (False).

        Never needed for correct totals: a window begun before discovery finished counts from
        the moment it did, and says so in its components' ``detail``.
        """
        if self._monitor is None:
            raise UsageError(f"tracker {self.name!r} is not running; call start() first")
        return self._monitor.wait_ready(timeout_s)

    # -- windows -------------------------------------------------------------------------------
    def begin_window(self, name: str) -> None:
        """Open a named window inside the run (windows nest and may overlap)."""
        if self._monitor is None:
            raise UsageError(f"start tracker {self.name!r} before opening window {name!r}")
        self._monitor.begin_window(name)

    def end_window(self, name: str) -> Measurement:
        """Close a named window and return its measurement (also kept in ``windows``)."""
        if self._monitor is None:
            raise UsageError(f"tracker {self.name!r} is not running; cannot end window {name!r}")
        measurement = self._monitor.end_window(name)
        self.windows[name] = measurement
        return measurement

    @contextmanager
    def window(self, name: str) -> Iterator[None]:
        """Context manager for a named window."""
        self.begin_window(name)
        try:
            yield
        finally:
            self.end_window(name)

    # -- protocols -----------------------------------------------------------------------------
    def __enter__(self) -> Tracker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``func``: each call is measured by a fresh tracker with these settings."""
        template = self

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            tracker = template._clone()
            tracker.start()
            try:
                return func(*args, **kwargs)
            finally:
                tracker.stop()
                template._absorb(tracker)

        return wrapper

    def _clone(self) -> Tracker:
        clone = object.__new__(Tracker)
        clone.__dict__.update(self.__dict__)
        clone.windows = {}
        clone._monitor = None
        return clone

    def _absorb(self, other: Tracker) -> None:
        self.measurement, self.footprint = other.measurement, other.footprint
        self.record_id, self.ledger_error = other.record_id, other.ledger_error


def _safe_user(login: str | None) -> str | None:
    if login is None:
        return None
    cleaned = "".join(ch for ch in login if ch.isprintable())[:200].strip()
    return cleaned or None


@overload
def track(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def track(
    func: None = None, /, **tracker_kwargs: Any
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def track(
    func: Callable[P, R] | None = None, /, **tracker_kwargs: Any
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: measure every call of a function.

    ``@track`` or ``@track(zone="DE", ledger="sqlite:///ledger.db")``. The last call's footprint is
    at ``wrapped.tracker.footprint``.
    """

    def decorate(f: Callable[P, R]) -> Callable[P, R]:
        tracker = Tracker(f.__name__, **tracker_kwargs)
        wrapped = tracker(f)
        wrapped.tracker = tracker  # type: ignore[attr-defined]
        return wrapped

    if func is not None:
        return decorate(func)
    return decorate
