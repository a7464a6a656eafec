"""``lowcarb monitor``: is a retrain needed at all? ``check``, ``watch`` and ``energy``.

- ``check REFERENCE CURRENT``: drift of the current window against the reference, per feature and
  for the dataset (exit 1 when the dataset drifted, as a negative verdict); ``--html FILE`` writes
  the self-contained drift report. Windows are CSV, Parquet or a serving log (the JSON Lines of
  ``lowcarb serve --log-features``; ``--model``, ``--since``, ``--until`` select its requests).
  ``--score-columns``/``--label-column``/``--prediction-column`` name the model's columns (never
  drift features): the check then measures accuracy (realised with labels, CBPE without).
- ``watch REFERENCE CURRENT --policy FILE``: the check every ``--every``, decided under the
  retraining policy; a retrain that fires is queued for its lowest-carbon window before the
  deadline; every check, decision and job is appended to the ledger.
- ``energy --policy FILE --baseline PROFILE (--candidate PROFILE | --metrics URL --model NAME
  [--version V] [--previous SCRAPE])``: an energy regression of joules per 1,000 inferences
  (exit 1 on an alert), optionally rolling an MLflow alias back.

A policy rule that cannot be evaluated for lack of input (a performance trigger or a gain rule
without scores or labels) is named on stderr in one ``lowcarb: warning:`` line, in the JSON's
``warnings`` and, for ``watch``, in the recorded decision.

The logic lives in :mod:`lowcarb.monitoring` (and :mod:`lowcarb.integrations.mlflow`).
The subcommands are :mod:`._monitor_check`, :mod:`._monitor_watch` and :mod:`._monitor_energy`.
"""

from __future__ import annotations

import argparse
from typing import Any

from lowcarb.cli._monitor_check import register_check
from lowcarb.cli._monitor_energy import register_energy
from lowcarb.cli._monitor_watch import register_watch

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``lowcarb monitor``."""
    p = sub.add_parser(
        "monitor",
        help="drift checks, the retraining policy and energy regressions",
        description=(
            "Detect drift between a reference and a current window (CSV or Parquet), decide "
            "under a retraining policy whether a retrain is worth its energy and queue it for a "
            "low-carbon window, and catch energy regressions of a served model."
        ),
    )
    msub = p.add_subparsers(dest="monitor_command", metavar="{check,watch,energy}")
    msub.required = True
    register_check(msub)
    register_watch(msub)
    register_energy(msub)
