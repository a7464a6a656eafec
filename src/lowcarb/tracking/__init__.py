"""lowcarb.tracking: a measured, priced block of work, and where its footprint goes.

The :class:`Tracker` measures (``energy``), prices at the hours the work ran (``grid``) and hands
the footprint to its sinks: the ledger (spooling to disk when it fails), a CodeCarbon CSV, and
plugins such as MLflow's (entry-point group ``lowcarb.sinks``). :func:`run_command` runs a
command's whole process tree under a Tracker: the library behind ``lowcarb run``.
"""

from __future__ import annotations

from lowcarb.tracking._codecarbon import (
    CODECARBON_COLUMNS,
    append_emissions_csv,
    check_emissions_csv,
    emissions_row,
)
from lowcarb.tracking._estimate import estimate
from lowcarb.tracking._footprint import footprint_to_dict
from lowcarb.tracking._place import Place, place_of
from lowcarb.tracking._pricing import hour_weights, intensity_for_hours
from lowcarb.tracking._runner import DEFAULT_GRACE_S, CommandResult, run_command
from lowcarb.tracking._settings import TrackerConfig, attribution, resolve_tracker_config
from lowcarb.tracking._sinks import (
    SINK_ENTRY_POINT_GROUP,
    CodeCarbonCsvSink,
    Delivery,
    LedgerSink,
    Sink,
    SinkContext,
    SpoolSink,
    plugin_sink,
)
from lowcarb.tracking._tracker import Tracker, track

__all__ = [
    "CODECARBON_COLUMNS",
    "DEFAULT_GRACE_S",
    "SINK_ENTRY_POINT_GROUP",
    "CodeCarbonCsvSink",
    "CommandResult",
    "Delivery",
    "LedgerSink",
    "Place",
    "Sink",
    "SinkContext",
    "SpoolSink",
    "Tracker",
    "TrackerConfig",
    "append_emissions_csv",
    "attribution",
    "check_emissions_csv",
    "emissions_row",
    "estimate",
    "footprint_to_dict",
    "hour_weights",
    "intensity_for_hours",
    "place_of",
    "plugin_sink",
    "resolve_tracker_config",
    "run_command",
    "track",
]
