"""The registry of forecast models by name: what ``--model`` (``--forecaster``) chooses.

``lowcarb intensity forecast``, ``lowcarb plan``, ``lowcarb backtest`` and the job worker all
build their model here. Every entry is a :class:`Forecaster` with its default settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from lowcarb.errors import InvalidValueError
from lowcarb.grid._forecast import Forecaster, SeasonalNaiveForecaster
from lowcarb.grid._forecast_blend import ProfileBlendForecaster
from lowcarb.grid._forecast_ridge import LagRidgeForecaster
from lowcarb.grid._profiles import ProfileForecaster

__all__ = ["FORECAST_MODELS", "forecaster_names", "make_forecaster"]

#: Model name -> factory of the model with its default settings (read-only).
FORECAST_MODELS: Mapping[str, Callable[[], Forecaster]] = MappingProxyType(
    {
        "profile-blend": ProfileBlendForecaster,
        "lag-ridge": LagRidgeForecaster,
        "seasonal-naive": SeasonalNaiveForecaster,
        "profile": ProfileForecaster,
    }
)


def forecaster_names() -> tuple[str, ...]:
    """The registered model names, the planning default (``profile-blend``) first."""
    return tuple(FORECAST_MODELS)


def make_forecaster(name: str) -> Forecaster:
    """A new forecaster of the model ``name`` with its default settings.

    Raises:
        InvalidValueError: Unknown name (the message lists the known ones).
    """
    factory = FORECAST_MODELS.get(name)
    if factory is None:
        raise InvalidValueError(
            f"unknown forecast model {name!r}; choose one of {list(FORECAST_MODELS)}"
        )
    return factory()
