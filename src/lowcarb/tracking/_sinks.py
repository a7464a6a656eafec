"""Where a footprint goes: the :class:`Sink` protocol and the built-in sinks.

A :class:`~lowcarb.tracking.Tracker` measures and prices; it then hands the footprint to each of
its sinks in order. Built in: :class:`LedgerSink` (append to a ledger, spooling to disk when the
ledger fails), :class:`SpoolSink` (a JSON file per footprint) and :class:`CodeCarbonCsvSink` (a row
in a CodeCarbon ``emissions.csv``). Integrations add theirs as plugins in the ``lowcarb.sinks``
entry-point group (lowcarb's own MLflow sink is one, in :mod:`lowcarb.integrations.mlflow`): the
tracking layer defines the protocol and never imports the layers above it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from lowcarb import ledger as ledger_pkg
from lowcarb.errors import LedgerError, LowcarbError, UsageError
from lowcarb.grid import Footprint
from lowcarb.ledger import Attribution, draft_from_footprint
from lowcarb.tracking._codecarbon import append_emissions_csv, check_emissions_csv, emissions_row
from lowcarb.tracking._footprint import footprint_to_dict

__all__ = [
    "SINK_ENTRY_POINT_GROUP",
    "CodeCarbonCsvSink",
    "Delivery",
    "LedgerSink",
    "Sink",
    "SinkContext",
    "SpoolSink",
    "plugin_sink",
]

log = logging.getLogger(__name__)

#: Entry-point group in which packages register sink factories (``name = "module:factory"``).
SINK_ENTRY_POINT_GROUP = "lowcarb.sinks"


@dataclass(frozen=True, slots=True)
class SinkContext:
    """What a sink knows about the block of work besides its footprint.

    Attributes:
        name: The tracker's name (``"run"``, a trial's or a batch's name).
        kind: Ledger record kind: ``"run"``, ``"trial"``, ``"inference"``, ``"job"``, ...
        attribution: Who the work is charged to.
        metadata: Free JSON-serialisable metadata.
        windows: Named windows measured inside the block.
        location: The zone or cloud region as configured (``aws:eu-central-1``).
        record_id: The ledger record id, once a ledger sink has written one (sinks run in order).
    """

    name: str
    kind: str = "run"
    attribution: Attribution = field(default_factory=Attribution)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    windows: Mapping[str, Any] = field(default_factory=dict)
    location: str | None = None
    record_id: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one sink for one footprint.

    Attributes:
        sink: The sink's name.
        ok: Whether the footprint reached its destination.
        record_id: The ledger record id (ledger sinks).
        path: A file written (the spool file of a failed ledger write, a CSV).
        error: Why it failed, when it did.
    """

    sink: str
    ok: bool
    record_id: str | None = None
    path: Path | None = None
    error: LowcarbError | None = None


@runtime_checkable
class Sink(Protocol):
    """A destination for footprints.

    Contract: :meth:`check` runs before the work starts and raises a
    :class:`~lowcarb.errors.LowcarbError` when the sink cannot take a footprint (so a bad
    destination fails before anything runs); it writes nothing. :meth:`emit` runs once per
    finished block, after pricing, and never raises for a failed delivery: the measurement must not
    be lost with it, so the failure is returned in the :class:`Delivery`. A sink may be shared by
    trackers on one thread at a time unless it says otherwise.
    """

    name: str

    def check(self) -> None:
        """Raise now if a footprint could not be delivered; write nothing."""

    def emit(self, footprint: Footprint, context: SinkContext) -> Delivery:
        """Deliver one footprint; report failure in the result instead of raising."""


class SpoolSink:
    """Writes each footprint as one JSON file in ``directory`` (``.lowcarb/unrecorded/``)."""

    name = "spool"

    def __init__(self, directory: Path, *, ledger_url: str | None = None) -> None:
        self.directory = directory
        self.ledger_url = ledger_url

    def check(self) -> None:
        return None

    def emit(self, footprint: Footprint, context: SinkContext) -> Delivery:
        stamp = footprint.measurement.started_at.strftime("%Y%m%dT%H%M%SZ")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.json"
        payload = {
            "ledger": self.ledger_url,
            "kind": context.kind,
            "attribution": context.attribution.as_dict(),
            "metadata": dict(context.metadata),
            "footprint": footprint_to_dict(footprint),
        }
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
        except OSError as exc:
            log.error("could not save the footprint to %s: %s", path, exc)
            error = LowcarbError(f"could not save the footprint to {path}: {exc.strerror}")
            return Delivery(self.name, ok=False, error=error)
        return Delivery(self.name, ok=True, path=path)


class LedgerSink:
    """Appends each footprint to a ledger; a failed append is spooled, so nothing is lost.

    Args:
        url: SQLAlchemy URL of the ledger (already resolved).
        spool: Where a footprint goes when the ledger fails.
        environ: Environment for the ledger (signing key, ...).
    """

    name = "ledger"

    def __init__(self, url: str, *, spool: SpoolSink, environ: Mapping[str, str]) -> None:
        self.url = url
        self.spool = spool
        self._environ = environ

    def check(self) -> None:
        """Open the ledger once before any work runs, so a bad one fails before acting."""
        with ledger_pkg.open_ledger(self.url, environ=self._environ) as ledger:
            if ledger.read_only:
                raise LedgerError(
                    f"ledger {ledger.url} is read-only here, so the run could not be recorded; "
                    "point --ledger at a ledger you can write"
                )

    def emit(self, footprint: Footprint, context: SinkContext) -> Delivery:
        try:
            with ledger_pkg.open_ledger(self.url) as ledger:
                record = ledger.append(
                    draft_from_footprint(
                        footprint,
                        kind=context.kind,
                        attribution=context.attribution,
                        metadata=context.metadata,
                    )
                )
        except LowcarbError as exc:
            spooled = self.spool.emit(footprint, context)
            log.error(
                "the %s was measured but not recorded in the ledger (%s); its footprint was "
                "saved to %s",
                context.kind,
                exc,
                spooled.path,
            )
            return Delivery(self.name, ok=False, path=spooled.path, error=exc)
        return Delivery(self.name, ok=True, record_id=record.id)


class CodeCarbonCsvSink:
    """Appends each footprint as a row of a CodeCarbon ``emissions.csv`` (see ``_codecarbon``).

    Args:
        path: The CSV file; created with CodeCarbon's header when missing.
        what: How messages name the destination (``--emissions-csv``).
    """

    name = "codecarbon-csv"

    def __init__(self, path: Path, *, what: str = "--emissions-csv") -> None:
        self.path = path
        self.what = what

    def check(self) -> None:
        check_emissions_csv(self.path, what=self.what)

    def emit(self, footprint: Footprint, context: SinkContext) -> Delivery:
        row = emissions_row(
            footprint,
            project_name=context.attribution.project or "lowcarb",
            run_id=context.record_id,
            location=context.location,
        )
        try:
            append_emissions_csv(self.path, row, what=self.what)
        except LowcarbError as exc:
            return Delivery(self.name, ok=False, path=self.path, error=exc)
        return Delivery(self.name, ok=True, path=self.path)


def plugin_sink(name: str, **options: Any) -> Sink:
    """Build the sink registered as ``name`` in the ``lowcarb.sinks`` entry-point group.

    Raises:
        UsageError: No such sink is installed (naming the extra that provides lowcarb's own).
    """
    found = entry_points(group=SINK_ENTRY_POINT_GROUP, name=name)
    for entry in found:
        factory = entry.load()
        sink = factory(**options)
        if not isinstance(sink, Sink):
            raise UsageError(f"entry point {entry.value!r} did not build a lowcarb sink")
        return sink
    raise UsageError(
        f"no lowcarb sink named {name!r} is installed; lowcarb's own sinks come with the "
        f"package and its extras (pip install 'lowcarb[{name}]')"
    )


def with_record_id(context: SinkContext, delivery: Delivery) -> SinkContext:
    """The context for the next sink: carries the ledger record id once one is written."""
    if delivery.record_id is None:
        return context
    return replace(context, record_id=delivery.record_id)
