"""Open a live provider by name, with credentials from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from lowcarb.errors import UsageError
from lowcarb.grid._electricitymaps import ElectricityMapsSource
from lowcarb.grid._http import DiskCache, JsonFetcher, default_cache_dir
from lowcarb.grid._live import LiveIntensitySource
from lowcarb.grid._ukci import UKCarbonIntensitySource
from lowcarb.grid._watttime import WattTimeSource

__all__ = ["PROVIDER_NAMES", "ProviderName", "open_provider"]

ProviderName = Literal["electricitymaps", "watttime", "ukci"]
PROVIDER_NAMES: tuple[ProviderName, ...] = ("electricitymaps", "watttime", "ukci")


def open_provider(provider: str, environ: Mapping[str, str]) -> LiveIntensitySource:
    """The live source named ``provider`` (HTTP with retries and an on-disk cache).

    Credentials: ``ELECTRICITYMAPS_API_TOKEN``; ``WATTTIME_USERNAME`` and ``WATTTIME_PASSWORD``;
    the UK Carbon Intensity API needs none.

    Raises:
        UsageError: Unknown provider or missing credentials.
    """
    if provider not in PROVIDER_NAMES:
        raise UsageError(
            f"unknown provider {provider!r}; choose one of {', '.join(PROVIDER_NAMES)}"
        )
    fetcher = JsonFetcher(provider, cache=DiskCache(default_cache_dir(environ)))
    if provider == "electricitymaps":
        token = environ.get("ELECTRICITYMAPS_API_TOKEN", "")
        if not token:
            raise UsageError("--provider electricitymaps needs ELECTRICITYMAPS_API_TOKEN set")
        return ElectricityMapsSource(token, fetcher=fetcher)
    if provider == "watttime":
        # WattTime's own SDK reads WATTTIME_USER; lowcarb's documented name is WATTTIME_USERNAME.
        user = environ.get("WATTTIME_USERNAME") or environ.get("WATTTIME_USER", "")
        password = environ.get("WATTTIME_PASSWORD", "")
        if not user or not password:
            raise UsageError(
                "--provider watttime needs WATTTIME_USERNAME and WATTTIME_PASSWORD set "
                "(WattTime's SDK name WATTTIME_USER works too)"
            )
        return WattTimeSource(user, password, fetcher=fetcher)
    return UKCarbonIntensitySource(fetcher=fetcher)
