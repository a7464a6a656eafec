"""The user-facing :class:`Tracker`: a measured, priced block of work and its sinks.

The Tracker measures (``energy``) and prices (``grid``, at the hours the work ran); where the
footprint goes is its list of sinks (:mod:`lowcarb.tracking._sinks`), built from settings in one
place (:mod:`lowcarb.tracking._settings`). ``start()`` does no hardware discovery and no network:
the :class:`~lowcarb.energy.EnergyMonitor` discovers meters on a background thread, and pricing
and delivery happen at ``stop()``. The same block serves training runs, tuning trials, inference
batches and jobs (``kind``).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from lowcarb.energy import EnergyMonitor, Measurement, Meter
from lowcarb.errors import LowcarbError, UsageError
from lowcarb.grid import Footprint, Intensity, price, static_intensity
from lowcarb.ledger import Attribution
from lowcarb.tracking._pricing import intensity_for_hours
from lowcarb.tracking._settings import resolve_tracker_config
from lowcarb.tracking._sinks import (
    Delivery,
    LedgerSink,
    Sink,
    SinkContext,
    SpoolSink,
    plugin_sink,
    with_record_id,
)

__all__ = ["Tracker", "track"]

if TYPE_CHECKING:  # numpy-backed: importing lowcarb must stay light for training scripts
    from lowcarb.grid import IntensitySource

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


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
        attribution: Who the work is charged to (team, project, model, model_version, run_id,
            stage, user); ``team`` and ``project`` default to the settings, ``user`` to
            ``LOWCARB_USER`` or ``USER``.
        metadata: Free JSON-serialisable metadata for the ledger record.
        kind: Ledger record kind: ``"run"``, ``"trial"``, ``"inference"``, ``"job"``, ...
        sinks: More destinations for the footprint, after the ledger (e.g. a
            :class:`CodeCarbonCsvSink`); each is checked here, before any work runs.
        intensity_source: A live provider whose history prices the hours the work ran; without
            one, the zone's shipped month-by-hour profile does, and the annual factor only where
            there is no profile.
        meters: Meters to use instead of detecting them (e.g. a ``FakeMeter`` in tests).
        pid: Root of the process tree to measure (default: this process).
        sample_interval_s: Background sampling interval for meters that integrate power.
        environ: Environment mapping (injected for tests).
        cwd: Directory in which to look for the config file.
        mlflow: Log the footprint to the active MLflow run at ``stop()`` (``lowcarb.*``
            schema) through the ``mlflow`` sink plugin (:mod:`lowcarb.integrations`).
            ``None`` (default): only when MLflow is already imported and a run is active;
            ``True``: always (a failure is a failed delivery); ``False``: never.
    """

    def __init__(
        self,
        name: str = "run",
        *,
        zone: str | None = None,
        pue: float | None = None,
        ledger: str | None = None,
        attribution: Attribution | None = None,
        metadata: Mapping[str, Any] | None = None,
        kind: str = "run",
        sinks: Sequence[Sink] = (),
        intensity_source: IntensitySource | None = None,
        meters: Sequence[Meter] | None = None,
        pid: int | None = None,
        sample_interval_s: float | None = None,
        environ: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        mlflow: bool | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        config = resolve_tracker_config(
            zone=zone,
            pue=pue,
            ledger=ledger,
            attribution=attribution,
            sample_interval_s=sample_interval_s,
            environ=env,
            cwd=cwd,
        )
        self.name = name
        self.kind = kind
        self.zone = config.zone
        self.pue = config.pue
        self.ledger_url = config.ledger_url
        self.attribution = config.attribution
        self.metadata = dict(metadata or {})
        # The annual factor validates the zone before any work runs; the price at stop() is
        # that of the hours the work ran (see lowcarb.tracking._pricing).
        self.intensity = static_intensity(self.zone)
        self.intensity_source = intensity_source
        spool = SpoolSink(
            (cwd or Path.cwd()) / ".lowcarb" / "unrecorded", ledger_url=self.ledger_url
        )
        built: list[Sink] = []
        if self.ledger_url:
            built.append(LedgerSink(self.ledger_url, spool=spool, environ=env))
        if mlflow:
            built.append(plugin_sink("mlflow", required=True))
        self.sinks: tuple[Sink, ...] = (*built, *sinks)
        for sink in self.sinks:
            sink.check()  # a destination that cannot take the footprint fails before the work
        self._meters = meters
        self._pid = pid
        self._interval_s = config.sample_interval_s
        self._monitor: EnergyMonitor | None = None
        self.measurement: Measurement | None = None
        self.footprint: Footprint | None = None
        self.windows: dict[str, Measurement] = {}
        self.deliveries: tuple[Delivery, ...] = ()
        self._environ = env
        self._mlflow = mlflow

    # -- what the sinks did --------------------------------------------------------------------
    def _ledger_delivery(self) -> Delivery | None:
        return next((d for d in self.deliveries if d.sink == LedgerSink.name), None)

    @property
    def record_id(self) -> str | None:
        """Id of the ledger record written at the last ``stop()``, if any."""
        delivery = self._ledger_delivery()
        return delivery.record_id if delivery is not None else None

    @property
    def ledger_error(self) -> LowcarbError | None:
        """Why the last footprint could not be recorded in the ledger, if it could not."""
        delivery = self._ledger_delivery()
        return delivery.error if delivery is not None else None

    @property
    def spooled_to(self) -> Path | None:
        """Where an unrecorded footprint was saved instead of the ledger."""
        delivery = self._ledger_delivery()
        return delivery.path if delivery is not None and not delivery.ok else None

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
        """Stop, price the work at the hours it ran and hand the footprint to every sink.

        A sink that fails does not raise (the measurement must not be lost with it): its
        :class:`Delivery` in ``deliveries`` says why, and a failed ledger write is spooled.
        """
        if self._monitor is None:
            raise UsageError(f"tracker {self.name!r} was not started; call start() first")
        measurement = self._monitor.stop()
        self._monitor = None
        self.measurement = measurement
        self.intensity = self.intensity_at_stop(measurement)
        self.footprint = price(measurement, intensity=self.intensity, pue=self.pue)
        self.deliveries = self._deliver(self.footprint)
        return self.footprint

    def intensity_at_stop(self, measurement: Measurement) -> Intensity:
        """The intensity the finished work is priced at: that of the hours it ran.

        Subclasses whose work runs on another clock (a job replayed in a trace's time) override
        this to name their own hours.
        """
        return intensity_for_hours(
            self.zone,
            start=measurement.started_at,
            duration_s=measurement.duration_s,
            source=self.intensity_source,
        )

    def _deliver(self, footprint: Footprint) -> tuple[Delivery, ...]:
        context = SinkContext(
            name=self.name,
            kind=self.kind,
            attribution=self.attribution,
            metadata=self.metadata,
            windows=dict(self.windows),
            location=self.zone,
        )
        sinks = list(self.sinks)
        if self._mlflow is None and _mlflow_run_active():
            sinks.append(plugin_sink("mlflow", required=False))
        deliveries = []
        for sink in sinks:
            delivery = sink.emit(footprint, context)
            deliveries.append(delivery)
            context = with_record_id(context, delivery)
        return tuple(deliveries)

    def peek(self) -> Measurement:
        """The measurement of the block so far, without stopping it (for budgets and watchdogs).

        Raises:
            UsageError: The tracker is not running.
        """
        if self._monitor is None:
            raise UsageError(f"tracker {self.name!r} is not running; call start() first")
        return self._monitor.peek()

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
        self.deliveries = other.deliveries


def _mlflow_run_active() -> bool:
    mlflow = sys.modules.get("mlflow")  # never imported here: MLflow is an optional extra
    return mlflow is not None and mlflow.active_run() is not None


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
