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
    for pkg in ("energy", "grid", "ledger", "reporting"):
        mod = importlib.import_module(f"lowcarb.{pkg}")
        for name in mod.__all__:
            assert hasattr(mod, name), f"lowcarb.{pkg}.{name}"
