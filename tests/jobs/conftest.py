"""Scheduling tests run in a fresh working directory each.

A job's checkpoint and state directories default to ``$CWD/.lowcarb/jobs``: without this, tests
that submit jobs without ``cwd=`` would leave them in the checkout.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _in_tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
