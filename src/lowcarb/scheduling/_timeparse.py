"""Durations and times for scheduling: the one parser of :mod:`lowcarb.units`, re-exported."""

from __future__ import annotations

from lowcarb.units import parse_duration_h
from lowcarb.units import parse_timestamp as parse_time

__all__ = ["parse_duration_h", "parse_time"]
