"""Where a response's numbers came from, said in headers (the SDK's JSON has no field for it).

Every answer of the SDK-compatible API carries:

* ``X-Lowcarb-Source``: the data behind the numbers, e.g.
  ``trace:em2022_lca_hourly_123zones.csv[US-MIDA-PJM]``, ``profile:electricitymaps-2022`` (the
  embedded month x hour table) or ``forecast:profile-blend(14d)``;
* ``X-Lowcarb-Data-Kind``: ``measured``, ``estimated`` or ``forecast``;
* ``X-Lowcarb-Signal``: ``average/lifecycle`` (or ``marginal``, ``direct``): the SDK's values
  from WattTime are marginal, lowcarb's average, and the two are not interchangeable;
* ``X-Lowcarb-Zones``: each location and the zone that answered it (``eastus=US-MIDA-PJM``);
* ``X-Lowcarb-Note``: caveats, e.g. a time sent without an offset and read as UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lowcarb.grid import IntensitySeries
from lowcarb.reporting.carbonaware._locations import SdkLocation

__all__ = ["UNIT", "Provenance"]

#: The unit of every ``rating``, ``value`` and ``carbonIntensity`` (the SDK's unit too).
UNIT = "gCO2e/kWh"
_MAX_HEADER_CHARS = 1000
_UNSAFE = re.compile(r"[^\x20-\x7e]")


def _header(values: list[str]) -> str:
    text = _UNSAFE.sub("?", ", ".join(values))
    return text if len(text) <= _MAX_HEADER_CHARS else text[: _MAX_HEADER_CHARS - 3] + "..."


@dataclass
class Provenance:
    """Collects the provenance of one response (not thread safe: one per request)."""

    sources: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    zones: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @staticmethod
    def _add(values: list[str], value: str) -> None:
        if value not in values:
            values.append(value)

    def location(self, loc: SdkLocation) -> None:
        """Record which zone answers ``loc``."""
        self._add(self.zones, f"{loc.name}={loc.zone_id}")

    def series(self, series: IntensitySeries) -> None:
        """Record the provenance of a series the response was computed from."""
        self._add(self.sources, series.source)
        self._add(self.kinds, series.kind)
        self._add(self.signals, f"{series.signal}/{series.scope}")

    def note(self, text: str) -> None:
        """Record a caveat."""
        self._add(self.notes, text)

    def headers(self) -> dict[str, str]:
        """The ``X-Lowcarb-*`` headers (only those with something to say)."""
        out = {"X-Lowcarb-Unit": UNIT}
        for name, values in (
            ("X-Lowcarb-Source", self.sources),
            ("X-Lowcarb-Data-Kind", self.kinds),
            ("X-Lowcarb-Signal", self.signals),
            ("X-Lowcarb-Zones", self.zones),
            ("X-Lowcarb-Note", self.notes),
        ):
            if values:
                out[name] = _header(values)
        return out
