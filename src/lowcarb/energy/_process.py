"""CPU time and resident memory of a process tree, read cheaply.

The estimation models charge the *tracked process tree* (a root pid and its descendants), not the
whole machine. A poll sums, over the live processes of the tree, ``utime + stime`` (the process's
own CPU time, all threads) plus ``cutime + cstime`` (CPU time of children it has already reaped).
The kernel folds a reaped child's own and reaped-children times into its parent, so:

* a descendant that exits and is reaped by a tracked process keeps counting, exactly, through the
  parent's ``cutime``/``cstime``;
* a descendant that outlives its parent (an orphan, re-parented to init) keeps being followed while
  it lives; if it then vanishes with no tracked ancestor to reap it, its last seen CPU time is kept
  (what it used after the last poll is lost: at most one sampling interval of it);
* the total is clamped to never decrease.

On Linux the tree is walked through ``/proc/<pid>/task/<tid>/children`` and each process costs one
read of ``/proc/<pid>/stat``: about 25 us for a small tree, against ~1.5 ms for
``psutil.Process.children(recursive=True)``, which scans every process on the machine. Elsewhere
(or without ``CONFIG_PROC_CHILDREN``) psutil is used.

Resident memory is the sum of the live processes' RSS. Pages shared between processes (after a
fork, shared libraries) are counted once per process, so RSS over-counts a forked tree; the exact
alternative (PSS from ``smaps``) costs milliseconds per process and is not worth it at 1 s sampling.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from dataclasses import dataclass
from pathlib import Path

import psutil

from lowcarb.errors import MeterUnavailableError

__all__ = ["ProcessTree", "TreeSample", "root_cpu_seconds"]

_PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class TreeSample:
    """One poll of a process tree.

    Attributes:
        cpu_s: Cumulative CPU seconds (user + system) of the tree, including reaped children and
            processes that have left the tree; never decreases between polls.
        root_cpu_s: The root's own cumulative CPU seconds (own + reaped children) at this poll.
        rss_bytes: Resident set size summed over the live processes, bytes.
        pids: The live processes counted.
    """

    cpu_s: float
    root_cpu_s: float
    rss_bytes: int
    pids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Stat:
    ppid: int
    start: float  # process start time, an identity check against pid reuse
    total_s: float  # utime + stime + cutime + cstime
    rss_bytes: int


def _close_fds(fds: dict[str, int]) -> None:
    for fd in fds.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()


class _ProcfsReader:
    """Reads ``/proc`` directly (Linux)."""

    # Descriptors kept open for re-reading (bounded: a huge tree falls back to open/read/close).
    _MAX_FDS = 256

    def __init__(self, root: Path) -> None:
        self._root = root
        self._tick_s = 1.0 / os.sysconf("SC_CLK_TCK")
        self._page_bytes = os.sysconf("SC_PAGE_SIZE")
        self._fds: dict[str, int] = {}
        weakref.finalize(self, _close_fds, self._fds)

    def read(self, path: str, size: int = 8192) -> bytes:
        """Read a small procfs file, keeping its descriptor open for the next poll.

        A re-read is one ``pread`` at offset 0 (procfs regenerates the content), so a sampler
        thread gives up the GIL once per file instead of four times (open, fstat, read, close):
        each hand-over costs CPU while the user's code holds the GIL. A descriptor whose
        process or thread is gone fails and is dropped; the path is then opened afresh (so a
        reused pid is read as the new process).
        """
        fd = self._fds.pop(path, None)
        if fd is not None:
            try:
                data = os.pread(fd, size, 0)
            except OSError:
                os.close(fd)
            else:
                self._fds[path] = fd
                return data
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.pread(fd, size, 0)
        except OSError:
            os.close(fd)
            raise
        if len(self._fds) < self._MAX_FDS:
            self._fds[path] = fd
        else:
            os.close(fd)
        return data

    def close(self) -> None:
        """Close the kept descriptors (later reads reopen them)."""
        _close_fds(self._fds)

    def stat(self, pid: int) -> _Stat | None:
        try:
            raw = self.read(f"{self._root}/{pid}/stat")
        except OSError:
            return None
        # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
        fields = raw[raw.rfind(b")") + 2 :].split()
        # proc(5): ppid is field 4, utime..cstime 14..17, starttime 22, rss (pages) 24.
        try:
            ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
            return _Stat(
                ppid=int(fields[1]),
                start=float(fields[19]),
                total_s=ticks * self._tick_s,
                rss_bytes=int(fields[21]) * self._page_bytes,
            )
        except (IndexError, ValueError):  # not the stat layout proc(5) documents
            return None

    def children(self, pid: int) -> list[int] | None:
        """Children of ``pid``; None when the kernel does not expose the children files."""
        task_dir = self._root / str(pid) / "task"
        try:
            tids = os.listdir(task_dir)
        except OSError:
            return []
        kids: list[int] = []
        for tid in tids:
            try:
                kids.extend(int(k) for k in self.read(f"{task_dir}/{tid}/children", 65536).split())
            except FileNotFoundError:
                if not (task_dir / tid).exists():
                    continue  # the thread exited meanwhile
                return None  # CONFIG_PROC_CHILDREN is off
            except OSError:
                continue
        return kids


class _PsutilReader:
    """Portable fallback through psutil (macOS, Windows, Linux without children files)."""

    def stat(self, pid: int) -> _Stat | None:
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                t = proc.cpu_times()
                return _Stat(
                    ppid=proc.ppid(),
                    start=proc.create_time(),
                    total_s=t.user + t.system + t.children_user + t.children_system,
                    rss_bytes=proc.memory_info().rss,
                )
        except (psutil.Error, OSError):
            return None

    def children(self, pid: int) -> list[int] | None:
        try:
            return [c.pid for c in psutil.Process(pid).children()]
        except (psutil.Error, OSError):
            return []


def _reader(proc_root: Path | None) -> _ProcfsReader | _PsutilReader:
    if proc_root is not None and (proc_root / "self" / "stat").exists():
        return _ProcfsReader(proc_root)
    return _PsutilReader()


def root_cpu_seconds(pid: int, *, proc_root: Path | None = _PROC) -> float:
    """Cumulative CPU seconds of one process (own + reaped children): one cheap read.

    Used to take a window's zero at ``EnergyMonitor.start()`` before the tree is walked.

    Raises:
        MeterUnavailableError: No such process.
    """
    st = _reader(proc_root).stat(pid)
    if st is None:
        raise MeterUnavailableError(f"no process with pid {pid!r} to measure")
    return st.total_s


class ProcessTree:
    """Cumulative CPU time and current RSS of a process and its descendants.

    Not thread-safe: the meters sharing one tree are called under the monitor's lock.

    Args:
        pid: Root of the tree (default: this process).
        proc_root: The procfs mount (None: always use psutil).

    Raises:
        MeterUnavailableError: No such process.
    """

    def __init__(self, pid: int | None = None, *, proc_root: Path | None = _PROC) -> None:
        self.pid = os.getpid() if pid is None else pid
        self._reader: _ProcfsReader | _PsutilReader = _reader(proc_root)
        first = self._reader.stat(self.pid)
        if first is None:
            raise MeterUnavailableError(f"no process with pid {self.pid!r} to measure")
        self._known: dict[int, _Stat] = {}
        self._retired_s = 0.0
        self._last_cpu_s = 0.0
        self._last_root_s = first.total_s

    def _walk(self, start: int, seen: dict[int, _Stat]) -> None:
        stack = [start]
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            st = self._reader.stat(pid)
            if st is None:
                continue
            seen[pid] = st
            kids = self._reader.children(pid)
            if kids is None:  # no children files: switch to psutil for good
                self.close()
                self._reader = _PsutilReader()
                kids = self._reader.children(pid) or []
            stack.extend(kids)

    def close(self) -> None:
        """Release kept file descriptors; the tree stays usable (they are reopened on demand)."""
        if isinstance(self._reader, _ProcfsReader):
            self._reader.close()

    def poll(self) -> TreeSample:
        """Walk the tree and return its cumulative CPU time and current RSS."""
        live: dict[int, _Stat] = {}
        self._walk(self.pid, live)
        # Orphans: processes seen before that left the tree (re-parented) but still run.
        for pid, old in self._known.items():
            if pid not in live:
                st = self._reader.stat(pid)
                if st is not None and st.start == old.start:
                    self._walk(pid, live)
        for pid, old in self._known.items():
            now = live.get(pid)
            if now is not None and now.start == old.start:
                continue
            # Gone (or its pid reused). If a live tracked ancestor exists, the kernel has folded
            # (or will fold, on reaping) its CPU time into that ancestor's cutime/cstime.
            ancestor = old.ppid
            hops = 0
            while ancestor in self._known and ancestor not in live and hops < 64:
                ancestor = self._known[ancestor].ppid
                hops += 1
            if ancestor not in live:
                self._retired_s += old.total_s
        self._known = live
        cpu_s = max(self._last_cpu_s, self._retired_s + sum(s.total_s for s in live.values()))
        self._last_cpu_s = cpu_s
        root = live.get(self.pid)
        if root is not None:
            self._last_root_s = root.total_s
        return TreeSample(
            cpu_s=cpu_s,
            root_cpu_s=self._last_root_s,
            rss_bytes=sum(s.rss_bytes for s in live.values()),
            pids=tuple(sorted(live)),
        )
