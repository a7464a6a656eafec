"""Manifests for ``lowcarb serve``: core objects valid for Kubernetes 1.29 (strict schemas shipped
with kubernetes-validate), the KEDA ScaledObject and CarbonAwareKedaScaler valid against their
vendored CRDs (``integrations/k8s/schemas/SOURCES.md``), and the Dockerfile's basic properties."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

import lowcarb.integrations.k8s as k8s
from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.errors import InvalidValueError, UnknownNameError
from lowcarb.integrations.k8s import CarbonAware, IntensityCap, Resources, serve_manifests

#: The oldest Kubernetes release still widely run that has every API used (autoscaling/v2: 1.23).
K8S_VERSION = "1.29.0"
CORE = {"Deployment", "Service", "HorizontalPodAutoscaler"}
ROOT = Path(__file__).resolve().parents[2]


def _validate(obj: dict[str, Any]) -> None:
    if obj["kind"] in CORE:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    else:
        schema = k8s.crd_schema(obj["apiVersion"], obj["kind"])
        jsonschema.validate(obj, schema, cls=jsonschema.Draft4Validator)


def _kinds(objects: list[dict[str, Any]]) -> list[str]:
    return [o["kind"] for o in objects]


def test_exports() -> None:
    public = {n for n in vars(k8s) if not n.startswith("_") and n != "annotations"}
    modules = {n for n in public if hasattr(getattr(k8s, n), "__file__")}
    assert public - modules == set(k8s.__all__)


def test_keda_manifests_are_valid_and_scale_on_the_request_rate() -> None:
    objects = serve_manifests("iris", "ghcr.io/acme/lowcarb:1", "/models/iris.skops")
    assert _kinds(objects) == ["Deployment", "Service", "ScaledObject"]  # no HPA beside KEDA
    for obj in objects:
        _validate(obj)
    scaled = objects[2]["spec"]
    # The server's own counter can only wake replicas that exist: one is kept by default.
    assert scaled["minReplicaCount"] == 1
    assert scaled["maxReplicaCount"] == 5
    assert scaled["scaleTargetRef"]["name"] == "iris"
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "prometheus"
    assert trigger["metadata"]["query"] == 'sum(rate(lowcarb_requests_total{model="iris"}[2m]))'
    assert all(isinstance(v, str) for v in trigger["metadata"].values())


INGRESS_RATE = 'sum(rate(nginx_ingress_controller_requests{exported_service="iris"}[2m]))'


def test_scale_to_zero_scales_on_a_rate_counted_in_front_of_the_pods() -> None:
    objects = serve_manifests("iris", "img:1", "/m.skops", min_replicas=0, scale_query=INGRESS_RATE)
    for obj in objects:
        _validate(obj)
    scaled = objects[2]["spec"]
    assert scaled["minReplicaCount"] == 0
    (trigger,) = scaled["triggers"]
    # Not lowcarb_requests_total: with no pod running, nothing would count the waking request.
    assert trigger["metadata"]["query"] == INGRESS_RATE
    assert trigger["metadata"]["activationThreshold"] == "0"


def test_scale_to_zero_on_the_servers_own_counter_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="min_replicas=0 needs scale_query"):
        serve_manifests("iris", "img:1", "/m.skops", min_replicas=0)


def test_pods_stop_routing_before_the_drain_and_get_time_to_finish() -> None:
    pod = serve_manifests("iris", "img:1", "/m.skops")[0]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert pause > 0
    # The pause, then the server's 30 s drain, must fit in the grace period before SIGKILL.
    assert pod["terminationGracePeriodSeconds"] > pause + 30


def test_deployment_runs_the_server_non_root_with_probes_and_resources() -> None:
    res = Resources(cpu_request="500m", memory_request="256Mi", cpu_limit="2", memory_limit="2Gi")
    deployment, service, _ = serve_manifests(
        "iris", "img:1", "/models/iris.onnx", port=9000, resources=res
    )
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["lowcarb", "serve"]
    assert container["args"] == [
        "/models/iris.onnx",
        "--host",
        "0.0.0.0",
        "--port",
        "9000",
        "--name",
        "iris",
    ]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert service["spec"]["ports"][0]["port"] == 9000
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_without_keda_a_cpu_hpa_owns_the_deployment_with_at_least_one_replica() -> None:
    objects = serve_manifests("iris", "img:1", "/m.skops", keda=False, max_replicas=7)
    assert _kinds(objects) == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    for obj in objects:
        _validate(obj)
    hpa = objects[2]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 7)
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"


def test_carbon_aware_scaler_is_valid_and_caps_by_intensity() -> None:
    ca = CarbonAware("DE", caps=(IntensityCap(150, 8), IntensityCap(300, 4), IntensityCap(900, 1)))
    objects = serve_manifests("iris", "img:1", "/m.skops", max_replicas=6, carbon_aware=ca)
    assert _kinds(objects) == ["Deployment", "Service", "ScaledObject", "CarbonAwareKedaScaler"]
    for obj in objects:
        _validate(obj)
    scaler = objects[3]
    assert scaler["apiVersion"] == "carbonaware.kubernetes.azure.com/v1alpha1"
    assert scaler["metadata"]["annotations"]["lowcarb.dev/zone"] == "DE"
    assert scaler["spec"]["kedaTargetRef"] == {"name": "iris", "namespace": "default"}
    assert objects[0]["spec"]["template"]["spec"]["containers"][0]["args"][-2:] == ["--zone", "DE"]
    caps = [
        (c["carbonIntensityThreshold"], c["maxReplicas"])
        for c in scaler["spec"]["maxReplicasByCarbonIntensity"]
    ]
    assert caps == [(150, 6), (300, 4), (900, 1)]  # never above the ScaledObject's maximum


def test_the_vendored_schemas_reject_what_the_operators_would() -> None:
    scaled = serve_manifests("iris", "img:1", "/m.skops")[2]
    scaled["spec"]["triggers"][0]["metadata"]["threshold"] = 5  # KEDA wants strings
    with pytest.raises(jsonschema.ValidationError):
        _validate(scaled)
    ca = serve_manifests("iris", "img:1", "/m.skops", carbon_aware=CarbonAware("DE"))[3]
    del ca["spec"]["ecoModeOff"]
    with pytest.raises(jsonschema.ValidationError):
        _validate(ca)
    with pytest.raises(UnknownNameError):
        k8s.crd_schema("keda.sh/v1alpha1", "ScaledJob")


@pytest.mark.parametrize(
    ("kwargs", "quoted"),
    [
        ({"name": "Iris"}, "'Iris'"),
        ({"name": "x" * 64}, "x" * 64),
        ({"namespace": "a_b"}, "'a_b'"),
        ({"port": 0}, "port=0"),
        ({"min_replicas": 3, "max_replicas": 2}, "min_replicas=3"),
        ({"image": "a b"}, "'a b'"),
        ({"prometheus_url": "prom:9090"}, "'prom:9090'"),
        ({"keda": False, "carbon_aware": CarbonAware("DE")}, "keda=True"),
        ({"model_label": 'a"b'}, "model_label="),
        ({"scale_query": ""}, "scale_query=''"),
        ({"scale_query": "a\nb"}, "scale_query="),
        ({"keda": False, "scale_query": INGRESS_RATE}, "keda=True"),
    ],
)
def test_bad_values_raise_quoting_the_value(kwargs: dict[str, Any], quoted: str) -> None:
    args: dict[str, Any] = {"name": "iris", "image": "img:1", "model_path": "/m.skops"}
    args.update(kwargs)
    with pytest.raises(InvalidValueError, match=None) as info:
        serve_manifests(**args)
    assert quoted in str(info.value)


def test_a_request_above_its_limit_is_refused_naming_the_options() -> None:
    res = Resources(cpu_request="2", cpu_limit="1")
    with pytest.raises(InvalidValueError, match=r"cpu request '2' is above its limit '1'.*--cpu-"):
        serve_manifests("iris", "img:1", "/m.skops", resources=res)
    same = Resources(memory_request="1024Mi", memory_limit="1Gi")  # equal in other units
    assert serve_manifests("iris", "img:1", "/m.skops", resources=same)


def test_bad_resources_and_caps_raise() -> None:
    with pytest.raises(InvalidValueError, match="'lots'"):
        Resources(cpu_request="lots")
    with pytest.raises(InvalidValueError, match="ascending"):
        CarbonAware("DE", caps=(IntensityCap(300, 1), IntensityCap(200, 2)))
    with pytest.raises(InvalidValueError, match="-1"):
        IntensityCap(100, -1)


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    code = main(argv, ctx=CliContext(stdout=out, stderr=err, environ={}))
    return code, out.getvalue(), err.getvalue()


def test_cli_prints_multi_document_yaml_that_validates() -> None:
    code, out, err = _cli(
        [
            "k8s",
            "serve",
            "iris",
            "--image",
            "img:1",
            "--model",
            "/m.skops",
            "--carbon-aware-zone",
            "DE",
            "--max-replicas",
            "3",
        ]
    )
    assert code == 0, err
    objects = list(yaml.safe_load_all(out))
    assert _kinds(objects) == ["Deployment", "Service", "ScaledObject", "CarbonAwareKedaScaler"]
    for obj in objects:
        _validate(obj)
    assert "&id" not in out  # no YAML anchors: plain documents kubectl users can read


def test_cli_no_keda_writes_a_file(tmp_path: Path) -> None:
    target = tmp_path / "iris.yaml"
    code, out, err = _cli(
        [
            "k8s",
            "serve",
            "iris",
            "--image",
            "img:1",
            "--model",
            "/m.skops",
            "--no-keda",
            "--min-replicas",
            "2",
            "--output",
            str(target),
        ]
    )
    assert code == 0, err
    assert out == ""
    objects = list(yaml.safe_load_all(target.read_text()))
    assert _kinds(objects) == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    assert objects[2]["spec"]["minReplicas"] == 2


def test_cli_bad_input_is_one_line_and_exit_2() -> None:
    code, out, err = _cli(["k8s", "serve", "Bad_Name", "--image", "i", "--model", "m"])
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "'Bad_Name'" in err


def test_cli_scales_to_zero_only_with_a_scale_query() -> None:
    base = ["k8s", "serve", "iris", "--image", "img:1", "--model", "/m.skops"]
    code, out, err = _cli([*base, "--min-replicas", "0"])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "scale_query" in err
    code, out, err = _cli([*base, "--min-replicas", "0", "--scale-query", INGRESS_RATE])
    assert code == 0, err
    scaled = list(yaml.safe_load_all(out))[2]["spec"]
    assert scaled["minReplicaCount"] == 0
    assert scaled["triggers"][0]["metadata"]["query"] == INGRESS_RATE


def test_vendored_schemas_are_listed_with_their_sources() -> None:
    schemas = ROOT / "src/lowcarb/integrations/k8s/schemas"
    sources = (schemas / "SOURCES.md").read_text()
    for path in schemas.glob("*.json"):
        assert path.name in sources
        crd = json.loads(path.read_text())
        assert crd["kind"] == "CustomResourceDefinition"
    assert "Apache-2.0" in sources and "MIT" in sources


def test_dockerfile_runs_the_server_as_a_non_root_user_with_a_healthcheck() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "deploy/Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines[0].startswith("FROM python:3.11-slim")
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    assert any(line.startswith("HEALTHCHECK") and "/healthz" in line for line in lines)
    assert 'ENTRYPOINT ["lowcarb", "serve"]' in lines
    assert any("pip install" in line and ".[serve]" in line for line in lines)


def test_a_name_with_a_trailing_newline_is_not_a_kubernetes_name() -> None:
    from lowcarb.errors import InvalidValueError
    from lowcarb.integrations.k8s import _serve

    with pytest.raises(InvalidValueError, match="is not a Kubernetes name"):
        _serve._check_name("namespace", "default\n")
