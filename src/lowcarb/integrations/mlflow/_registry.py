"""Registered model versions: profile tags and the champion alias gate (extra ``lowcarb[mlflow]``).

Model versions (:func:`tag_model_version`): ``lowcarb.profile`` holds the whole profile JSON
(the source of truth the gate reads and hashes), ``lowcarb.profile.sha256`` its hash, and
``lowcarb.profile.<field>`` each field as text for the MLflow UI. A gate adds
``lowcarb.gate.decision`` and ``lowcarb.gate.record_id`` to the candidate version.

The promotion alias is ``champion`` (MLflow stages are deprecated since MLflow 2.9 in favour of
aliases); it moves only on ``promote``, after the verdict is recorded in the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lowcarb.errors import DataError, UsageError
from lowcarb.governance import GateInput, GateOutcome, PromotionPolicy, Verdict, decide
from lowcarb.profiling import Profile, parse_profile, sha256_hex

__all__ = [
    "CHAMPION_ALIAS",
    "PROFILE_TAG",
    "RegistryRef",
    "gate_registered_model",
    "read_model_version_profile",
    "tag_model_version",
]

CHAMPION_ALIAS = "champion"
PROFILE_TAG = "lowcarb.profile"


def tag_model_version(client: Any, name: str, version: str, profile: Profile) -> str:
    """Attach a profile to a registered model version as ``lowcarb.profile*`` tags.

    Returns:
        The SHA-256 of the profile JSON stored in ``lowcarb.profile``.
    """
    data = profile.to_dict()
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    digest = sha256_hex(text.encode())
    client.set_model_version_tag(name, version, PROFILE_TAG, text)
    client.set_model_version_tag(name, version, f"{PROFILE_TAG}.sha256", digest)
    for key, value in data.items():
        shown = value if isinstance(value, str) else json.dumps(value)
        client.set_model_version_tag(name, version, f"{PROFILE_TAG}.{key}", shown)
    return digest


@dataclass(frozen=True, slots=True)
class RegistryRef:
    """A registered model version and the profile read from its tags."""

    name: str
    version: str
    profile: Profile
    raw: bytes

    @property
    def uri(self) -> str:
        """``models:/NAME/VERSION``."""
        return f"models:/{self.name}/{self.version}"


def _mlflow_error(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc).splitlines()[0]


def read_model_version_profile(client: Any, name: str, version: str) -> RegistryRef:
    """Read the profile stored on a model version.

    Raises:
        UsageError: No such model or version.
        DataError: The version has no ``lowcarb.profile`` tag.
        ProfileError: The tag is not a valid profile.
    """
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version(name, version)
    except MlflowException as exc:
        raise UsageError(
            f"MLflow model {name!r} version {version!r} not found: {_mlflow_error(exc)}"
        ) from None
    text = (mv.tags or {}).get(PROFILE_TAG)
    if not text:
        raise DataError(
            f"MLflow model {name!r} version {version!r} has no {PROFILE_TAG!r} tag; attach one "
            f"with `lowcarb profile ... --mlflow-model {name} --mlflow-version {version}`"
        )
    raw = text.encode()
    profile = parse_profile(raw, source=f"profile tag of models:/{name}/{version}")
    return RegistryRef(name, str(version), profile, raw)


def _champion_version(client: Any, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        raise UsageError(
            f"MLflow registered model {name!r} not found: {_mlflow_error(exc)}"
        ) from None
    version = (model.aliases or {}).get(alias)
    return None if version is None else str(version)


def gate_registered_model(
    policy: PromotionPolicy,
    *,
    policy_input: GateInput,
    client: Any,
    name: str,
    candidate_version: str,
    ledger_url: str | None,
    alias: str = CHAMPION_ALIAS,
    team: str | None = None,
    project: str | None = None,
    now: datetime | None = None,
    environ: Mapping[str, str] | None = None,
) -> GateOutcome:
    """Gate a registered model version against the version behind ``alias``.

    The verdict is recorded first (see :func:`~lowcarb.governance.decide`); only then, and only
    on ``promote``, does ``alias`` move to the candidate. Without a champion yet, rules relative
    to a baseline are skipped and a promoted candidate becomes the first champion.

    Raises:
        UsageError: Unknown model or version, or the candidate already holds the alias.
        DataError, ProfileError: Missing or bad profile tags.
    """
    candidate = read_model_version_profile(client, name, candidate_version)
    champion_version = _champion_version(client, name, alias)
    if champion_version == candidate.version:
        raise UsageError(
            f"models:/{name}/{candidate.version} already holds the {alias!r} alias; nothing to gate"
        )
    champion = (
        None
        if champion_version is None
        else read_model_version_profile(client, name, champion_version)
    )
    inputs = [policy_input, GateInput("candidate", candidate.uri, sha256_hex(candidate.raw))]
    if champion is not None:
        inputs.append(GateInput("baseline", champion.uri, sha256_hex(champion.raw)))

    def registry_metadata(verdict: Verdict) -> dict[str, Any]:
        return {
            "mlflow": {
                "model": name,
                "alias": alias,
                "candidate_version": candidate.version,
                "champion_version": champion_version,
                "alias_moves_to": candidate.version if verdict.decision == "promote" else None,
            }
        }

    outcome = decide(
        policy,
        candidate.profile,
        None if champion is None else champion.profile,
        inputs=tuple(inputs),
        ledger_url=ledger_url,
        team=team,
        project=project,
        now=now,
        environ=environ,
        extra=registry_metadata,
    )
    client.set_model_version_tag(
        name, candidate.version, "lowcarb.gate.decision", outcome.verdict.decision
    )
    if outcome.record_id:
        client.set_model_version_tag(
            name, candidate.version, "lowcarb.gate.record_id", outcome.record_id
        )
    if outcome.verdict.decision == "promote":
        client.set_registered_model_alias(name, alias, candidate.version)
    return outcome
