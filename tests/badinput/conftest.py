"""Fixtures of the bad-input suite (the harness lives in badinput_harness.py)."""

from badinput_harness import world

__all__ = ["world"]
