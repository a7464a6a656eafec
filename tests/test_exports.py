"""The public surface is exactly what ``__all__`` says."""

from __future__ import annotations

import importlib
from types import ModuleType

import lowcarb


def test_top_level_all_is_exactly_the_public_surface() -> None:
    assert sorted(lowcarb.__all__) == ["Footprint", "Measurement", "Tracker", "estimate", "track"]
    # Sub-modules (lowcarb.errors, lowcarb.energy, ...) are attributes once imported; they are
    # namespaces, not API objects, so only the non-module public names are compared.
    public = {
        n
        for n, v in vars(lowcarb).items()
        if not n.startswith("_") and not isinstance(v, ModuleType)
    }
    assert public - {"annotations"} == set(lowcarb.__all__)


def test_every_package_all_names_resolve() -> None:
    for pkg in (
        "energy",
        "grid",
        "jobs",
        "ledger",
        "reporting",
        "profiling",
        "governance",
        "scheduling",
        "tracking",
        "integrations",
        "integrations.mlflow",
        "tuning",
        "compression",
        "serving",
        "monitoring",
        "reporting.carbonaware",
        "reporting.report",
        "reporting.dashboard",
    ):
        mod = importlib.import_module(f"lowcarb.{pkg}")
        for name in mod.__all__:
            assert hasattr(mod, name), f"lowcarb.{pkg}.{name}"


def test_a_command_loads_only_its_own_group() -> None:
    """`lowcarb run` must not pay for SQLAlchemy, numpy or the other command groups at start-up."""
    import subprocess
    import sys

    code = (
        "import sys; from lowcarb.cli import build_parser; build_parser(['run', '--', 'true']); "
        "print(sorted(m for m in ('sqlalchemy', 'numpy', 'lowcarb.governance', "
        "'lowcarb.profiling', 'lowcarb.integrations', 'lowcarb.scheduling', "
        "'lowcarb.cli.ledger') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
