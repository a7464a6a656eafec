"""One run a worker holds (:class:`Running`), and whether its claim on the job still holds."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from lowcarb.jobs._job import Job

__all__ = ["Running", "still_held"]


@dataclass
class Running:
    """One job a worker runs.

    Attributes:
        job_id: The job's id.
        thread: The thread that runs (or, for an adopted process, watches) it.
        slot_end: End of its current planned slot (worker clock); None: let it run to its end.
        pid: The job wrapper's pid, once known.
        pause_sent: When the pausing SIGTERM was sent (``time.monotonic()`` seconds), else None.
        done: Set once the run's end is saved.
        claim: The job as this worker claimed (or adopted) it: what it saves is fenced by it.
    """

    job_id: str
    thread: threading.Thread
    slot_end: datetime | None
    pid: int | None = None
    pause_sent: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    claim: Job | None = None


def still_held(job: Job, claim: Job) -> bool:
    """Whether ``job`` (as the queue holds it now) is still the run ``claim`` started."""
    return (
        job.state == "running"
        and job.worker_id == claim.worker_id
        and job.attempts == claim.attempts
    )
