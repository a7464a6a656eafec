"""MLflow bridge (extra ``lowcarb[mlflow]``): runs, model-version tags, the champion alias.

Naming schema (everything lowcarb writes to MLflow starts with ``lowcarb.``):

Runs (:func:`log_footprint`, into the active run or ``run_id``):

==========================================  ======  ===========================================
name                                        kind    value
==========================================  ======  ===========================================
``lowcarb.energy_kwh``                      metric  facility energy (device energy x PUE), kWh
``lowcarb.it_energy_kwh``                   metric  device energy, kWh
``lowcarb.co2e_g``                          metric  location-based CO2e, g
``lowcarb.duration_s``                      metric  run length, s
``lowcarb.pue``                             metric  PUE used
``lowcarb.intensity_g_per_kwh``             metric  grid intensity used, gCO2e/kWh
``lowcarb.component.<c>.energy_kwh``        metric  device energy of component ``<c>``, kWh
``lowcarb.window.<w>.energy_kwh``           metric  device energy of Tracker window ``<w>``, kWh
``lowcarb.zone``                            tag     grid zone
``lowcarb.method``                          tag     ``measured`` or ``estimated`` (whole run)
``lowcarb.intensity_source``                tag     where the intensity came from
``lowcarb.component.<c>.method``            tag     ``measured`` or ``estimated``
``lowcarb.component.<c>.source``            tag     sensor or model behind the figure
``lowcarb.team`` / ``.project`` / ``.zone`` tag     set at run start by the run-context provider
==========================================  ======  ===========================================

Component and window names are made MLflow-safe: characters outside ``[A-Za-z0-9_.-]`` become
``_`` (``gpu:0`` -> ``gpu_0``).

Model versions (:func:`tag_model_version`): ``lowcarb.profile`` holds the whole profile JSON
(the source of truth the gate reads and hashes), ``lowcarb.profile.sha256`` its hash, and
``lowcarb.profile.<field>`` each field as text for the MLflow UI. A gate adds
``lowcarb.gate.decision`` and ``lowcarb.gate.record_id`` to the candidate version.

The promotion alias is ``champion`` (MLflow stages are deprecated since MLflow 2.9 in favour of
aliases); it moves only on ``promote``, after the verdict is recorded in the ledger.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lowcarb.energy import Measurement
from lowcarb.errors import DataError, MissingDependencyError, UsageError
from lowcarb.governance._decide import GateOutcome, decide
from lowcarb.governance._ledger_io import GateInput
from lowcarb.governance._policy import Policy
from lowcarb.governance._profile import Profile, parse_profile, sha256_hex
from lowcarb.governance._verdict import Verdict
from lowcarb.grid import Footprint

__all__ = [
    "CHAMPION_ALIAS",
    "PROFILE_TAG",
    "RegistryRef",
    "gate_registered_model",
    "log_footprint",
    "mlflow_client",
    "read_model_version_profile",
    "safe_name",
    "tag_model_version",
]

CHAMPION_ALIAS = "champion"
PROFILE_TAG = "lowcarb.profile"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def safe_name(name: str) -> str:
    """An MLflow-safe metric/tag name fragment (``gpu:0`` -> ``gpu_0``)."""
    return _UNSAFE.sub("_", name)


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise MissingDependencyError("mlflow", "mlflow") from None
    return mlflow


def mlflow_client(tracking_uri: str | None = None) -> Any:
    """An ``MlflowClient`` for ``tracking_uri`` (registry at the same URI).

    Raises:
        MissingDependencyError: MLflow is not installed (extra ``mlflow``).
    """
    mlflow = _mlflow()
    return mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def log_footprint(
    footprint: Footprint,
    *,
    windows: Mapping[str, Measurement] | None = None,
    run_id: str | None = None,
    client: Any = None,
    step: int = 0,
) -> str:
    """Log a Tracker footprint to an MLflow run under the ``lowcarb.*`` schema above.

    Args:
        footprint: The priced measurement (``tracker.footprint``).
        windows: Named windows (``tracker.windows``).
        run_id: Run to log to; default: the active run.
        client: An ``MlflowClient`` (default: one for the current tracking URI).
        step: Metric step.

    Returns:
        The run id logged to.

    Raises:
        UsageError: No ``run_id`` and no active run.
        MissingDependencyError: MLflow is not installed.
    """
    mlflow = _mlflow()
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            raise UsageError("no active MLflow run: call mlflow.start_run() or pass run_id=")
        run_id = active.info.run_id
    client = client or mlflow.MlflowClient()
    m = footprint.measurement
    metrics: dict[str, float] = {
        "lowcarb.energy_kwh": footprint.energy_kwh,
        "lowcarb.it_energy_kwh": footprint.it_energy_kwh,
        "lowcarb.co2e_g": footprint.co2e_g,
        "lowcarb.duration_s": m.duration_s,
        "lowcarb.pue": footprint.pue,
        "lowcarb.intensity_g_per_kwh": footprint.intensity.intensity_g_per_kwh,
    }
    tags: dict[str, str] = {
        "lowcarb.zone": footprint.intensity.zone,
        "lowcarb.method": m.method,
        "lowcarb.intensity_source": footprint.intensity.source,
    }
    for c in m.components:
        key = f"lowcarb.component.{safe_name(c.name)}"
        metrics[f"{key}.energy_kwh"] = c.energy_kwh
        tags[f"{key}.method"] = c.method
        tags[f"{key}.source"] = c.source
    for name, w in (windows or {}).items():
        metrics[f"lowcarb.window.{safe_name(name)}.energy_kwh"] = w.energy_kwh
    from mlflow.entities import Metric, RunTag

    stamp = int(m.started_at.timestamp() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), stamp, step) for k, v in metrics.items()],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )
    return str(run_id)


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
    policy: Policy,
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
