"""Rolling a registry alias back to the previous champion (extra ``lowcarb[mlflow]``).

MLflow keeps no history of an alias, so the previous champion is read from what the registry
gate (:func:`gate_registered_model`) leaves on every version it judged: the newest version
older than the current champion whose ``lowcarb.gate.decision`` tag is ``promote`` and which no
rollback demoted. A rolled-back version gets ``lowcarb.rollback.reason`` and
``lowcarb.rollback.to_version`` tags, so a second rollback goes one champion further back.
Where no gate left such tags, the version to roll back to must be given.

:class:`MlflowAliasRollback` is the :class:`lowcarb.monitoring` ``Rollback`` of an MLflow
registry: ``lowcarb monitor energy`` calls it when an energy regression raises an alert and the
policy says ``rollback: true``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lowcarb._text import plain
from lowcarb.errors import UsageError
from lowcarb.integrations.mlflow._registry import CHAMPION_ALIAS, _champion_version, _mlflow_error

__all__ = [
    "ROLLBACK_TAG",
    "AliasRollback",
    "MlflowAliasRollback",
    "previous_champion",
    "rollback_alias",
]

#: Prefix of the tags a rollback leaves on the version it demoted.
ROLLBACK_TAG = "lowcarb.rollback"
_GATE_TAG = "lowcarb.gate.decision"
#: The longest reason stored in a tag (MLflow limits tag values; a reason is one line).
_MAX_REASON = 5000


@dataclass(frozen=True, slots=True)
class AliasRollback:
    """What a rollback did to a registered model's alias.

    Attributes:
        name: Registered model name.
        alias: The alias (``champion``).
        from_version: The version that held the alias before, or None.
        to_version: The version that holds it afterwards.
        applied: Whether the alias moved.
        reason: Why (the regression's message).
        note: What happened when it did not move.
    """

    name: str
    alias: str
    from_version: str | None
    to_version: str | None
    applied: bool
    reason: str
    note: str = ""

    @property
    def uri(self) -> str:
        """``models:/NAME@ALIAS``."""
        return f"models:/{self.name}@{self.alias}"

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON (recorded in the ledger)."""
        return {
            "registry": "mlflow",
            "model": self.name,
            "alias": self.alias,
            "uri": self.uri,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "applied": self.applied,
            "reason": self.reason,
            "note": self.note,
        }


def _version_tags(client: Any, name: str, version: str) -> dict[str, str] | None:
    """The version's tags, or None when it does not exist (deleted)."""
    from mlflow.exceptions import MlflowException

    try:
        return dict(client.get_model_version(name, version).tags or {})
    except MlflowException:
        return None


def previous_champion(client: Any, name: str, *, before: str) -> str | None:
    """The newest version older than ``before`` that a gate promoted and no rollback demoted.

    Raises:
        UsageError: ``before`` is not a registry version number.
    """
    try:
        newest = int(before) - 1
    except ValueError:
        raise UsageError(f"MLflow model version {before!r} is not a version number") from None
    for number in range(newest, 0, -1):
        tags = _version_tags(client, name, str(number))
        if tags is None:
            continue
        if tags.get(_GATE_TAG) == "promote" and f"{ROLLBACK_TAG}.reason" not in tags:
            return str(number)
    return None


def rollback_alias(
    client: Any,
    name: str,
    *,
    reason: str,
    version: str | None = None,
    alias: str = CHAMPION_ALIAS,
    to_version: str | None = None,
) -> AliasRollback:
    """Move ``alias`` of ``name`` back from ``version`` to the previous champion.

    Args:
        client: An ``MlflowClient`` (see :func:`mlflow_client`).
        name: Registered model name.
        reason: Why, stored on the demoted version and returned.
        version: The regressed version: the alias moves only if it still holds it (None: from
            whichever version holds it).
        alias: The alias naming the champion.
        to_version: The version to move to (default: :func:`previous_champion`).

    Returns:
        What was done; ``applied`` False (with a note) when the alias had already left
        ``version``.

    Raises:
        UsageError: No such model, no alias to roll back, no previous champion known, or
            ``to_version`` does not exist.
    """
    from mlflow.exceptions import MlflowException

    current = _champion_version(client, name, alias)
    why = plain(reason)[:_MAX_REASON]
    if current is None:
        raise UsageError(
            f"models:/{name}@{alias} is not set: there is no champion to roll back; check the "
            "registered model's aliases"
        )
    if version is not None and current != str(version):
        note = f"the {alias!r} alias is on version {current}, not {version}: nothing rolled back"
        return AliasRollback(name, alias, current, current, False, why, note)
    target = to_version or previous_champion(client, name, before=current)
    if target is None:
        raise UsageError(
            f"models:/{name}@{alias} is on version {current} and no earlier version was promoted "
            "by a lowcarb gate; give the version to roll back to"
        )
    if _version_tags(client, name, str(target)) is None:
        raise UsageError(f"MLflow model {name!r} has no version {target!r} to roll back to")
    try:
        client.set_registered_model_alias(name, alias, str(target))
        client.set_model_version_tag(name, current, f"{ROLLBACK_TAG}.reason", why)
        client.set_model_version_tag(name, current, f"{ROLLBACK_TAG}.to_version", str(target))
    except MlflowException as exc:
        raise UsageError(
            f"moving models:/{name}@{alias} to version {target} failed: {_mlflow_error(exc)}"
        ) from None
    return AliasRollback(name, alias, current, str(target), True, why)


class MlflowAliasRollback:
    """The monitoring ``Rollback`` of an MLflow registry: moves the champion alias back.

    Args:
        client: An ``MlflowClient``.
        name: Registered model name (default: the regressed figure's model name).
        alias: The alias naming the champion.
        to_version: The version to roll back to (default: :func:`previous_champion`).
    """

    def __init__(
        self,
        client: Any,
        *,
        name: str | None = None,
        alias: str = CHAMPION_ALIAS,
        to_version: str | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.alias = alias
        self.to_version = to_version

    def __call__(self, *, model: str, version: str | None, reason: str) -> AliasRollback:
        """Roll ``model@version`` back (see :func:`rollback_alias`)."""
        return rollback_alias(
            self.client,
            self.name or model,
            reason=reason,
            version=version,
            alias=self.alias,
            to_version=self.to_version,
        )
