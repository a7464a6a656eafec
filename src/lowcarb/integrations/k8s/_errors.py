"""Errors of the Kubernetes integration, under the one root :class:`lowcarb.errors.LowcarbError`.

::

    LowcarbError
    └── ClusterError               the API server refused a request (status and reason quoted)
        ├── ClusterUnreachableError  no answer from the API server, or no usable kubeconfig
        └── LeaseLostError           another controller holds the Lease: this one stopped releasing

Each message is one line naming the problem and the fix; the CLI exits with status 2.
"""

from __future__ import annotations

from lowcarb.errors import LowcarbError

__all__ = ["ClusterError", "ClusterUnreachableError", "LeaseLostError"]


class ClusterError(LowcarbError):
    """The Kubernetes API server refused a request."""


class ClusterUnreachableError(ClusterError):
    """The Kubernetes API server cannot be reached (or no kubeconfig says where it is)."""


class LeaseLostError(ClusterError):
    """The controller lost its Lease: it stopped releasing at once (a standby takes over)."""
