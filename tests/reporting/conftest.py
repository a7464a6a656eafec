"""Fixtures shared by the reporting tests: a real browser (Playwright driving Debian's Chromium).

Chromium is launched through Playwright's ``executable_path`` (Playwright's own browser download
cannot be reached; ``.ci/run`` installs Debian's ``chromium`` when missing). Without it, or
without the ``playwright`` package, the browser tests skip with the reason, unless
``LOWCARB_REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("LOWCARB_CHROMIUM", "/usr/bin/chromium"))


def browser_unavailable() -> str | None:
    """Why no browser test can run here, or None when one can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install 'lowcarb[dev]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (one per test module: Playwright's sync API owns an event loop)."""
    reason = browser_unavailable()
    if reason is not None:
        if os.environ.get("LOWCARB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"LOWCARB_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            yield b
        finally:
            b.close()
