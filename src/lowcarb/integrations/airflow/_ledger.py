"""Which ledger an Airflow task writes to, and who its records are charged to.

The ledger is, in order: the ``ledger=`` argument (``""`` records nowhere), the ``ledger_url`` in
the extra of the Airflow connection ``ledger_conn_id`` (so the URL, and a password in it, live in
Airflow's connections or secrets backend), then lowcarb's own settings (``LOWCARB_LEDGER``, the
config file). A task that finds none fails before its work runs: nothing is dropped silently.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lowcarb.errors import UsageError
from lowcarb.ledger import Attribution
from lowcarb.tracking import attribution, resolve_tracker_config
from lowcarb.units import parse_ledger_url

__all__ = ["LEDGER_URL_EXTRA", "LedgerTarget", "airflow_ids"]

#: The key of the ledger URL in an Airflow connection's extra.
LEDGER_URL_EXTRA = "ledger_url"


@dataclass(frozen=True, slots=True)
class LedgerTarget:
    """Where a task's records go and who they are charged to, as given to an operator.

    Checked when the DAG is parsed (names, URL syntax); resolved when the task runs (the
    connection and the environment are read then, on the worker).

    Attributes:
        ledger: A ledger URL, ``""`` to record nowhere, or None (connection, then settings).
        ledger_conn_id: An Airflow connection whose extra holds ``ledger_url``.
        attribution: Team, project, model, ... (team and project default to the settings).
    """

    ledger: str | None = None
    ledger_conn_id: str | None = None
    attribution: Attribution = field(default_factory=Attribution)

    @classmethod
    def build(
        cls,
        *,
        ledger: str | None,
        ledger_conn_id: str | None,
        team: str | None = None,
        project: str | None = None,
        model: str | None = None,
        model_version: str | None = None,
        stage: str | None = None,
    ) -> LedgerTarget:
        """Check the arguments an operator was given.

        Raises:
            UsageError: Both ``ledger`` and ``ledger_conn_id``, or a URL lowcarb cannot keep.
            InvalidValueError: A bad name.
        """
        if ledger is not None and ledger_conn_id is not None:
            raise UsageError(
                f"give either ledger= or ledger_conn_id=, not both (got {ledger!r} and "
                f"{ledger_conn_id!r})"
            )
        if ledger:
            ledger = parse_ledger_url(ledger, what="ledger=")
        if ledger_conn_id is not None and not str(ledger_conn_id).strip():
            raise UsageError("ledger_conn_id= is empty; name an Airflow connection or leave it out")
        names = attribution(
            team=team, project=project, model=model, model_version=model_version, stage=stage
        )
        return cls(ledger=ledger, ledger_conn_id=ledger_conn_id, attribution=names)

    def url_argument(self) -> str | None:
        """The ``ledger=`` to hand a Tracker: the argument, or the connection's URL.

        Raises:
            UsageError: The connection has no ``ledger_url`` in its extra.
            AirflowNotFoundException: No such connection (Airflow's own error).
        """
        if self.ledger_conn_id is None:
            return self.ledger
        from airflow.sdk import Connection  # only ever called inside a running Airflow task

        conn = Connection.get(self.ledger_conn_id)
        extra: Mapping[str, Any] = conn.extra_dejson or {}
        url = extra.get(LEDGER_URL_EXTRA)
        if not isinstance(url, str) or not url.strip():
            raise UsageError(
                f"Airflow connection {self.ledger_conn_id!r} has no {LEDGER_URL_EXTRA!r} in its "
                f'extra; set it, e.g. {{"{LEDGER_URL_EXTRA}": "sqlite:////var/lowcarb/ledger.db"}}'
            )
        return parse_ledger_url(url, what=f"connection {self.ledger_conn_id!r} {LEDGER_URL_EXTRA}")

    def resolve(
        self, *, environ: Mapping[str, str] | None = None, who: str
    ) -> tuple[str | None, Attribution]:
        """The ledger URL (None: record nowhere, only when ``ledger=""``) and the attribution.

        Raises:
            UsageError: No ledger anywhere (the message says where to set one).
        """
        env = os.environ if environ is None else environ
        argument = self.url_argument()
        config = resolve_tracker_config(
            zone=None,
            pue=None,
            ledger=argument,
            attribution=self.attribution,
            sample_interval_s=None,
            environ=env,
            cwd=None,
        )
        self.require(config.ledger_url, who=who)
        return config.ledger_url, config.attribution

    def require(self, url: str | None, *, who: str) -> None:
        """Fail when no ledger was found and none was declined with ``ledger=""``.

        Raises:
            UsageError: No ledger.
        """
        if url is None and self.ledger != "":
            raise UsageError(
                f"{who}: no ledger to record to; give ledger='sqlite:///PATH', "
                "ledger_conn_id= (an Airflow connection with extra "
                f'{{"{LEDGER_URL_EXTRA}": ...}}), or set LOWCARB_LEDGER; ledger="" records '
                "nowhere"
            )


def airflow_ids(context: Mapping[str, Any]) -> dict[str, Any]:
    """``dag_id``, ``task_id``, ``run_id``, ``try_number``, ``map_index`` of a task's context."""
    ti = context.get("ti") or context.get("task_instance")
    if ti is None:
        raise UsageError("not an Airflow task context: it has no 'ti'")
    ids: dict[str, Any] = {
        "dag_id": str(ti.dag_id),
        "task_id": str(ti.task_id),
        "run_id": str(ti.run_id),
        "try_number": int(ti.try_number),
    }
    map_index = getattr(ti, "map_index", -1)
    if isinstance(map_index, int) and map_index >= 0:
        ids["map_index"] = map_index
    return ids
