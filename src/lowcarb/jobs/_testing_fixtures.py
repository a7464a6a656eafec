"""What the job store conformance suite is built on: its time, its jobs and the store under test.

Re-exported by :mod:`lowcarb.jobs.testing` (:data:`T0`, :func:`sample_spec`); the suite's two
halves, :mod:`._testing_operations` and :mod:`._testing_queue`, share :class:`StoreFixtures`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lowcarb.jobs._store import JobStore, open_job_store
from lowcarb.scheduling import JobSpec

__all__ = ["T0", "StoreFixtures", "sample_spec"]

#: The submission time of the suite's jobs.
T0 = datetime(2022, 3, 1, 10, tzinfo=UTC)
_H = timedelta(hours=1)


def sample_spec(*, duration_h: float = 1.0, deadline_h: float = 5.0) -> JobSpec:
    """A job of ``duration_h`` hours due ``deadline_h`` hours after :data:`T0`."""
    return JobSpec(duration_h=duration_h, deadline=T0 + deadline_h * _H)


class StoreFixtures:
    """The store under test, for the suite's classes (a subclass gives ``job_store_url``)."""

    @pytest.fixture
    def job_store_url(self) -> str:
        """A URL to a fresh, empty database (override in the subclass)."""
        raise NotImplementedError("give the suite a job_store_url fixture")

    @pytest.fixture
    def store(self, job_store_url: str) -> Iterator[JobStore]:
        """The store under test, closed afterwards."""
        with open_job_store(job_store_url, environ={}) as opened:
            yield opened

    def _submit(self, store: JobStore, tmp_path: Path) -> str:
        return store.submit(["true"], sample_spec(), zones=["DE"], now=T0, cwd=tmp_path).id
