"""`lowcarb jobs` (being built; replaced by its owner)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Register nothing yet."""
