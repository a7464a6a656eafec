"""PEP 562 lazy attributes: a package's heavy names load on first use, not on import.

``lowcarb.grid`` (numpy) and ``lowcarb.ledger`` (SQLAlchemy) use it so that ``import lowcarb`` in a
training script stays light. Only a package's own modules are named here, so it hides no arrow
between packages: import-linter still sees them through the ``TYPE_CHECKING`` imports beside it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``names`` maps an attribute to its module.

    A name is imported once, then cached in ``namespace`` (the package's ``globals()``).
    """

    def getattr_(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return getattr_, dir_
