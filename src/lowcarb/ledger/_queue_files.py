"""The files of a group-commit queue (:mod:`lowcarb.ledger._handoff`): where its directory is,
what a queued append holds, and how its files are named.

A queued append is ``<stem><suffix>``: ``.p`` pending (its owner may still withdraw it), ``.c``
claimed by a leader, ``.e`` refused; ``<owner>.w`` is a process's wake-up pipe. Each file is
written under a temporary ``.<stem>.tmp`` name, then renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CLAIMED",
    "PENDING",
    "REFUSED",
    "WAKE",
    "Claimed",
    "Unit",
    "queue_dir",
    "rename_quietly",
    "server_queue_dir",
    "unlink_quietly",
]

PENDING, CLAIMED, REFUSED, WAKE = ".p", ".c", ".e", ".w"


def queue_dir(db_path: Path) -> Path:
    """The queue directory of the SQLite ledger at ``db_path`` (resolved, so every process
    reaching the file by another path or link shares it)."""
    real = db_path.resolve()
    return real.with_name(real.name + "-appends")


def server_queue_dir(key: str, *, tmp: str | None = None) -> Path | None:
    """The queue directory of a ledger on a database server, for this user's processes on this
    machine: ``<tmp>/lowcarb-<uid>/<digest of key>-appends``.

    Only this user may use it: the parent directory must be this user's and closed to others,
    else None (no grouping: appends go to the server one by one, as from other machines).
    """
    base = Path(tmp or tempfile.gettempdir()) / f"lowcarb-{os.getuid()}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        st = base.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return base / (hashlib.sha256(key.encode()).hexdigest()[:24] + "-appends")


@dataclass(frozen=True, slots=True)
class Unit:
    """The records of one ``append_many`` call, encoded, waiting for a place in the chain.

    Attributes:
        ids: Record ids, in order.
        bodies: Canonical bodies, in order, timestamps unstamped (the leader stamps them).
        corrects: Ids the records correct (each must already be in the ledger).
    """

    ids: tuple[str, ...]
    bodies: tuple[str, ...]
    corrects: frozenset[str]

    def to_bytes(self) -> bytes:
        """A header line (ids, corrected ids) then one body per line (bodies are ASCII JSON,
        so they hold no raw newline)."""
        head = json.dumps({"ids": list(self.ids), "corrects": sorted(self.corrects)})
        return "\n".join((head, *self.bodies)).encode("ascii")

    @classmethod
    def from_bytes(cls, data: bytes) -> Unit | None:
        """Parse :meth:`to_bytes`; None when the file is not one (never chained)."""
        try:
            head, *bodies = data.decode("ascii").split("\n")
            meta = json.loads(head)
            ids = tuple(str(i) for i in meta["ids"])
            corrects = frozenset(str(i) for i in meta["corrects"])
        except (ValueError, KeyError, TypeError):
            return None
        if not ids or len(ids) != len(bodies):
            return None
        return cls(ids, tuple(bodies), corrects)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A queued append this leader claimed: its file stem, its records, and whether a leader
    before this one had claimed it (and may have committed it before dying)."""

    stem: str
    unit: Unit
    orphan: bool


def unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def rename_quietly(src: str, dst: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.rename(src, dst)
