"""The command line a job's run starts with: its command under the job wrapper
(:mod:`._jobwrap`), with the checkpoint protocol's variables.

Checkpoint protocol (what a job sees): ``LOWCARB_JOB_ID``; ``LOWCARB_CHECKPOINT_DIR``, a
directory kept across pauses; ``LOWCARB_JOB_RESUMED`` (``1`` when resuming); and
``LOWCARB_JOB_ATTEMPT``. On SIGTERM a job saves its state there and exits (any status but 0; 0
means "finished"); when run again with ``LOWCARB_JOB_RESUMED=1`` it continues from it.
"""

from __future__ import annotations

import os
import sys

from lowcarb.jobs._job import Job
from lowcarb.jobs._jobwrap import SCRIPT as JOBWRAP

__all__ = ["checkpoint_dir", "wrapper_argv"]


def checkpoint_dir(job: Job) -> str:
    """The directory ``job`` keeps its checkpoint in, across pauses."""
    return os.path.join(job.state_dir, "checkpoint")


def wrapper_argv(job: Job, *, lease: str) -> list[str]:
    """The argv that runs ``job``'s command under the wrapper, which holds the run's lease
    (``lease``: the lease file the wrapper reads, see :func:`~._jobrun.write_lease`)."""
    resumed = job.work_done_h > 0 or job.attempts > 1
    return [
        sys.executable,
        JOBWRAP,
        "--state-dir",
        job.state_dir,
        "--cwd",
        job.cwd,
        "--lease",
        lease,
        "--env",
        f"LOWCARB_JOB_ID={job.id}",
        "--env",
        f"LOWCARB_CHECKPOINT_DIR={checkpoint_dir(job)}",
        "--env",
        f"LOWCARB_JOB_RESUMED={1 if resumed else 0}",
        "--env",
        f"LOWCARB_JOB_ATTEMPT={job.attempts}",
        "--",
        *job.command,
    ]
