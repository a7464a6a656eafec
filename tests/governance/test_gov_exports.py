"""lowcarb.governance exports exactly its ``__all__``, and keeps to its layer."""

from __future__ import annotations

import subprocess
import sys

import pytest

import lowcarb.governance as governance


def test_all_names_resolve_and_nothing_else_is_public() -> None:
    for name in governance.__all__:
        assert hasattr(governance, name), name
    public = {n for n in vars(governance) if not n.startswith("_") and n != "annotations"}
    modules = {n for n in public if hasattr(getattr(governance, n), "__file__")}
    assert public - modules == set(governance.__all__)
    assert len(governance.__all__) == len(set(governance.__all__))


@pytest.mark.parametrize("module", ["mlflow", "lowcarb.integrations", "lowcarb.cli"])
def test_importing_governance_does_not_import(module: str) -> None:
    # `make demo` installs only the `demo` extra: governance must import without MLflow; and
    # governance sits below integrations and the CLI, which compose it.
    code = f"import sys, lowcarb.governance; print({module!r} in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
