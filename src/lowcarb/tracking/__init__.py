"""lowcarb.tracking: a measured, priced block of work, and where its footprint goes.

The :class:`Tracker` measures (``energy``), prices (``grid``) and hands the footprint to its
sinks (the ledger, a spool directory, a CodeCarbon CSV, MLflow). :func:`run_command` runs a
command's whole process tree under a Tracker: the library behind ``lowcarb run``.
"""

from __future__ import annotations

from lowcarb.tracking._runner import DEFAULT_GRACE_S, CommandResult, run_command
from lowcarb.tracking._tracker import Tracker, footprint_to_dict, track

__all__ = [
    "DEFAULT_GRACE_S",
    "CommandResult",
    "Tracker",
    "footprint_to_dict",
    "run_command",
    "track",
]
