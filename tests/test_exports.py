"""The public surface is exactly what ``__all__`` says."""

from __future__ import annotations

import importlib

import lowcarb


def test_top_level_all_is_exactly_the_public_surface() -> None:
    assert sorted(lowcarb.__all__) == ["Footprint", "Measurement", "Tracker", "estimate", "track"]
    public = {n for n in vars(lowcarb) if not n.startswith("_")}
    # Sub-packages are importable attributes, not part of the API surface.
    subpackages = {
        n
        for n in public
        if getattr(getattr(lowcarb, n), "__name__", "").startswith("lowcarb.")
        and hasattr(getattr(lowcarb, n), "__path__")
    }
    modules = {"annotations"}
    assert public - subpackages - modules == set(lowcarb.__all__)


def test_every_package_all_names_resolve() -> None:
    for pkg in ("energy", "grid", "ledger", "reporting"):
        mod = importlib.import_module(f"lowcarb.{pkg}")
        for name in mod.__all__:
            assert hasattr(mod, name), f"lowcarb.{pkg}.{name}"
