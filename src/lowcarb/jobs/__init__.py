"""lowcarb.jobs: the job store and the worker that runs its jobs at their low-carbon times.

* The store: :func:`open_job_store` opens the jobs kept in the ledger database (table
  ``lowcarb_jobs``, created by the ledger's migrations; SQLite by default, PostgreSQL for a team
  sharing workers). :class:`JobStore` owns the operations: :meth:`~JobStore.submit` (a job built
  by the planner's :func:`lowcarb.scheduling.build_job_spec`), :meth:`~JobStore.cancel`,
  :meth:`~JobStore.list_jobs`, :meth:`~JobStore.get`, exactly-once :meth:`~JobStore.claim`
  and :meth:`~JobStore.claim_next` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; read from indexes,
  whatever the history), versioned :meth:`~JobStore.update`, :meth:`~JobStore.heartbeat`, and
  :meth:`~JobStore.due_outlook` (a :class:`DueOutlook`: what is due, and when next).
  :class:`Job` is a row snapshot.
* The worker: :class:`Worker` (configured by :class:`WorkerConfig`) plans jobs with
  :mod:`lowcarb.scheduling`, starts them on time, pauses and resumes interruptible ones through
  the checkpoint protocol, measures every run, appends it to the ledger and survives restarts;
  :class:`ReplayClock` replays time faster for traces and demos.
* :mod:`lowcarb.jobs.testing`: the conformance suite every job store backend passes.

Modules: ``_job`` (row type, table description, states), ``_store`` (the store), ``_store_sql``
(its transactions and statements), ``_worker`` (the loop), ``_worker_config`` (its settings),
``_clock_check`` (its start-up clock check), ``_supervisor`` (one run, paused and recorded),
``_running`` (a run a worker holds, and its claim), ``_wrapper_command`` (a run's command line and
the checkpoint protocol), ``_run_result`` (how a wrapper says its run ended), ``_jobrun`` (clocks,
trackers, processes), ``_jobwrap`` (the wrapper script each job runs under, which holds its run's
lease), ``_reconcile`` (runs that ended unwatched), ``_fair`` (the claim's order and SQL),
``_testing_*`` (the parts of :mod:`lowcarb.jobs.testing`).
"""

from lowcarb.jobs._fair import DueOutlook
from lowcarb.jobs._job import ACTIVE_STATES, CANCELLABLE_STATES, Job, JobState
from lowcarb.jobs._jobrun import ReplayClock
from lowcarb.jobs._store import JobStore, open_job_store
from lowcarb.jobs._worker import Worker, WorkerConfig

__all__ = [
    "ACTIVE_STATES",
    "CANCELLABLE_STATES",
    "DueOutlook",
    "Job",
    "JobState",
    "JobStore",
    "ReplayClock",
    "Worker",
    "WorkerConfig",
    "open_job_store",
]
