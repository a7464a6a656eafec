"""SIGTERM drains a real ``lowcarb serve``: the request in flight completes and the exit is 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sigterm_lets_the_request_in_flight_finish(iris_onnx: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "LOWCARB_LEDGER": "", "PYTHONUNBUFFERED": "1"}
    # A long batch wait keeps a lone request in flight long enough to signal during it.
    argv = [sys.executable, "-m", "lowcarb", "serve", str(iris_onnx), "--port", str(port)]
    argv += ["--zone", "FR", "--batch-wait-ms", "1500"]
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1].decode()
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.1)
        result: dict[str, Any] = {}

        def call() -> None:
            r = httpx.post(f"{base}/predict", json={"rows": [[5.1, 3.5, 1.4, 0.2]]}, timeout=30)
            result["status"], result["body"] = r.status_code, r.json()

        t = threading.Thread(target=call)
        started = time.monotonic()
        t.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        t.join(30)
        assert result["status"] == 200, result
        assert result["body"]["predictions"] == [0]
        assert time.monotonic() - started >= 1.4  # it really was in flight at the signal
        assert proc.wait(timeout=30) == 0, proc.communicate()[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
