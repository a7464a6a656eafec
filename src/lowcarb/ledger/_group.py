"""Group commit: chaining the appends of many writers in one transaction.

A *leader* (the writer holding the lock) chains the queued appends of other processes with its
own in one transaction and one fsync; the queue itself, and what holds when any process dies at
any point, are described in :mod:`lowcarb.ledger._handoff`. PostgreSQL ledgers group differently
(concurrent commits share fsyncs; see :class:`lowcarb.ledger._sql.SqlLedgerStore`) and use only
:func:`chain_units` and :func:`lead` here, without a queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from contextlib import AbstractContextManager
from typing import Protocol

from lowcarb.errors import InvalidValueError, LedgerBusyError, LedgerError
from lowcarb.ledger._canonical import chain_hash
from lowcarb.ledger._handoff import AppendQueue
from lowcarb.ledger._queue_files import Claimed, Unit

__all__ = [
    "ChainStore",
    "ChainTransaction",
    "Chained",
    "Sign",
    "chain_units",
    "group_append",
    "lead",
    "read_back",
    "rechain",
]


class ChainTransaction(Protocol):
    """What chaining needs of an open write transaction (``_sql.WriteTransaction``)."""

    def head(self) -> tuple[int, str]: ...

    def existing_ids(self, ids: Collection[str]) -> set[str]: ...

    def insert(self, rows: list[tuple[int, str, str, str, str | None]]) -> None: ...


class ChainStore(Protocol):
    """What leading and following need of a store (``_sql.SqlLedgerStore``)."""

    display_url: str
    busy_timeout_s: float

    def write(self) -> AbstractContextManager[ChainTransaction]: ...

    def chained(self, ids: Collection[str]) -> dict[str, tuple[int, str, str]]: ...

    def existing_ids(self, ids: Collection[str]) -> set[str]: ...

    def busy_error(self) -> LedgerBusyError: ...

    def append_alone(self, unit: Unit, *, sign: Sign | None = None) -> list[Chained] | None: ...


#: A chained record as the caller needs it back: seq, prev_hash, hash, signature.
Chained = tuple[int, str, str, str | None]
#: ``sign(hash) -> signature`` of the appending process's key (its own records only).
Sign = Callable[[str], str]


def unknown_corrects_error(missing: Iterable[str]) -> InvalidValueError:
    """The error for a correction that names no record in the ledger."""
    return InvalidValueError(
        f"cannot correct unknown record id(s) {', '.join(sorted(missing))}; "
        "a correction must reference a record already in this ledger"
    )


def chain_units(
    tx: ChainTransaction,
    units: list[Unit],
    *,
    mine: int | None,
    sign: Sign | None,
    orphans: Collection[int] = (),
) -> tuple[list[str], dict[int, list[Chained]]]:
    """Chain ``units`` after the head, in order, in the open transaction ``tx``.

    Returns each unit's outcome (``chain``, ``stale``: an orphan already stored, ``refused``: it
    corrects an unknown id) and the chained records of each chained unit. Only unit ``mine`` is
    signed (with this process's key).

    Raises:
        InvalidValueError: Unit ``mine`` corrects an unknown id (nothing is written).
    """
    check: set[str] = set()
    for u in units:
        check |= u.corrects
    check |= {units[i].ids[0] for i in orphans}
    existing = tx.existing_ids(check) if check else set()
    outcomes = []
    for i, u in enumerate(units):
        if i in orphans and u.ids[0] in existing:
            outcomes.append("stale")
        elif u.corrects and not u.corrects <= existing:
            if i == mine:
                raise unknown_corrects_error(u.corrects - existing)
            outcomes.append("refused")
        else:
            outcomes.append("chain")
    seq, prev = tx.head()
    rows: list[tuple[int, str, str, str, str | None]] = []
    out: dict[int, list[Chained]] = {}
    for i, u in enumerate(units):
        if outcomes[i] != "chain":
            continue
        signer = sign if i == mine else None
        chained = out[i] = []
        for body in u.bodies:
            seq += 1
            digest = chain_hash(seq, prev, body)
            sig = signer(digest) if signer is not None else None
            rows.append((seq, prev, digest, body, sig))
            chained.append((seq, prev, digest, sig))
            prev = digest
    if rows:
        tx.insert(rows)
    return outcomes, out


def lead(
    store: ChainStore,
    queue: AppendQueue | None,
    *,
    own: Unit | None = None,
    own_stem: str | None = None,
    sign: Sign | None = None,
) -> list[Chained] | None:
    """As leader: chain the queued appends and this process's own in one transaction.

    The caller holds the leader lock (when there is a queue); it is released here. ``own`` is
    this process's append when it was never queued; ``own_stem`` its queued file otherwise.
    Returns the own append's chained records, or None when it was queued but not claimed this
    time (more than a group's worth of records queued before it). When the transaction fails,
    the others' appends go back to the queue and the own one is withdrawn (it was not appended:
    the caller raises).
    """
    claimed: list[Claimed] = []
    done = False
    try:
        if queue is not None:
            claimed = queue.claim()
        if not claimed and own is not None:  # nobody else queued: the store's quickest way
            alone = store.append_alone(own, sign=sign)
            if alone is not None:
                return alone
        units = [c.unit for c in claimed]
        mine = next((i for i, c in enumerate(claimed) if c.stem == own_stem), None)
        if own is not None:
            units.append(own)
            mine = len(units) - 1
        orphans = [i for i, c in enumerate(claimed) if c.orphan]
        try:
            with store.write() as tx:
                outcomes, chained = chain_units(tx, units, mine=mine, sign=sign, orphans=orphans)
        except BaseException:
            if queue is not None:
                queue.unclaim([c for c in claimed if c.stem != own_stem])
                if own_stem is not None:
                    queue.drop(own_stem)
            raise
        if queue is not None:  # committed: never hand these back to the queue
            wake = finish_claimed(queue, claimed, outcomes, chained)
        done = True
    finally:
        if queue is not None:  # wake the owners of what was chained or refused (or handed back)
            if not done:  # handed back (its own, withdrawn, too)
                wake = {c.stem: "" for c in claimed}
            elif own_stem is not None:
                wake.pop(own_stem, None)
            queue.release(wake=wake)
    if mine is None:
        return None
    if outcomes[mine] == "stale":  # a leader that died after committing it
        return read_back(store, units[mine])
    return chained[mine]


def finish_claimed(
    queue: AppendQueue,
    claimed: list[Claimed],
    outcomes: list[str],
    chained: dict[int, list[Chained]],
) -> dict[str, str]:
    """After the commit: delete the claimed files (mark refused ones) and return the message
    for each one's owner: ``"<seq> <prev_hash>"`` of its first record, from which the owner
    computes the rest, or ``""`` (refused, or stale: it reads the ledger)."""
    queue.finish(
        [c for c, o in zip(claimed, outcomes, strict=False) if o != "refused"],
        [c for c, o in zip(claimed, outcomes, strict=False) if o == "refused"],
    )
    return {
        c.stem: f"{chained[i][0][0]} {chained[i][0][1]}" if i in chained else ""
        for i, c in enumerate(claimed)
    }


def _led(
    store: ChainStore,
    queue: AppendQueue,
    contended: Callable[[], None] | None,
    *,
    own: Unit | None = None,
    own_stem: str | None = None,
    sign: Sign | None = None,
) -> list[Chained] | None:
    """:func:`lead`, then ``contended()`` when it chained appends other processes queued."""
    out = lead(store, queue, own=own, own_stem=own_stem, sign=sign)
    if contended is not None and queue.last_claimed > (0 if own_stem is None else 1):
        contended()
    return out


def rechain(unit: Unit, seq: int, prev: str) -> list[Chained]:
    """A unit's chained records, its first at ``seq`` after ``prev`` (the rest follow: a unit's
    records are contiguous)."""
    out: list[Chained] = []
    for body in unit.bodies:
        digest = chain_hash(seq, prev, body)
        out.append((seq, prev, digest, None))
        seq, prev = seq + 1, digest
    return out


def read_back(
    store: ChainStore, unit: Unit, found: dict[str, tuple[int, str, str]] | None = None
) -> list[Chained]:
    """The stored positions and hashes of a unit another process chained (``found``: as
    :meth:`ChainStore.chained` gave them, when already read).

    Raises:
        LedgerError: They are not (all) stored.
    """
    found = store.chained(unit.ids) if found is None else found
    if len(found) != len(unit.ids):
        raise LedgerError(
            f"ledger {store.display_url}: {len(unit.ids) - len(found)} of {len(unit.ids)} "
            "queued record(s) are neither queued nor stored; retry the append"
        )
    return [(*found[i], None) for i in unit.ids]


class Committed(Protocol):
    """What a writer needs of a committer's client (``_committer.CommitterClient``)."""

    def append(self, unit: Unit, *, timeout_s: float) -> tuple[str, int, str] | None: ...


def _through_committer(store: ChainStore, client: Committed, unit: Unit) -> list[Chained] | None:
    """Hand ``unit`` to the committer that holds the lock; None when there is none, or when it
    did not chain the unit (then the caller appends it the usual way).

    Raises:
        InvalidValueError: It corrects an unknown id.
        LedgerError: No answer in time (the unit may be stored later), or refused.
    """
    reply = client.append(unit, timeout_s=store.busy_timeout_s + 5.0)
    if reply is None:
        return None
    verdict, seq, prev = reply
    if verdict == "chained":
        return rechain(unit, seq, prev)
    if verdict == "timeout":
        raise LedgerError(
            f"ledger {store.display_url}: the committer chaining this append did not answer "
            f"within {store.busy_timeout_s + 5.0:g} s; it may be recorded: look for record id "
            f"{unit.ids[0]} before appending it again"
        )
    if verdict == "refused":
        if not unit.corrects:
            raise LedgerError(f"ledger {store.display_url}: a queued append was refused")
        missing = unit.corrects - store.existing_ids(unit.corrects)
        if missing:
            raise unknown_corrects_error(missing)
        return None  # the corrected record has arrived since: append it again
    # Its transaction failed, or it stopped: the unit is stored, or never will be.
    found = store.chained(unit.ids)
    return read_back(store, unit, found) if found else None


def group_append(
    store: ChainStore,
    queue: AppendQueue,
    unit: Unit,
    *,
    sign: Sign | None,
    clock: Callable[[], float] = time.monotonic,
    client: Committed | None = None,
    contended: Callable[[], None] | None = None,
) -> list[Chained]:
    """Append ``unit`` through the queue: lead when the lock is free; else hand it to the
    committer when one holds the lock (``client``); else queue it and wait. A leader that
    found others' appends queued calls ``contended`` (which starts a committer).

    Raises:
        LedgerBusyError: Not chained within the store's busy timeout (and not appended).
        InvalidValueError: It corrects an unknown id.
    """
    deadline = clock() + store.busy_timeout_s
    if queue.try_lead():
        return _led(store, queue, contended, own=unit, sign=sign) or []
    if sign is not None:  # only this process can sign its records: it waits to lead
        if not queue.lead_within(deadline, clock=clock):
            raise store.busy_error()
        return lead(store, queue, own=unit, sign=sign) or []
    if client is not None:
        through = _through_committer(store, client, unit)
        if through is not None:
            return through
        if queue.try_lead():
            return _led(store, queue, contended, own=unit, sign=sign) or []
    stem = queue.enqueue(unit)
    try:
        while True:
            state = queue.wait(stem, deadline, clock=clock)
            if state == "withdrawn":
                raise store.busy_error()
            if state == "gone":
                first = queue.result(stem)
                if first is not None:  # sent by its leader: the rest follows from the bodies
                    return rechain(unit, *first)
                found = store.chained(unit.ids)
                if len(found) == len(unit.ids):
                    return [(*found[i], None) for i in unit.ids]
                if queue.state(stem) == "gone":  # not a rename seen half-way: lost
                    return read_back(store, unit)
                continue
            if state == "refused":
                queue.forget(stem)
                if not unit.corrects:
                    raise LedgerError(f"ledger {store.display_url}: a queued append was refused")
                missing = unit.corrects - store.existing_ids(unit.corrects)
                if missing:
                    raise unknown_corrects_error(missing)
                # Refused for a correction whose record has arrived since: queue it again.
                queue.leave(stem)
                stem = queue.enqueue(unit)
                continue
            result = _led(store, queue, contended, own_stem=stem)
            if result is not None:
                return result
    except BaseException:
        queue.withdraw(stem)  # best effort: a claimed append's outcome is its leader's
        raise
    finally:
        queue.leave(stem)
