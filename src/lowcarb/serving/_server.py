"""Run a serving app under uvicorn, draining gracefully on SIGTERM/SIGINT.

On the signal uvicorn stops accepting connections and waits for requests in flight; the app's
``/readyz`` answers 503 from that moment, so a load balancer stops sending it work. A drained stop
on SIGTERM exits 0; SIGINT still ends as an interrupt (130).
"""

from __future__ import annotations

import signal
from typing import Any

from lowcarb.serving._app import ServingState

__all__ = ["run_server"]


def run_server(
    app: Any, *, host: str = "127.0.0.1", port: int = 8080, graceful_timeout_s: float = 30.0
) -> None:
    """Serve ``app`` (from :func:`~lowcarb.serving.create_app`) until SIGTERM/SIGINT.

    Args:
        app: The FastAPI app.
        host: Interface to bind.
        port: TCP port to bind.
        graceful_timeout_s: Longest wait for requests in flight after the signal, seconds.
    """
    import uvicorn

    state: ServingState = app.state.lowcarb

    class _DrainingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            state.draining = True
            super().handle_exit(sig, frame)
            if sig == signal.SIGTERM:
                # A drained stop on SIGTERM is a success (exit 0): uvicorn would re-raise the
                # signal after shutting down, and the process would die of it instead.
                self._captured_signals = [s for s in self._captured_signals if s != sig]

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=int(graceful_timeout_s),
        access_log=False,
    )
    _DrainingServer(config).run()
