"""What a job's wrapper says of how its run ended.

The wrapper (:mod:`._jobwrap`) leaves its result in the run's state directory and in the job's
row (where a worker on another host finds it); a result names its attempt, so one left by a paused
earlier attempt is told from the current one's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lowcarb.jobs._job import Job
from lowcarb.jobs._jobwrap import read_result

__all__ = ["attempt_result", "ended"]


def _this_attempt(result: Mapping[str, Any], job: Job) -> bool:
    """Whether a wrapper's result is of the job's current attempt (not a paused earlier one)."""
    if "attempt" in result:
        return bool(result["attempt"] == job.attempts)
    return job.child_pid is not None  # an older wrapper's bare exit status


def attempt_result(job: Job) -> dict[str, Any] | None:
    """The result the wrapper of ``job``'s current attempt left: from its state directory on
    this host, else from the job's row; None when neither is of this attempt."""
    result = read_result(job.state_dir)
    if result is None or not _this_attempt(result, job):
        result = job.run_result
    return result if result is not None and _this_attempt(result, job) else None


def ended(job: Job) -> tuple[int | None, bool]:
    """How the wrapper of ``job``'s current attempt says its run ended: the exit status (None:
    no result), and whether the wrapper killed it for want of a lease."""
    result = read_result(job.state_dir)
    if result is None:
        return None, False
    fenced = bool(result.get("fenced")) and result.get("attempt") == job.attempts
    return int(result["exit_code"]), fenced
