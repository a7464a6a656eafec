"""Every file under ``examples/`` runs in CI, with the tool that consumes it.

Python scripts run in a subprocess in a temporary working directory; policy, retraining-policy
and search-space files are read by the loaders ``lowcarb`` itself uses; GitHub Actions workflows
are parsed and each ``lowcarb`` command in them is parsed by the real CLI parser; Terraform files
must hold the ``external`` data source that calls ``lowcarb``. A new file under ``examples/``
without a runner fails (:func:`test_every_example_has_a_runner`): add one to :data:`EXACT` or
:data:`PATTERNS`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SHARED_DATA = Path(os.environ.get("LOWCARB_GRID_DATA") or ROOT.parent / "shared" / "data" / "grid")

Runner = Callable[[Path, Path], None]  # (example file, temporary directory)


def _example_files() -> list[Path]:
    return sorted(
        p
        for p in EXAMPLES.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def _rel(path: Path) -> str:
    return path.relative_to(EXAMPLES).as_posix() if path.is_relative_to(EXAMPLES) else path.name


# --- runners --------------------------------------------------------------------------------


def _clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOWCARB_", "MLFLOW_"))}
    env.update(HOME=str(tmp), XDG_CONFIG_HOME=str(tmp / ".config"), COLUMNS="100")
    return env


def _python_script(
    *, args: tuple[str, ...] = (), expect: str = "", needs_shared_data: bool = False
) -> Runner:
    """Run a script with this Python in ``tmp``: exit 0 and ``expect`` in its output."""

    def run(path: Path, tmp: Path, env: dict[str, str] | None = None) -> None:
        if needs_shared_data and not SHARED_DATA.is_dir():
            pytest.skip(f"{_rel(path)} reads {SHARED_DATA}; set LOWCARB_GRID_DATA to its folder")
        proc = subprocess.run(
            [sys.executable, str(path), *args],
            cwd=tmp,
            env=env or _clean_env(tmp),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{_rel(path)} exited {proc.returncode}:\n{out[-4000:]}"
        assert expect in out, f"{_rel(path)} did not print {expect!r}:\n{out[-4000:]}"

    return run


def _promotion_policy(path: Path, tmp: Path) -> None:
    from lowcarb.governance import PromotionPolicy, load_policy

    policy = load_policy(path)
    assert isinstance(policy, PromotionPolicy)


def _retrain_policy(path: Path, tmp: Path) -> None:
    from lowcarb.monitoring import RetrainPolicy, load_retrain_policy

    assert isinstance(load_retrain_policy(path), RetrainPolicy)


def _search_space(path: Path, tmp: Path) -> None:
    from lowcarb.tuning import SearchSpace, load_space

    assert isinstance(load_space(path), SearchSpace)


def _lowcarb_argv(script: str) -> list[list[str]]:
    """The ``lowcarb ...`` commands in a shell step (``\\``-continued and folded lines joined)."""
    text = re.sub(r"\\\n", " ", script)
    commands: list[list[str]] = []
    for line in text.replace("\n", " ; ").split(";"):
        words = shlex.split(line.split(">", 1)[0].split("|", 1)[0], comments=True)
        if words and words[0] == "lowcarb":
            commands.append(words[1:])
    return commands


def _github_workflow(path: Path, tmp: Path) -> None:
    """A GitHub Actions workflow: its shape, and every ``lowcarb`` command parses."""
    from lowcarb.cli import build_parser

    doc: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), f"{_rel(path)} is not a mapping"
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    assert "on" in doc or True in doc, f"{_rel(path)} has no trigger (`on:`)"
    jobs = doc.get("jobs")
    assert isinstance(jobs, dict) and jobs, f"{_rel(path)} has no jobs"
    seen = 0
    for name, job in jobs.items():
        assert "runs-on" in job, f"job {name} has no runs-on"
        steps = job.get("steps")
        assert isinstance(steps, list) and steps, f"job {name} has no steps"
        for step in steps:
            assert "uses" in step or "run" in step, f"a step of {name} neither uses nor runs"
            for argv in _lowcarb_argv(str(step.get("run", ""))):
                build_parser(argv).parse_args(argv)  # SystemExit(2) on an unknown flag
                seen += 1
    assert seen, f"{_rel(path)} runs no lowcarb command"


def _hcl_defaults(text: str) -> dict[str, object]:
    """``variable "x" { default = ... }`` values that are a string or a list of strings."""
    out: dict[str, object] = {}
    for m in re.finditer(r'variable\s+"(?P<name>[\w-]+)"\s*\{(?P<body>.*?)\n\}', text, re.S):
        default = re.search(r"^\s*default\s*=\s*(?P<value>\[[^\]]*\]|\"[^\"]*\")", m["body"], re.M)
        if default:
            value = default["value"]
            out[m["name"]] = (
                re.findall(r'"([^"]*)"', value) if value.startswith("[") else value[1:-1]
            )
    return out


def _hcl_query(body: str, defaults: dict[str, object]) -> dict[str, str]:
    """The ``query = {...}`` of a data source, with ``var.x`` and ``join(sep, var.x)`` resolved."""
    block = re.search(r"query\s*=\s*\{(?P<items>.*?)\}", body, re.S)
    query: dict[str, str] = {}
    for key, expr in re.findall(
        r"^\s*(\w+)\s*=\s*(.+?)\s*$", block["items"] if block else "", re.M
    ):
        if j := re.fullmatch(r'join\("(?P<sep>[^"]*)",\s*var\.(?P<var>\w+)\)', expr):
            values = defaults[j["var"]]
            query[key] = j["sep"].join(values if isinstance(values, list) else [str(values)])
        elif v := re.fullmatch(r"var\.(\w+)", expr):
            query[key] = str(defaults[v[1]])
        else:
            query[key] = expr.strip('"')
    return query


def _terraform(path: Path, tmp: Path) -> None:
    """A Terraform file's ``external`` data source: its program is lowcarb, and it keeps
    Terraform's protocol when run with the query the variables' defaults make (a JSON object of
    strings on stdin; one flat JSON object of strings on stdout, exit 0)."""
    text = path.read_text(encoding="utf-8")
    block = re.search(r'data\s+"external"\s+"[\w-]+"\s*\{(?P<body>.*?)\n\}', text, re.S)
    assert block, f'{_rel(path)} has no data "external" block'
    program = re.search(r"program\s*=\s*\[(?P<argv>[^\]]*)\]", block["body"], re.S)
    assert program, f"{_rel(path)}: the external data source has no program"
    argv = re.findall(r'"([^"]*)"', program["argv"])
    assert argv and argv[0] == "lowcarb", f"{_rel(path)}: the program is not lowcarb: {argv}"
    query = _hcl_query(block["body"], _hcl_defaults(text))
    exe = Path(sys.executable).parent / "lowcarb"
    proc = subprocess.run(
        [str(exe), *argv[1:]],
        input=json.dumps(query),
        cwd=tmp,
        env=_clean_env(tmp),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"{argv} with {query} exited {proc.returncode}: {proc.stderr}"
    result = json.loads(proc.stdout)
    assert isinstance(result, dict) and result, f"{argv} printed {proc.stdout!r}"
    assert all(isinstance(v, str) for v in result.values()), f"non-string values: {result}"
    used = set(re.findall(r"data\.external\.[\w-]+\.result\.(\w+)", text))
    assert used <= set(result), f"{_rel(path)} reads {sorted(used - set(result))}, not returned"


def _airflow_dag(path: Path, tmp: Path) -> None:
    """Airflow caps FastAPI below the dev extra's, so DAG files run in Airflow's own virtualenv,
    by ``test_example_airflow.py`` (``make airflow-test``); here only their syntax is checked."""
    compile(path.read_text(encoding="utf-8"), str(path), "exec")
    pytest.skip(
        f"{_rel(path)} runs in the Airflow virtualenv: tests/examples/test_example_airflow.py"
    )


def _readme(path: Path, tmp: Path) -> None:
    """A README: every file it names in backticks exists (beside it or from the repo root)."""
    names = re.findall(r"`([\w./-]+\.(?:ya?ml|py|json|csv|tf|md))`", path.read_text())
    for name in names:
        assert (path.parent / name).exists() or (ROOT / name).exists(), (
            f"{_rel(path)} names {name!r}, which does not exist"
        )


# --- which runner for which file ------------------------------------------------------------

#: Files by their path under examples/.
EXACT: dict[str, Runner] = {
    "demo.py": _python_script(expect="chain valid"),
    "monitoring/make_windows.py": _python_script(
        expect="reference.csv: 720 rows", needs_shared_data=True
    ),
    "policy.yaml": _promotion_policy,
    "monitoring/policy.yaml": _retrain_policy,
    "tuning/digits_space.yaml": _search_space,
}
#: Then by pattern (fnmatch on the path under examples/), first match wins.
PATTERNS: list[tuple[str, Runner]] = [
    ("airflow/*.py", _airflow_dag),
    ("github-actions/*.yml", _github_workflow),
    ("github-actions/*.yaml", _github_workflow),
    ("*.tf", _terraform),
    ("*README.md", _readme),
]


def runner_for(rel: str) -> Runner | None:
    if rel in EXACT:
        return EXACT[rel]
    return next((run for pattern, run in PATTERNS if fnmatch(rel, pattern)), None)


@pytest.mark.parametrize("rel", [_rel(p) for p in _example_files()])
def test_example(rel: str, tmp_path: Path) -> None:
    run = runner_for(rel)
    if run is None:
        pytest.fail(f"no runner for examples/{rel}; add one in {Path(__file__).name}")
    run(EXAMPLES / rel, tmp_path)


def test_every_example_has_a_runner() -> None:
    missing = [rel for p in _example_files() if runner_for(rel := _rel(p)) is None]
    assert not missing, "no runner for " + ", ".join(f"examples/{m}" for m in missing)


def test_exact_runners_name_existing_files() -> None:
    """A runner for a file that was moved or deleted is a stale entry, not a pass."""
    stale = [rel for rel in EXACT if not (EXAMPLES / rel).is_file()]
    assert not stale, f"runners for missing examples: {stale}"


def test_workflow_runner_catches_a_bad_flag(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  g:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: lowcarb gate --policy p.yaml --no-such-flag\n"
    )
    with pytest.raises(SystemExit):
        _github_workflow(bad, tmp_path)


def test_terraform_runner_needs_the_external_source(tmp_path: Path) -> None:
    tf = tmp_path / "main.tf"
    tf.write_text('resource "null_resource" "x" {}\n')
    with pytest.raises(AssertionError, match="external"):
        _terraform(tf, tmp_path)
