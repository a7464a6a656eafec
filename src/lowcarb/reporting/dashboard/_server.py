"""Run the dashboard under uvicorn (``lowcarb dashboard``)."""

from __future__ import annotations

from typing import Any

__all__ = ["run_dashboard"]


def run_dashboard(app: Any, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``app`` (from :func:`create_dashboard_app`) until SIGINT/SIGTERM.

    Args:
        app: The FastAPI app.
        host: Interface to bind (loopback by default: see the access rules in ``_auth``).
        port: TCP port.
    """
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
