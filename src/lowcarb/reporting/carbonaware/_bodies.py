"""JSON bodies of the SDK's batch endpoints: read within bounds, checked item by item.

A body must be a JSON array of objects (``System.Text.Json`` rules: no ``NaN``, times in strict
ISO 8601); errors are keyed by the item's JSON path (``$[1].startTime``), as ASP.NET keys them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import Request

from lowcarb.reporting.carbonaware._errors import SdkProblemError, about
from lowcarb.reporting.carbonaware._locations import SdkLocation
from lowcarb.reporting.carbonaware._params import (
    AverageQuery,
    CarbonAwareLimits,
    ForecastQuery,
    average_of,
    check_order,
    locations_of,
    noted,
    window_minutes,
)
from lowcarb.reporting.carbonaware._provenance import Provenance
from lowcarb.reporting.carbonaware._times import parse_body_time

__all__ = ["average_items", "forecast_items", "read_json_array"]


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


async def read_json_array(
    request: Request, *, key: str, limits: CarbonAwareLimits
) -> list[dict[str, Any]]:
    """The body as a JSON array of objects, within the size and item limits.

    Raises:
        SdkProblemError: 413 past ``max_body_bytes``; 400 for an empty body, invalid JSON, not an
            array of objects, or more than ``max_batch_items`` items.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise SdkProblemError(413, _too_large(int(declared), limits))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limits.max_body_bytes:
            raise SdkProblemError(413, _too_large(size, limits))
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise SdkProblemError.bad(
            key, "A non-empty request body is required: a JSON array of items"
        )
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        shown = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise SdkProblemError.bad(
            key, f"the body is not valid JSON ({shown}); send a JSON array"
        ) from None
    if not isinstance(data, list):
        raise SdkProblemError.bad(
            key, f"the body is a JSON {type(data).__name__}; send a JSON array"
        )
    if len(data) > limits.max_batch_items:
        raise SdkProblemError.bad(
            key,
            f"{len(data)} items in one batch; at most {limits.max_batch_items}: split the batch",
        )
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise SdkProblemError.bad(f"$[{i}]", f"item {i} is not a JSON object")
    return data


def _too_large(size: int, limits: CarbonAwareLimits) -> str:
    return (
        f"the body has {size} bytes or more; at most {limits.max_body_bytes}: send fewer items "
        "per batch"
    )


def _body_time(item: Mapping[str, Any], i: int, field: str, prov: Provenance) -> datetime | None:
    raw = item.get(field)
    if raw is None:
        return None
    key = f"$[{i}].{field}"
    with about(key):
        parsed = parse_body_time(raw, what=key)
    return noted(parsed, key, prov)


def _body_location(
    item: Mapping[str, Any], i: int, limits: CarbonAwareLimits, prov: Provenance
) -> SdkLocation:
    raw = item.get("location")
    key = f"$[{i}].location"
    if raw is not None and not isinstance(raw, str):
        raise SdkProblemError.bad(key, f"{key} must be a string such as 'eastus', got {raw!r:.60}")
    return locations_of([raw or ""], limits, prov, key=key)[0]


def forecast_items(
    items: Sequence[Mapping[str, Any]], *, limits: CarbonAwareLimits, prov: Provenance
) -> list[ForecastQuery]:
    """The items of ``POST /emissions/forecasts/batch``.

    Raises:
        SdkProblemError: A missing ``location`` or ``requestedAt``, a value of the wrong type,
            a time that is not strict ISO 8601, an inverted range.
    """
    out = []
    for i, item in enumerate(items):
        location = _body_location(item, i, limits, prov)
        requested = _body_time(item, i, "requestedAt", prov)
        if requested is None:
            raise SdkProblemError.bad(
                f"$[{i}].requestedAt",
                f"$[{i}].requestedAt is not set; give the time the forecast is for, e.g. "
                "2022-06-01T12:00:00Z",
            )
        start = _body_time(item, i, "dataStartAt", prov)
        end = _body_time(item, i, "dataEndAt", prov)
        check_order(start, end, (f"$[{i}].dataStartAt", f"$[{i}].dataEndAt"))
        window = window_minutes(item.get("windowSize"), f"$[{i}].windowSize")
        out.append(ForecastQuery(location, requested, start, end, window))
    return out


def average_items(
    items: Sequence[Mapping[str, Any]], *, limits: CarbonAwareLimits, prov: Provenance
) -> list[AverageQuery]:
    """The items of ``POST /emissions/average-carbon-intensity/batch``.

    Raises:
        SdkProblemError: A missing ``location``, ``startTime`` or ``endTime``, a value of the wrong
            type, a time that is not strict ISO 8601, an inverted or oversized period.
    """
    out = []
    for i, item in enumerate(items):
        location = _body_location(item, i, limits, prov)
        start = _body_time(item, i, "startTime", prov)
        end = _body_time(item, i, "endTime", prov)
        keys = (f"$[{i}].startTime", f"$[{i}].endTime")
        out.append(average_of(location, start, end, limits, keys))
    return out
