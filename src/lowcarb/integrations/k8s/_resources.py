"""The CPU and memory a container asks for and may use, shared by the serve Deployment
(:mod:`._serve`) and the batch Job (:mod:`._batch`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lowcarb.errors import InvalidValueError

__all__ = ["Resources", "check_requests_within_limits"]

#: Kubernetes quantities, e.g. ``250m``, ``1``, ``512Mi``, ``1.5Gi``.
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


@dataclass(frozen=True)
class Resources:
    """CPU and memory requests and limits of the server container (Kubernetes quantities)."""

    cpu_request: str = "250m"
    memory_request: str = "512Mi"
    cpu_limit: str = "1"
    memory_limit: str = "1Gi"

    def __post_init__(self) -> None:
        for key in ("cpu_request", "memory_request", "cpu_limit", "memory_limit"):
            value = getattr(self, key)
            if not isinstance(value, str) or not _QUANTITY.fullmatch(value):
                raise InvalidValueError(
                    f"{key}={value!r} is not a Kubernetes quantity: use e.g. '250m', '1', '512Mi'"
                )


def check_requests_within_limits(
    res: Resources, *, request_flag: str = "--{}-request", limit_flag: str = "--{}-limit"
) -> None:
    """The API server refuses a container whose request is above its limit ("must be less than
    or equal to cpu limit"): say so before anything is written. ``request_flag`` and
    ``limit_flag`` name the options to change, ``{}`` standing for ``cpu`` or ``memory``."""
    from lowcarb.integrations.k8s._pod_energy import parse_quantity

    for kind, request, limit in (
        ("cpu", res.cpu_request, res.cpu_limit),
        ("memory", res.memory_request, res.memory_limit),
    ):
        wanted = parse_quantity(request, what=f"{kind}_request")
        allowed = parse_quantity(limit, what=f"{kind}_limit")
        if wanted > allowed * (1 + 1e-9):  # the tolerance only absorbs float rounding
            raise InvalidValueError(
                f"{kind} request {request!r} is above its limit {limit!r}, which the API server "
                f"refuses: lower the request ({request_flag.format(kind)}) or raise the limit "
                f"({limit_flag.format(kind)})"
            )
