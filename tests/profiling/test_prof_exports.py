"""lowcarb.profiling exports exactly its ``__all__`` and stays below governance."""

from __future__ import annotations

import subprocess
import sys

import pytest

import lowcarb.profiling as profiling


def test_all_names_resolve_and_nothing_else_is_public() -> None:
    for name in profiling.__all__:
        assert hasattr(profiling, name), name
    public = {n for n in vars(profiling) if not n.startswith("_") and n != "annotations"}
    modules = {n for n in public if hasattr(getattr(profiling, n), "__file__")}
    assert public - modules == set(profiling.__all__)
    assert len(profiling.__all__) == len(set(profiling.__all__))


@pytest.mark.parametrize(
    "module", ["mlflow", "lowcarb.governance", "lowcarb.integrations", "lowcarb.cli"]
)
def test_importing_profiling_does_not_import(module: str) -> None:
    code = f"import sys, lowcarb.profiling; print({module!r} in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
