"""The suspended batch Job of `lowcarb k8s job`: valid for Kubernetes 1.29 (the strict schemas
shipped with kubernetes-validate), its plan in annotations that read back exactly, and bad specs
refused with one line naming the value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import kubernetes_validate
import pytest

from lowcarb.errors import DataError, InvalidValueError, LowcarbError
from lowcarb.integrations.k8s import (
    BatchJob,
    JobPlan,
    Resources,
    job_plan,
    place_job,
    suspended_job,
)
from lowcarb.scheduling import ProfileSource, build_job_spec, plan_job

#: As tests/integrations/test_k8s.py: a release still widely run with every API used.
K8S_VERSION = "1.29.0"
NOW = datetime(2024, 5, 1, 10, 20, tzinfo=UTC)


def _job(**kw: Any) -> BatchJob:
    args: dict[str, Any] = {
        "name": "train-detector",
        "image": "ghcr.io/acme/train:1.4",
        "command": ("python", "train.py"),
        "args": ("--epochs", "3"),
        "team": "vision",
        "project": "detector",
    }
    return BatchJob(**{**args, **kw})


def _placement() -> Any:
    spec = build_job_spec(duration="2h", deadline="24h", now=NOW)
    return place_job(spec, [(None, "DE")], ProfileSource(), now=NOW)


def test_the_job_is_valid_suspended_and_carries_its_plan() -> None:
    placement = _placement()
    job = suspended_job(_job(), placement.plan)
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    assert job["spec"]["suspend"] is True
    notes = job["metadata"]["annotations"]
    plan = placement.plan
    assert notes["lowcarb.dev/zone"] == "DE"
    assert notes["lowcarb.dev/planned-start"] == plan.to_dict()["start"]
    assert notes["lowcarb.dev/deadline"] == "2024-05-02T10:20:00Z"
    assert notes["lowcarb.dev/duration-s"] == "7200"
    assert float(notes["lowcarb.dev/expected-intensity-g-per-kwh"]) == pytest.approx(
        plan.expected_intensity_g_per_kwh, abs=0.051
    )
    assert float(notes["lowcarb.dev/now-intensity-g-per-kwh"]) == pytest.approx(
        plan.now_intensity_g_per_kwh, abs=0.051
    )
    assert notes["lowcarb.dev/forecast-model"] == plan.forecast_model
    assert notes["lowcarb.dev/planned-at"] == "2024-05-01T10:20:00Z"
    assert all(isinstance(v, str) for v in notes.values())
    labels = job["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "lowcarb"
    assert (labels["lowcarb.dev/team"], labels["lowcarb.dev/project"]) == ("vision", "detector")


def test_the_pod_has_requests_and_limits_and_runs_non_root() -> None:
    res = Resources(cpu_request="500m", memory_request="1Gi", cpu_limit="2", memory_limit="3Gi")
    job = suspended_job(_job(resources=res), _placement().plan)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["python", "train.py"]
    assert container["args"] == ["--epochs", "3"]
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "3Gi"},
    }
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    default = suspended_job(_job(), _placement().plan)["spec"]["template"]["spec"]["containers"][0]
    assert default["resources"]["requests"] == {"cpu": "1", "memory": "2Gi"}  # always set


def test_the_plan_reads_back_from_the_annotations() -> None:
    placement = _placement()
    back = job_plan(suspended_job(_job(), placement.plan))
    expected = placement.job_plan
    assert back.planned_start == expected.planned_start.replace(microsecond=0)
    assert back.deadline == expected.deadline
    assert back.duration_s == 7200
    assert back.zone == "DE" and back.fallback is None
    assert back.planned_start + back.duration <= back.deadline


def test_a_fallback_plan_says_so_in_an_annotation() -> None:
    spec = build_job_spec(duration="1h", deadline="3h", now=NOW)
    from lowcarb.scheduling import fallback_plan

    plan = fallback_plan(spec, zone="DE", now=NOW, reason="no forecast (provider down)")
    job = suspended_job(_job(), plan)
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    notes = job["metadata"]["annotations"]
    assert notes["lowcarb.dev/plan-fallback"].startswith("no forecast (provider down)")
    assert "lowcarb.dev/expected-intensity-g-per-kwh" not in notes  # unknown, not a made-up 0


@pytest.mark.parametrize(
    ("kw", "quoted"),
    [
        ({"name": "Train"}, "'Train'"),
        ({"name": "a" * 64}, "a" * 64),
        ({"namespace": "team_a"}, "'team_a'"),
        ({"image": "bad image"}, "'bad image'"),
        ({"command": ()}, "command=()"),
        ({"command": ("",)}, "command="),
        ({"team": "Vision Team"}, "'Vision Team'"),
        ({"project": "-x"}, "'-x'"),
        ({"backoff_limit": -1}, "backoff_limit=-1"),
        ({"resources": "x"}, None),
    ],
)
def test_bad_specs_are_refused_naming_the_value(kw: dict[str, Any], quoted: str | None) -> None:
    if "resources" in kw:
        with pytest.raises(InvalidValueError, match="'lots' is not a Kubernetes quantity"):
            Resources(cpu_request="lots")
        return
    with pytest.raises(InvalidValueError) as info:
        _job(**kw)
    message = str(info.value)
    assert quoted is not None and quoted in message
    assert "\n" not in message
    assert isinstance(info.value, LowcarbError)


@pytest.mark.parametrize(
    ("res", "quoted"),
    [
        (Resources(cpu_request="2", memory_request="1Gi", cpu_limit="1", memory_limit="1Gi"),
         "cpu request '2' is above its limit '1'"),
        (Resources(cpu_request="1", memory_request="3Gi", cpu_limit="1", memory_limit="3000Mi"),
         "memory request '3Gi' is above its limit '3000Mi'"),
        (Resources(cpu_request="1001m", memory_request="1G", cpu_limit="1", memory_limit="1G"),
         "cpu request '1001m' is above its limit '1'"),
    ],
)  # fmt: skip
def test_a_request_above_its_limit_is_refused_as_the_api_server_would(
    res: Resources, quoted: str
) -> None:
    with pytest.raises(InvalidValueError) as info:
        _job(resources=res)
    assert quoted in str(info.value) and "\n" not in str(info.value)
    assert "raise the limit" in str(info.value)


def test_requests_equal_to_limits_in_other_units_are_accepted() -> None:
    res = Resources(
        cpu_request="100m", memory_request="1Gi", cpu_limit="0.1", memory_limit="1024Mi"
    )
    job = suspended_job(_job(resources=res), _placement().plan)
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_an_interruptible_plan_is_refused() -> None:
    spec = build_job_spec(duration="3h", deadline="24h", now=NOW, interruptible=True)
    from lowcarb.grid import profile_series
    from lowcarb.scheduling import ZoneForecast

    series = profile_series("DE", start=NOW.replace(minute=0), hours=26)
    values = series.values_g_per_kwh.copy()
    values[3::4] = 5.0  # cheap isolated hours: an interruptible plan splits
    fc = ZoneForecast("DE", series.start, 3600, values, "test", NOW)
    plan = plan_job(spec, fc, now=NOW)
    assert len(plan.slots) > 1
    with pytest.raises(InvalidValueError, match="a Kubernetes Job runs in one go"):
        suspended_job(_job(), plan)
    with pytest.raises(InvalidValueError, match="one go"):
        place_job(spec, [(None, "DE")], ProfileSource(), now=NOW)


def test_missing_or_malformed_annotations_name_the_job_and_the_annotation() -> None:
    job = suspended_job(_job(), _placement().plan)
    del job["metadata"]["annotations"]["lowcarb.dev/planned-start"]
    with pytest.raises(DataError, match=r"Job default/train-detector has no lowcarb.dev/planned-"):
        job_plan(job)
    job = suspended_job(_job(), _placement().plan)
    job["metadata"]["annotations"]["lowcarb.dev/duration-s"] = "soon"
    with pytest.raises(DataError, match=r"duration-s='soon' is not a number"):
        job_plan(job)
    job = suspended_job(_job(), _placement().plan)
    job["metadata"]["annotations"]["lowcarb.dev/deadline"] = "2024-05-01T10:00:00Z"
    with pytest.raises(DataError, match="ends after the deadline"):
        job_plan(job)


def test_a_plan_that_ends_after_its_deadline_cannot_be_built() -> None:
    with pytest.raises(InvalidValueError, match="ends after the deadline"):
        JobPlan(
            zone="DE",
            planned_start=NOW,
            deadline=NOW + timedelta(hours=1),
            duration_s=7200,
            expected_intensity_g_per_kwh=None,
            now_intensity_g_per_kwh=None,
            forecast_model="profile",
            planned_at=NOW,
        )


def test_kubernetes_validate_rejects_what_the_api_server_would() -> None:
    job = suspended_job(_job(), _placement().plan)
    job["spec"]["suspend"] = "yes"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_spatial_choice_picks_the_cleanest_context_meeting_the_deadline() -> None:
    spec = build_job_spec(duration="2h", deadline="12h", now=NOW)
    placement = place_job(
        spec, [("ctx-de", "DE"), ("ctx-fr", "FR"), ("ctx-pl", "PL")], ProfileSource(), now=NOW
    )
    assert placement.context == "ctx-fr"  # nuclear France: the cleanest of the three
    assert placement.plan.zone == "FR"
    assert placement.plan.baseline_zone == "DE"
    assert {o.zone for o in placement.plan.options} == {"DE", "FR", "PL"}
    assert placement.plan.end <= spec.deadline
    out = placement.to_dict()
    assert out["context"] == "ctx-fr" and len(out["candidates"]) == 3
    with pytest.raises(LowcarbError, match="given twice"):
        place_job(spec, [("a", "DE"), ("a", "FR")], ProfileSource(), now=NOW)
