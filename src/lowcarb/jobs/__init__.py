"""lowcarb.jobs: the job store and the worker that runs its jobs at their low-carbon times.

* The store: :func:`open_job_store` opens the jobs kept in the ledger database (table
  ``lowcarb_jobs``, created by the ledger's migrations; SQLite by default, PostgreSQL for a team
  sharing workers). :class:`JobStore` owns the operations: :meth:`~JobStore.submit` (a job built
  by the planner's :func:`lowcarb.scheduling.build_job_spec`), :meth:`~JobStore.cancel`,
  :meth:`~JobStore.list_jobs`, :meth:`~JobStore.get`, exactly-once :meth:`~JobStore.claim`
  (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), versioned :meth:`~JobStore.update`,
  :meth:`~JobStore.heartbeat`. :class:`Job` is a row snapshot.
* The worker: :class:`Worker` (configured by :class:`WorkerConfig`) plans jobs with
  :mod:`lowcarb.scheduling`, starts them on time, pauses and resumes interruptible ones through
  the checkpoint protocol, measures every run, appends it to the ledger and survives restarts;
  :class:`ReplayClock` replays time faster for traces and demos.
* :mod:`lowcarb.jobs.testing`: the conformance suite every job store backend passes.

Modules: ``_job`` (row type, table description), ``_store`` (the store), ``_worker`` (the loop),
``_supervisor`` (one run, paused and recorded), ``_jobrun`` (clocks, trackers, processes),
``_jobwrap`` (the wrapper script each job runs under), ``_reconcile`` (runs that ended unwatched).
"""

from lowcarb.jobs._job import ACTIVE_STATES, Job, JobState
from lowcarb.jobs._jobrun import ReplayClock
from lowcarb.jobs._store import CANCELLABLE_STATES, JobStore, open_job_store
from lowcarb.jobs._worker import Worker, WorkerConfig

__all__ = [
    "ACTIVE_STATES",
    "CANCELLABLE_STATES",
    "Job",
    "JobState",
    "JobStore",
    "ReplayClock",
    "Worker",
    "WorkerConfig",
    "open_job_store",
]
