"""Where a green-window sensor's forecasts come from, as plain data a trigger can carry.

The choices are those of ``lowcarb plan``: the embedded month x hour-of-day profile (offline, the
default), a trace file replayed as of the decision time (``trace``, with a forecast ``model``), or
a live provider (``provider``; credentials from the environment). A failed provider forecast falls
back to a labelled plan, as in ``lowcarb plan``; a trace that cannot forecast is bad input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lowcarb.errors import InvalidValueError, UsageError
from lowcarb.grid import (
    PROVIDER_NAMES,
    IntensitySource,
    TraceIntensitySource,
    forecaster_names,
    load_trace_table,
    lookup_zone,
    make_forecaster,
    open_provider,
)
from lowcarb.scheduling import OnForecastError, ProfileSource

__all__ = ["ForecastSpec"]

_DEFAULT_TRACE_MODEL = "profile-blend"  # the planning default of `lowcarb plan --trace`


@dataclass(frozen=True, slots=True)
class ForecastSpec:
    """The forecast source: the embedded profile, a trace file, or a live provider.

    Attributes:
        trace: A trace CSV (any of the three trace formats) replayed as of the decision time.
        provider: A live provider name (``electricitymaps``, ``watttime``, ``ukci``).
        model: The forecast model for a trace (default ``profile-blend``).
    """

    trace: str | None = None
    provider: str | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        if self.trace is not None and self.provider is not None:
            raise UsageError(
                f"give either trace= or provider=, not both (got trace={self.trace!r}, "
                f"provider={self.provider!r})"
            )
        if self.trace is not None and not str(self.trace).strip():
            raise InvalidValueError("trace= is empty; give a trace CSV path or leave it out")
        if self.provider is not None and self.provider not in PROVIDER_NAMES:
            raise UsageError(
                f"unknown provider {self.provider!r}; choose one of {', '.join(PROVIDER_NAMES)}"
            )
        if self.model is not None:
            if self.model not in forecaster_names():
                raise InvalidValueError(
                    f"unknown forecast model {self.model!r}; choose one of "
                    f"{list(forecaster_names())}"
                )
            if self.trace is None and self.model != "profile":
                raise UsageError(
                    f"forecast_model={self.model!r} needs trace= (history to fit it on)"
                )

    @property
    def label(self) -> str:
        """``profile``, ``trace:<file name>`` or ``provider:<name>``, for records and logs."""
        if self.trace is not None:
            return f"trace:{Path(self.trace).name}"
        if self.provider is not None:
            return f"provider:{self.provider}"
        return "profile"

    @property
    def on_error(self) -> OnForecastError:
        """What a first plan does when no forecast can be had (as ``lowcarb plan``)."""
        return "raise" if self.trace is not None else "start-now"

    def open(self, zone: str, *, environ: Mapping[str, str]) -> IntensitySource:
        """The intensity source for ``zone``.

        Raises:
            UnknownZoneError: An unknown zone (with suggestions).
            TraceFormatError: An unreadable trace.
            UsageError: Missing provider credentials.
        """
        if self.provider is not None:
            return open_provider(self.provider, environ)
        if self.trace is None:
            lookup_zone(zone)  # an unknown zone fails here, with suggestions
            return ProfileSource()
        model = make_forecaster(self.model or _DEFAULT_TRACE_MODEL)
        return TraceIntensitySource(load_trace_table(self.trace), forecaster=model)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (``label`` included, for readers of a record)."""
        return {
            "trace": self.trace,
            "provider": self.provider,
            "model": self.model,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ForecastSpec:
        """The spec :meth:`to_dict` described (``label`` is derived, and ignored).

        Raises:
            UsageError: A contradictory or unknown choice.
        """

        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        return cls(trace=text("trace"), provider=text("provider"), model=text("model"))
