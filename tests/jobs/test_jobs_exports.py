"""The public surface of lowcarb.jobs, and the layering around it (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import lowcarb
import lowcarb.jobs as jobs

SRC = Path(lowcarb.__file__).resolve().parent
#: Packages and modules below (or beside, for scheduling) the job store: none may import it.
BELOW = ("scheduling", "ledger", "tracking", "grid", "energy", "errors.py", "units.py")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _files(name: str) -> list[Path]:
    target = SRC / name
    return [target] if target.is_file() else sorted(target.rglob("*.py"))


def test_all_names_resolve_and_nothing_else_is_public() -> None:
    for name in jobs.__all__:
        assert hasattr(jobs, name), name
    public = {n for n in vars(jobs) if not n.startswith("_")} - {"testing"}
    assert public == set(jobs.__all__)
    assert {"Job", "JobStore", "open_job_store", "Worker", "WorkerConfig"} <= public


def test_nothing_below_imports_the_job_store() -> None:
    for name in BELOW:
        for path in _files(name):
            bad = {
                m for m in _imports(path) if m == "lowcarb.jobs" or m.startswith("lowcarb.jobs.")
            }
            assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"


def test_jobs_reaches_other_packages_through_their_public_names_only() -> None:
    for path in _files("jobs"):
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] != "lowcarb" or len(parts) < 3 or parts[1] == "jobs":
                continue
            assert not parts[2].startswith("_"), f"{path.relative_to(SRC)} imports {module}"
