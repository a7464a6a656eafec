# ruff: noqa: N815  (field names are the SDK's JSON names, camelCase on the wire, kept exactly)
"""The Carbon Aware SDK's JSON shapes, as pydantic models with the SDK's field names exactly.

Each model mirrors one class of the SDK's WebAPI (``src/CarbonAware.WebApi/src/Models`` and
``GSF.CarbonAware.Models.EmissionsData`` in Green-Software-Foundation/carbon-aware-sdk) as its
``System.Text.Json`` output looks: camelCase names, ``DateTimeOffset`` values written in UTC as
``2022-01-01T04:00:00+00:00``, a ``TimeSpan`` as ``"01:00:00"``. Times are strings here so that
they are written exactly that way (see :func:`format_time`).

Units: ``rating``, ``value`` and ``carbonIntensity`` are grams of CO2e per kWh, the SDK's unit.
lowcarb's values are *average* intensities (Electricity Maps data, life-cycle scope unless a trace
says otherwise), not the *marginal* ones the SDK gives with WattTime: a response says which in its
``X-Lowcarb-Signal`` header, and the two are not interchangeable.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CarbonIntensityBatchParametersDTO",
    "CarbonIntensityDTO",
    "EmissionsData",
    "EmissionsDataDTO",
    "EmissionsForecastBatchParametersDTO",
    "EmissionsForecastDTO",
    "ValidationProblemDetails",
]

DateTimeText = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
_EXAMPLE_TIME = "2022-03-01T15:30:00Z"


class _Dto(BaseModel):
    model_config = ConfigDict(frozen=True)


class EmissionsData(_Dto):
    """One observed value (``GET /emissions/bylocation(s)``, ``/bylocations/best``)."""

    location: str = Field(description="The location as requested.", examples=["eastus"])
    time: DateTimeText = Field(description="Start of the interval (UTC).")
    rating: float = Field(description="Carbon intensity, gCO2e/kWh.", examples=[359.23])
    duration: str = Field(
        description="Length of the interval as a .NET TimeSpan (hh:mm:ss).",
        json_schema_extra={"format": "time-span"},
        examples=["01:00:00"],
    )


class EmissionsDataDTO(_Dto):
    """One forecast point (``forecastData`` and ``optimalDataPoints`` of a forecast)."""

    location: str = Field(description="The zone the values are for.", examples=["US-MIDA-PJM"])
    timestamp: DateTimeText = Field(description="Start of the window (UTC).")
    duration: int = Field(description="Length of the window, minutes.", examples=[30])
    value: float = Field(description="Mean forecast intensity over the window, gCO2e/kWh.")


class EmissionsForecastDTO(_Dto):
    """A forecast with its optimal window (``/emissions/forecasts/current`` and ``/batch``)."""

    generatedAt: DateTimeText = Field(description="When the forecast was issued (UTC).")
    requestedAt: DateTimeText = Field(description="The time the forecast was asked for (UTC).")
    location: str = Field(description="The location as requested.", examples=["eastus"])
    dataStartAt: DateTimeText = Field(description="Start of the forecast data used (UTC).")
    dataEndAt: DateTimeText = Field(description="End of the forecast data used (UTC).")
    windowSize: int = Field(description="The workload's duration, minutes (0: one data point).")
    optimalDataPoints: list[EmissionsDataDTO] | None = Field(
        description="The lowest-carbon window, from lowcarb's planner (empty if none fits)."
    )
    forecastData: list[EmissionsDataDTO] | None = Field(
        description="Forecast points, or windowSize-long rolling means, in time order."
    )


class CarbonIntensityDTO(_Dto):
    """The average intensity over a period (``/emissions/average-carbon-intensity``)."""

    location: str | None = Field(description="The location as requested.", examples=["eastus"])
    startTime: DateTimeText | None = Field(description="Start of the period (UTC).")
    endTime: DateTimeText | None = Field(description="End of the period (UTC).")
    carbonIntensity: float = Field(
        description="Time-weighted mean intensity over the period, gCO2e/kWh.",
        examples=[345.434],
    )


class CarbonIntensityBatchParametersDTO(_Dto):
    """One item of ``POST /emissions/average-carbon-intensity/batch`` (documentation only)."""

    location: str | None = Field(default=None, examples=["eastus"])
    startTime: DateTimeText | None = Field(default=None, examples=[_EXAMPLE_TIME])
    endTime: DateTimeText | None = Field(default=None, examples=["2022-03-01T18:30:00Z"])


class EmissionsForecastBatchParametersDTO(_Dto):
    """One item of ``POST /emissions/forecasts/batch`` (documentation only)."""

    requestedAt: DateTimeText | None = Field(default=None, examples=["2022-06-01T12:01:00Z"])
    location: str | None = Field(default=None, examples=["eastus"])
    dataStartAt: DateTimeText | None = Field(default=None, examples=["2022-06-01T14:00:00Z"])
    dataEndAt: DateTimeText | None = Field(default=None, examples=["2022-06-01T18:00:00Z"])
    windowSize: int | None = Field(default=None, examples=[30])


class ValidationProblemDetails(_Dto):
    """ASP.NET's ``ValidationProblemDetails`` (RFC 9457 problem details), the SDK's error body."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str | None = None
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    instance: str | None = None
    errors: dict[str, list[str]] = Field(default_factory=dict)
