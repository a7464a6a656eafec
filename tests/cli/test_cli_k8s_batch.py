"""`lowcarb k8s job` and `lowcarb k8s release` end to end, against the stand-in API server
(tests/integrations/k8s_standin.py) through a kubeconfig, as against a real cluster."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from lowcarb.cli import main
from lowcarb.cli._common import CliContext
from lowcarb.ledger import RecordFilter, open_ledger

K8S_VERSION = "1.29.0"
NOW = "2024-05-01T10:20Z"
_JOB = ["--image", "ghcr.io/acme/train:1", "--duration", "2h", "--now", NOW]


def _standin() -> Any:
    path = Path(__file__).resolve().parents[1] / "integrations" / "k8s_standin.py"
    spec = importlib.util.spec_from_file_location("k8s_standin", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("k8s_standin", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def cluster() -> Iterator[Any]:
    with _standin().StandInCluster() as c:
        yield c


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    code = main(list(argv), ctx=CliContext(stdout=out, stderr=err, environ={}))
    return code, out.getvalue(), err.getvalue()


def test_job_prints_a_valid_suspended_job_with_its_plan() -> None:
    code, out, err = _run(
        "k8s", "job", "train", *_JOB, "--deadline", "24h", "--zone", "DE",
        "--team", "vision", "--command", "python train.py --epochs 3",
    )  # fmt: skip
    assert code == 0, err
    (job,) = list(yaml.safe_load_all(out))
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    assert job["spec"]["suspend"] is True
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "train.py", "--epochs", "3"]
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "2Gi"}
    assert job["metadata"]["annotations"]["lowcarb.dev/zone"] == "DE"
    assert job["metadata"]["labels"]["lowcarb.dev/team"] == "vision"
    assert "planned in the current context, zone DE" in err


def test_job_across_clusters_picks_the_cleanest_context_json() -> None:
    code, out, err = _run(
        "k8s", "job", *_JOB, "--deadline", "12h", "--context", "de=DE", "--context", "fr=FR",
        "--json", "train", "--", "python", "train.py",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["context"], doc["zone"], doc["created"]) == ("fr", "FR", False)
    assert doc["plan"]["baseline_zone"] == "DE"
    assert [o["zone"] for o in doc["plan"]["options"]] == ["DE", "FR"]
    assert doc["plan"]["end"] <= "2024-05-01T22:20:00Z"
    kubernetes_validate.validate(doc["manifest"], K8S_VERSION, strict=True)
    assert doc["manifest"]["metadata"]["annotations"]["lowcarb.dev/zone"] == "FR"
    assert doc["manifest"]["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python",
        "train.py",
    ]


def test_job_create_creates_it_suspended_in_the_chosen_context(
    cluster: Any, tmp_path: Path
) -> None:
    config = cluster.kubeconfig(tmp_path / "kubeconfig", context="fr-cluster")
    argv = ["k8s", "job", "train", *_JOB, "--deadline", "12h", "--kubeconfig", str(config)]
    argv += ["--context", "fr-cluster=FR", "--command", "python train.py", "--create"]
    code, out, err = _run(*argv)
    assert code == 0, err
    assert "created suspended in context fr-cluster, zone FR" in out
    job = cluster.job("train")
    assert job["spec"]["suspend"] is True
    assert job["metadata"]["annotations"]["lowcarb.dev/zone"] == "FR"
    assert job["metadata"]["uid"]
    code, out, err = _run(*argv)  # again: it exists
    assert code == 2
    assert err.strip().splitlines() == [
        "lowcarb: error: Job default/train already exists in context fr-cluster: give another "
        "NAME or delete it first"
    ]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (
            ["--zone", "DE", "--command", "x", "--requests-cpu", "lots"],
            "'lots' is not a Kubernetes",
        ),
        (["--zone", "DE", "--command", "x", "--team", "a b"], "team='a b' is not a Kubernetes"),
        (
            ["--zone", "DE", "--command", "x", "--requests-cpu", "2", "--limits-cpu", "1"],
            "cpu request '2' is above its limit '1'",
        ),
        (
            [
                "--zone",
                "DE",
                "--command",
                "x",
                "--requests-memory",
                "4Gi",
                "--limits-memory",
                "2Gi",
            ],
            "memory request '4Gi' is above its limit '2Gi'",
        ),
        (["--zone", "DE"], "give the command the Job runs"),
        (["--zone", "DE", "--context", "a=FR", "--command", "x"], "not both"),
        (["--context", "a", "--command", "x"], "--context must be CTX=ZONE"),
        (["--zone", "Atlantis", "--command", "x"], "unknown zone 'Atlantis'"),
    ],
)
def test_job_bad_input_is_one_line_and_exit_2(extra: list[str], needle: str) -> None:
    code, out, err = _run("k8s", "job", "train", *_JOB, "--deadline", "12h", *extra)
    assert code == 2
    assert out == ""
    (line,) = err.strip().splitlines()
    assert needle in line


def test_job_name_that_is_not_a_dns_label_creates_nothing(cluster: Any, tmp_path: Path) -> None:
    config = cluster.kubeconfig(tmp_path / "kubeconfig")
    code, _, err = _run(
        "k8s", "job", "Train_1", *_JOB, "--deadline", "12h", "--zone", "DE", "--command", "x",
        "--kubeconfig", str(config), "--create",
    )  # fmt: skip
    assert code == 2
    assert "name='Train_1' is not a Kubernetes name" in err
    assert not [m for m, _ in cluster.requests if m == "POST"]  # refused before any API call


def test_release_once_releases_due_jobs_and_records_them(cluster: Any, tmp_path: Path) -> None:
    config = cluster.kubeconfig(tmp_path / "kubeconfig")
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    common = ["--kubeconfig", str(config), "--deadline", "12h", "--zone", "DE", "--create"]
    code, _, err = _run("k8s", "job", "train", *_JOB, *common, "--command", "python t.py")
    assert code == 0, err
    start = cluster.job("train")["metadata"]["annotations"]["lowcarb.dev/planned-start"]
    release = ["k8s", "release", "--once", "--kubeconfig", str(config), "--ledger", ledger]
    code, out, err = _run(*release, "--json", "--now", "2024-05-01T10:00Z", "--identity", "x")
    assert code == 0, err
    before = json.loads(out)
    assert before["leader"] is True and before["released"] == []
    assert before["next_start"] == start
    code, out, err = _run(*release, "--json", "--now", start, "--identity", "x")
    assert code == 0, err
    assert json.loads(out)["released"] == ["default/train"]
    assert cluster.job("train")["spec"]["suspend"] is False
    with open_ledger(ledger, environ={}) as led:
        (record,) = list(led.records(RecordFilter(kind="decision")))
    assert record.metadata["job"]["name"] == "train"
    # A second controller stands by while x holds the Lease.
    code, out, err = _run(*release, "--now", start, "--identity", "y")
    assert code == 0, err
    assert "standing by: x holds the Lease" in out


def test_release_flags_that_need_once_are_refused() -> None:
    code, _, err = _run("k8s", "release", "--json")
    assert code == 2
    assert "--now and --json go with --once" in err


def _unreachable_kubeconfig(path: Path) -> Path:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "x",
                "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    return path


def test_an_unreachable_cluster_is_exactly_one_line_on_stderr_and_exit_2(tmp_path: Path) -> None:
    # A real process: the CLI's own logging setup is what printed urllib3's "Retrying (...)".
    config = _unreachable_kubeconfig(tmp_path / "kubeconfig")
    proc = subprocess.run(
        [sys.executable, "-m", "lowcarb", "k8s", "release", "--once", "--kubeconfig", str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "KUBECONFIG": "", "LOWCARB_LEDGER": ""},
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("lowcarb: error: cannot reach the Kubernetes API server at https://")
    assert "to read Lease default/lowcarb-release ([Errno 111] Connection refused)" in line


def test_job_create_on_an_unreachable_cluster_logs_nothing_else(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _unreachable_kubeconfig(tmp_path / "kubeconfig")
    with caplog.at_level(logging.WARNING):
        code, out, err = _run(
            "k8s", "job", "train", *_JOB, "--deadline", "12h", "--zone", "DE", "--command", "x",
            "--kubeconfig", str(config), "--create",
        )  # fmt: skip
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert "to create Job default/train ([Errno 111] Connection refused)" in line
    assert caplog.records == []  # no urllib3 "Retrying (Retry(total=0, ...))" warning


def test_release_exits_with_one_line_when_another_controller_takes_the_lease(
    cluster: Any, tmp_path: Path
) -> None:
    config = cluster.kubeconfig(tmp_path / "kubeconfig")

    def take_it() -> None:
        deadline = time.monotonic() + 20
        while cluster.lease("lowcarb-release") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        cluster.set_lease_holder("lowcarb-release", "intruder")

    thief = threading.Thread(target=take_it)
    thief.start()
    try:
        code, out, err = _run(
            "k8s", "release", "--kubeconfig", str(config), "--identity", "a",
            "--lease-duration", "2", "--renew-every", "0.5",
        )  # fmt: skip
    finally:
        thief.join(timeout=30)
    assert code == 2
    assert out == ""
    assert err.splitlines()[-1] == (
        "lowcarb: error: lost the Lease default/lowcarb-release (another controller, 'intruder', "
        "holds it now); stopped releasing Jobs at once: the holder releases them now (unreleased "
        "Jobs stay suspended, nothing is lost); restart this controller to stand by"
    )
    assert err.count("lost the Lease") == 1  # said once, not also as a warning
    assert cluster.lease("lowcarb-release")["spec"]["holderIdentity"] == "intruder"
