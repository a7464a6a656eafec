"""Run a serving app under uvicorn, draining gracefully on SIGTERM/SIGINT.

On the signal uvicorn stops accepting connections and waits for requests in flight; the app's
``/readyz`` answers 503 from that moment, so a load balancer stops sending it work. A drained stop
on SIGTERM exits 0; SIGINT still ends as an interrupt (130).
"""

from __future__ import annotations

import errno
import signal
import socket
from typing import Any

from lowcarb.errors import UsageError
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

    Raises:
        UsageError: the address cannot be bound (in use, not this machine's, no permission),
            before the app starts.
    """
    import uvicorn

    # The socket is bound here, not inside uvicorn: a port in use is then a one-line error
    # (exit 2) naming the fix, not uvicorn's log line and its own exit status 3.
    sock = bind_socket(host, port)

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
    try:
        _DrainingServer(config).run(sockets=[sock])
    finally:
        sock.close()


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6, as ``host`` resolves)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError) as exc:
        raise UsageError(f"--host {host!r} is not an address of this machine ({exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
        sock.set_inheritable(True)
    except OSError as exc:
        sock.close()
        fix = (
            "stop what uses it, or choose another with --port"
            if exc.errno == errno.EADDRINUSE
            else "check --host and --port"
        )
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; {fix}") from None
    return sock
