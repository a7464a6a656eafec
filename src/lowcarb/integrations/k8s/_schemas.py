"""The vendored CRD schemas (``schemas/``, see SOURCES.md) the custom objects validate against."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from lowcarb.errors import DataError, UnknownNameError

__all__ = ["crd_schema"]

#: apiVersion and kind -> the vendored CRD (converted from the project's YAML to JSON).
_CRDS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_scaledobjects.json",
    (
        "carbonaware.kubernetes.azure.com/v1alpha1",
        "CarbonAwareKedaScaler",
    ): "carbonaware.kubernetes.azure.com_carbonawarekedascalers.json",
}


def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The ``openAPIV3Schema`` of a custom resource this package emits (a JSON Schema subset).

    Raises:
        UnknownNameError: no CRD is vendored for that apiVersion and kind.
        DataError: the vendored file does not hold that version (a packaging bug).
    """
    filename = _CRDS.get((api_version, kind))
    if filename is None:
        known = [f"{a} {k}" for a, k in _CRDS]
        raise UnknownNameError(f"{api_version} {kind}", known, hint="no CRD vendored for it")
    crd = json.loads(files(__package__).joinpath("schemas", filename).read_text("utf-8"))
    group, _, version = api_version.partition("/")
    if crd["spec"]["group"] != group or crd["spec"]["names"]["kind"] != kind:
        raise DataError(f"{filename} does not define {api_version!r} {kind!r}")
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            schema: dict[str, Any] = entry["schema"]["openAPIV3Schema"]
            return schema
    raise DataError(f"{filename} has no version {version!r}")
