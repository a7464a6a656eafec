"""A ``batch/v1`` Job created suspended, its low-carbon plan written in its annotations.

``lowcarb k8s job`` builds it with :func:`suspended_job`; ``lowcarb k8s release`` (the controller
in :mod:`._release`) reads the plan back with :func:`job_plan` and un-suspends the Job at its
planned start. The annotations are the only state the two share, so a restarted controller, or
its standby taking over the Lease, picks up exactly where the last one stopped.

Annotations (strings, as Kubernetes requires; times ISO 8601 UTC, intensities gCO2e/kWh):

============================================  ====================================================
``lowcarb.dev/zone``                          grid zone the plan was made for
``lowcarb.dev/planned-start``                 when the controller releases the Job
``lowcarb.dev/deadline``                      when the Job must be finished (hard)
``lowcarb.dev/duration-s``                    how long the Job is expected to run, seconds
``lowcarb.dev/expected-intensity-g-per-kwh``  forecast mean intensity of the planned window
``lowcarb.dev/now-intensity-g-per-kwh``       the same, had it started when it was planned, in
                                              the baseline (first candidate) zone
``lowcarb.dev/forecast-model``                what produced the forecast (``profile``, ...)
``lowcarb.dev/planned-at``                    when the plan was made (a re-plan needs a
                                              forecast issued in a later hour)
``lowcarb.dev/plan-fallback``                 why the plan is a fallback, when it is one
============================================  ====================================================

The pod template always has CPU and memory requests and limits: the energy estimate of a finished
Job (:mod:`._pod_energy`) is computed from its pods' requests.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lowcarb.errors import DataError, InvalidValueError
from lowcarb.integrations.k8s._resources import Resources, check_requests_within_limits
from lowcarb.integrations.k8s._serve import _check_name
from lowcarb.scheduling import Plan
from lowcarb.units import parse_timestamp

__all__ = [
    "ANNOTATION_PREFIX",
    "MANAGED_BY",
    "BatchJob",
    "JobPlan",
    "job_plan",
    "suspended_job",
]

ANNOTATION_PREFIX = "lowcarb.dev/"
#: The label every lowcarb Job carries, and the selector the controller watches Jobs by.
MANAGED_BY = ("app.kubernetes.io/managed-by", "lowcarb")
TEAM_LABEL = ANNOTATION_PREFIX + "team"
PROJECT_LABEL = ANNOTATION_PREFIX + "project"
ZONE = ANNOTATION_PREFIX + "zone"
PLANNED_START = ANNOTATION_PREFIX + "planned-start"
DEADLINE = ANNOTATION_PREFIX + "deadline"
DURATION = ANNOTATION_PREFIX + "duration-s"
EXPECTED = ANNOTATION_PREFIX + "expected-intensity-g-per-kwh"
NOW = ANNOTATION_PREFIX + "now-intensity-g-per-kwh"
MODEL = ANNOTATION_PREFIX + "forecast-model"
PLANNED_AT = ANNOTATION_PREFIX + "planned-at"
FALLBACK = ANNOTATION_PREFIX + "plan-fallback"
#: A label value: at most 63 characters of ``[A-Za-z0-9._-]``, alphanumeric at both ends.
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
#: The user the container runs as (deploy/Dockerfile creates it with this id).
_UID = 10001
_MAX_ITEMS = 1000
_MAX_ARG_CHARS = 32_768
_MAX_TEXT = 1000


def utc_text(t: datetime) -> str:
    """``2024-05-01T10:00:00Z``."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _job_resources() -> Resources:
    return Resources(cpu_request="1", memory_request="2Gi", cpu_limit="1", memory_limit="2Gi")


@dataclass(frozen=True)
class BatchJob:
    """What the Job runs, and who it is charged to.

    Attributes:
        name: The Job's name, a DNS-1123 label (its pods carry it in a 63-character label).
        image: The container image.
        command: The container's command (its ENTRYPOINT is not relied on).
        args: The command's arguments.
        namespace: The Job's namespace.
        resources: CPU and memory requests and limits, always set: the energy estimate of a
            finished Job is computed from its pods' requests.
        team: Label ``lowcarb.dev/team``: the ledger attribution of its records.
        project: Label ``lowcarb.dev/project``.
        backoff_limit: Retries before the Job counts as failed.
    """

    name: str
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...] = ()
    namespace: str = "default"
    resources: Resources = field(default_factory=_job_resources)
    team: str | None = None
    project: str | None = None
    backoff_limit: int = 0

    def __post_init__(self) -> None:
        _check_name("name", self.name)
        _check_name("namespace", self.namespace)
        if not self.image or any(c.isspace() for c in self.image) or len(self.image) > 512:
            raise InvalidValueError(
                f"image={self.image!r} must be an image reference such as 'repo:tag'"
            )
        if not self.command:
            raise InvalidValueError("command=() is empty: give the program the Job runs")
        items = (*self.command, *self.args)
        if len(items) > _MAX_ITEMS or any(
            not isinstance(a, str) or len(a) > _MAX_ARG_CHARS for a in items
        ):
            raise InvalidValueError(
                f"command and args must be at most {_MAX_ITEMS} strings of at most "
                f"{_MAX_ARG_CHARS} characters"
            )
        if not self.command[0].strip() or "\x00" in "".join(items):
            raise InvalidValueError(f"command={list(self.command)[:3]!r} must name a program")
        for key in ("team", "project"):
            value = getattr(self, key)
            if value is not None and not _LABEL_VALUE.fullmatch(value):
                raise InvalidValueError(
                    f"{key}={value!r} is not a Kubernetes label value: letters, digits, '-', "
                    "'_' and '.', starting and ending with a letter or digit, at most 63"
                )
        if not 0 <= self.backoff_limit <= 100:
            raise InvalidValueError(
                f"backoff_limit={self.backoff_limit!r} must be between 0 and 100"
            )
        check_requests_within_limits(
            self.resources, request_flag="--requests-{}", limit_flag="--limits-{}"
        )


@dataclass(frozen=True)
class JobPlan:
    """The plan a suspended Job carries (see the module docstring for its annotations).

    Attributes:
        zone: Grid zone of the plan.
        planned_start: When the controller releases the Job (timezone-aware).
        deadline: When it must be finished.
        duration_s: Expected run time, seconds.
        expected_intensity_g_per_kwh: Forecast mean intensity of the planned window (None:
            unknown, e.g. a fallback plan for a zone without a figure).
        now_intensity_g_per_kwh: The same had it started when planned, in the baseline (first
            candidate) zone (None: unknown).
        forecast_model: What produced the forecast.
        planned_at: When the plan was made.
        fallback: Why the plan is a fallback, or None.
    """

    zone: str
    planned_start: datetime
    deadline: datetime
    duration_s: float
    expected_intensity_g_per_kwh: float | None
    now_intensity_g_per_kwh: float | None
    forecast_model: str
    planned_at: datetime
    fallback: str | None = None

    def __post_init__(self) -> None:
        for key in ("planned_start", "deadline", "planned_at"):
            t = getattr(self, key)
            if t.tzinfo is None or t.utcoffset() is None:
                raise InvalidValueError(f"{key}={t.isoformat()!r} must be timezone-aware")
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise InvalidValueError(f"duration_s={self.duration_s!r} must be > 0 seconds")
        if self.planned_start + self.duration <= self.deadline:
            return
        raise InvalidValueError(
            f"planned start {utc_text(self.planned_start)} + {self.duration_s:g} s ends after the "
            f"deadline {utc_text(self.deadline)}: plan again with a later deadline"
        )

    @property
    def duration(self) -> timedelta:
        """The run time as a timedelta."""
        return timedelta(seconds=self.duration_s)

    @property
    def latest_start(self) -> datetime:
        """The latest start that still meets the deadline."""
        return self.deadline - self.duration

    @classmethod
    def from_plan(cls, plan: Plan) -> JobPlan:
        """The plan of ``lowcarb.scheduling`` as a Job carries it.

        Raises:
            InvalidValueError: An interruptible plan of several slots (a Job runs in one go).
        """
        if len(plan.slots) > 1:
            raise InvalidValueError(
                f"the plan runs in {len(plan.slots)} slots, but a Kubernetes Job runs in one go: "
                "plan it without --interruptible"
            )
        return cls(
            zone=plan.zone,
            planned_start=plan.start,
            deadline=plan.deadline,
            duration_s=(plan.end - plan.start).total_seconds(),
            expected_intensity_g_per_kwh=_finite(plan.expected_intensity_g_per_kwh),
            now_intensity_g_per_kwh=_finite(plan.now_intensity_g_per_kwh),
            forecast_model=plan.forecast_model,
            planned_at=plan.issued_at,
            fallback=plan.fallback,
        )

    def annotations(self) -> dict[str, str]:
        """The plan as the Job's annotations (every value a string)."""
        out = {
            ZONE: self.zone,
            PLANNED_START: utc_text(self.planned_start),
            DEADLINE: utc_text(self.deadline),
            DURATION: f"{self.duration_s:g}",
            MODEL: _bounded(self.forecast_model),
            PLANNED_AT: utc_text(self.planned_at),
        }
        for key, value in (
            (EXPECTED, self.expected_intensity_g_per_kwh),
            (NOW, self.now_intensity_g_per_kwh),
        ):
            if value is not None:
                out[key] = f"{value:.1f}"
        if self.fallback:
            out[FALLBACK] = _bounded(self.fallback)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times ISO 8601 UTC)."""
        return {
            "zone": self.zone,
            "planned_start": utc_text(self.planned_start),
            "deadline": utc_text(self.deadline),
            "duration_s": self.duration_s,
            "expected_intensity_g_per_kwh": self.expected_intensity_g_per_kwh,
            "now_intensity_g_per_kwh": self.now_intensity_g_per_kwh,
            "forecast_model": self.forecast_model,
            "planned_at": utc_text(self.planned_at),
            "fallback": self.fallback,
        }


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _bounded(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _MAX_TEXT else flat[: _MAX_TEXT - 3] + "..."


def suspended_job(job: BatchJob, plan: Plan | JobPlan) -> dict[str, Any]:
    """The ``batch/v1`` Job of ``job``, created with ``spec.suspend: true`` and ``plan`` in its
    annotations, for ``lowcarb k8s release`` to un-suspend at the planned start.

    The pod runs as a non-root user with a read-only root filesystem, no privilege escalation,
    no capabilities and no service account token, and never restarts in place (the Job's
    ``backoffLimit`` retries it with a new pod).

    Raises:
        InvalidValueError: A plan that runs in several slots (interruptible).
    """
    jp = plan if isinstance(plan, JobPlan) else JobPlan.from_plan(plan)
    labels = {MANAGED_BY[0]: MANAGED_BY[1], "app.kubernetes.io/name": job.name}
    if job.team is not None:
        labels[TEAM_LABEL] = job.team
    if job.project is not None:
        labels[PROJECT_LABEL] = job.project
    res = job.resources
    container: dict[str, Any] = {
        "name": "main",
        "image": job.image,
        "command": list(job.command),
        "resources": {
            "requests": {"cpu": res.cpu_request, "memory": res.memory_request},
            "limits": {"cpu": res.cpu_limit, "memory": res.memory_limit},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        # A read-only root filesystem still needs a scratch directory.
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 (the pod's own)
    }
    if job.args:
        container["args"] = list(job.args)
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job.name,
            "namespace": job.namespace,
            "labels": labels,
            "annotations": jp.annotations(),
        },
        "spec": {
            # Created suspended: no pod runs until the controller releases it.
            "suspend": True,
            "backoffLimit": job.backoff_limit,
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": _UID,
                        "runAsGroup": _UID,
                        "fsGroup": _UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "automountServiceAccountToken": False,
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }
    return copy.deepcopy(manifest)


def job_plan(job: Mapping[str, Any]) -> JobPlan:
    """The plan a Job's annotations carry.

    Raises:
        DataError: A missing or malformed annotation, naming the Job and the annotation.
    """
    meta = job.get("metadata") or {}
    name = f"{meta.get('namespace', '?')}/{meta.get('name', '?')}"
    notes = meta.get("annotations") or {}

    def text(key: str, *, required: bool = True) -> str | None:
        value = notes.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise DataError(
                    f"Job {name} has no {key} annotation: create it with `lowcarb k8s job`"
                )
            return None
        if not isinstance(value, str):
            raise DataError(f"Job {name}: annotation {key} must be a string, got {value!r}")
        return value

    def time(key: str) -> datetime:
        raw = text(key) or ""
        try:
            return parse_timestamp(raw, what=f"annotation {key} of Job {name}")
        except InvalidValueError as exc:
            raise DataError(str(exc)) from None

    def number(key: str, *, required: bool) -> float | None:
        raw = text(key, required=required)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0:
            raise DataError(f"Job {name}: annotation {key}={raw[:40]!r} is not a number >= 0")
        return value

    try:
        return JobPlan(
            zone=text(ZONE) or "",
            planned_start=time(PLANNED_START),
            deadline=time(DEADLINE),
            duration_s=number(DURATION, required=True) or 0.0,
            expected_intensity_g_per_kwh=number(EXPECTED, required=False),
            now_intensity_g_per_kwh=number(NOW, required=False),
            forecast_model=text(MODEL, required=False) or "unknown",
            planned_at=time(PLANNED_AT),
            fallback=text(FALLBACK, required=False),
        )
    except InvalidValueError as exc:
        raise DataError(f"Job {name}: {exc}") from None


def label_selector(pairs: Sequence[tuple[str, str]]) -> str:
    """``k1=v1,k2=v2``."""
    return ",".join(f"{k}={v}" for k, v in pairs)
