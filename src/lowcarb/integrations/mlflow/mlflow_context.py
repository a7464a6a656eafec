"""MLflow run-context provider: tag every new MLflow run with lowcarb's team, project and zone.

Registered through the ``mlflow.run_context_provider`` entry point, so ``mlflow.start_run()``
picks it up without code changes once ``lowcarb[mlflow]`` is installed::

    [project.entry-points."mlflow.run_context_provider"]
    lowcarb = "lowcarb.integrations.mlflow.mlflow_context:LowcarbRunContextProvider"

The values come from lowcarb's settings (``LOWCARB_TEAM``, ``LOWCARB_PROJECT``, ``LOWCARB_ZONE``,
or the config file; see :mod:`lowcarb._config`). The provider is in context when at least one is
set. This module imports MLflow, so it is only imported by MLflow itself (or with the extra).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from mlflow.tracking.context.abstract_context import RunContextProvider

from lowcarb._config import load_settings
from lowcarb.errors import ConfigError

__all__ = ["LowcarbRunContextProvider"]

log = logging.getLogger(__name__)


class LowcarbRunContextProvider(RunContextProvider):
    """Tags ``lowcarb.team``, ``lowcarb.project`` and ``lowcarb.zone`` on new MLflow runs.

    MLflow instantiates it with no arguments; tests inject the environment and directory.

    Args:
        environ: Environment to read settings from (default ``os.environ`` at call time).
        cwd: Directory to look for the config file in (default: the working directory).
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        cwd: Callable[[], Path] = Path.cwd,
    ) -> None:
        self._environ = environ
        self._cwd = cwd

    def _tags(self) -> dict[str, str]:
        env = os.environ if self._environ is None else self._environ
        try:
            s = load_settings(environ=env, cwd=self._cwd())
        except ConfigError as exc:
            # Raising here would make every mlflow.start_run() fail over lowcarb's config;
            # the run goes on untagged and the problem is logged once per run.
            log.warning("lowcarb: MLflow runs not tagged with team/project/zone: %s", exc)
            return {}
        values = {"lowcarb.team": s.team, "lowcarb.project": s.project, "lowcarb.zone": s.zone}
        return {k: v for k, v in values.items() if v}

    def in_context(self) -> bool:
        """Whether a team, project or zone is configured."""
        return bool(self._tags())

    def tags(self) -> dict[str, str]:
        """The tags to set on the new run."""
        return self._tags()
