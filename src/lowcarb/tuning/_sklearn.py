"""scikit-learn, imported on first use: ``import lowcarb.tuning`` stays light without it, and a
missing install names the extra to add (``pip install 'lowcarb[tune]'``)."""

from __future__ import annotations

import importlib
from typing import Any

from lowcarb.errors import MissingDependencyError

__all__ = ["import_module"]


def import_module(module: str) -> Any:
    """``importlib.import_module(module)``, a missing package raised as the ``tune`` extra.

    Raises:
        MissingDependencyError: The module's top-level package is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(module.split(".")[0], "tune") from None
