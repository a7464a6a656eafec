"""The job store conformance suite: what every :class:`~lowcarb.jobs.JobStore` backend passes.

Like Optuna's ``optuna/testing/pytest_storages.py``: the tests live in the library, so a new
backend (or a deployment's own database) is checked by the same contract. Subclass
:class:`JobStoreConformance` in a test module and give it a ``job_store_url`` fixture; lowcarb's
own suite runs it against SQLite and PostgreSQL::

    import pytest
    from lowcarb.jobs.testing import JobStoreConformance

    class TestSqliteJobStore(JobStoreConformance):
        @pytest.fixture
        def job_store_url(self, tmp_path):
            return f"sqlite:///{tmp_path / 'ledger.db'}"

The URL must name a fresh, empty database per test. Needs ``pytest`` (a test dependency).

Besides the contract of each operation, the suite checks the queue as a whole: fair claims
(deadlines first, then round-robin between teams), what falls due when, the columns the store
keeps, leases that lapse and fence their old worker, and real worker processes killed with
SIGKILL at random points (:func:`run_queue_worker` is such
a worker; ``benchmarks/job_queue.py`` runs it at scale).
"""

from __future__ import annotations

from lowcarb.jobs._testing_fixtures import T0, sample_spec
from lowcarb.jobs._testing_operations import OperationsConformance
from lowcarb.jobs._testing_queue import QueueConformance
from lowcarb.jobs._testing_worker import queue_worker_command, read_queue_log, run_queue_worker

__all__ = [
    "T0",
    "JobStoreConformance",
    "queue_worker_command",
    "read_queue_log",
    "run_queue_worker",
    "sample_spec",
]


# pytest runs a base class's tests first (reverse MRO): the operations, then the queue.
class JobStoreConformance(QueueConformance, OperationsConformance):
    """The contract of a job store, as pytest tests (subclass it; see the module docstring)."""
