"""Verifying the hash chain, and checkpoints that pin its head.

Verification is one tight loop over the stored rows (position, prev_hash, hash, body bytes,
signature): it hashes the stored bytes, never parses or re-serialises a record unless a public
key is given (signatures need the signer's key id from the body) or a record is bad (to name it).

A chain alone cannot reveal a truncated tail or a wholesale rewrite (whoever can write the database
can recompute every hash). Two defences cover that: a :class:`Checkpoint` (head hash and count)
published somewhere the ledger's writers cannot edit, and Ed25519 signatures per writer.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lowcarb.errors import DataError
from lowcarb.ledger._canonical import CHAIN_PREFIX, GENESIS_HASH

__all__ = ["Checkpoint", "SignatureCheck", "VerifyResult", "verify_chain"]

#: A stored row as verification reads it: seq, prev_hash, hash, body, signature.
ChainRow = tuple[int, bytes | None, bytes | None, bytes | None, bytes | None]
#: ``check(body, hash, signature) -> None`` when the signature is good, else the problem.
SignatureCheck = Callable[[bytes, bytes, bytes | None], str | None]

_HEX64 = re.compile(r"[0-9a-f]{64}")
CHECKPOINT_FORMAT = "lowcarb-ledger-checkpoint/1"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of :meth:`Ledger.verify` (the ``lowcarb ledger verify --json`` object).

    Attributes:
        ok: True when every record chains, hashes and (if keys were given) is signed correctly,
            and the ledger matches the checkpoint (if one was given). An empty ledger is
            ``ok`` (nothing contradicts the chain, so exit 0) but never "intact": ``reason``
            starts with ``empty:`` and says that only a checkpoint can show records were
            deleted; check ``entries == 0`` before trusting an empty ledger.
        entries: Number of records stored in the ledger.
        first_bad: Position (seq) of the first bad record, None when ``ok``. For a truncated
            tail it is the first missing position.
        reason: One line: what is wrong and where, or what was checked.
        first_bad_id: Id of the first bad record, when it can be read.
        head_hash: Hash of the last record when ``ok`` (what a checkpoint pins).
        warnings: Things that do not break the chain but an auditor should know (e.g. the
            append-only triggers are missing).
        unanchored: Records after the checkpoint (when one was given): nothing outside the
            ledger vouches for them, so they could have been forged unless signed.
        limits: What the evidence at hand proved and what it cannot: ``ruled_out`` and
            ``not_ruled_out`` lists of tampering classes, the latter each saying what would.
    """

    ok: bool
    entries: int
    first_bad: int | None
    reason: str
    first_bad_id: str | None = None
    head_hash: str | None = None
    warnings: tuple[str, ...] = ()
    unanchored: int | None = None
    limits: dict[str, list[str]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; ``ok``, ``entries``, ``first_bad``, ``reason`` first."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "first_bad": self.first_bad,
            "reason": self.reason,
            "first_bad_id": self.first_bad_id,
            "head_hash": self.head_hash,
            "warnings": list(self.warnings),
            "unanchored": self.unanchored,
            "limits": self.limits,
        }


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The head of a ledger: publish it elsewhere; verifying against it detects truncation.

    Attributes:
        head_hash: Hash of record ``count`` (:data:`GENESIS_HASH` for an empty ledger).
        count: Number of records at the time of the checkpoint.
        ledger_id: Id of the ledger it was taken from (guards against mixing ledgers).
    """

    head_hash: str
    count: int
    ledger_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.head_hash, str) or not _HEX64.fullmatch(self.head_hash):
            raise DataError(
                f"checkpoint head_hash must be 64 lowercase hex characters, got {self.head_hash!r}"
            )
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 0:
            raise DataError(f"checkpoint count must be a whole number >= 0, got {self.count!r}")

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint as a JSON object (what ``lowcarb ledger checkpoint`` prints)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "ledger_id": self.ledger_id,
            "count": self.count,
            "head_hash": self.head_hash,
        }

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        """Parse what :meth:`to_json` wrote.

        Raises:
            DataError: Not a lowcarb checkpoint.
        """
        try:
            d = json.loads(text)
        except ValueError as exc:
            raise DataError(f"not a lowcarb checkpoint (invalid JSON: {exc})") from None
        if not isinstance(d, dict) or d.get("format") != CHECKPOINT_FORMAT:
            raise DataError(
                f"not a lowcarb checkpoint (expected format {CHECKPOINT_FORMAT!r}); "
                "create one with `lowcarb ledger checkpoint`"
            )
        head_hash: Any = d.get("head_hash")
        count: Any = d.get("count")
        return cls(head_hash=head_hash, count=count, ledger_id=d.get("ledger_id"))


def _record_id(body: bytes | None) -> str | None:
    try:
        rid = json.loads(body or b"")["id"]
    except (ValueError, KeyError, TypeError):
        return None
    return rid if isinstance(rid, str) else None


def _short(h: bytes | None) -> str:
    return "NULL" if h is None else h[:12].decode("ascii", "replace") + "..."


def _diagnose(
    row: ChainRow, expected: int, prev: bytes, check_signature: SignatureCheck | None
) -> str:
    """Why the first bad row failed, in one line."""
    seq, prev_col, hash_col, body, sig = row
    if seq > expected:
        return f"record #{expected} is missing (the next stored record is #{seq})"
    if seq < expected:
        return f"unexpected record #{seq} where #{expected} should be (inserted)"
    if prev_col != prev:
        return (
            f"record #{seq} does not link to record #{seq - 1} (prev_hash {_short(prev_col)} "
            f"!= {_short(prev)}): a record was deleted, inserted, reordered or rewritten here"
        )
    if body is None or chain_hash_bytes(seq, prev, body) != hash_col:
        return f"record #{seq} does not match its hash: its content, hash or position was changed"
    problem = check_signature(body, hash_col or b"", sig) if check_signature else None
    return f"record #{seq}: {problem}"


def chain_hash_bytes(seq: int, prev: bytes, body: bytes) -> bytes:
    """:func:`chain_hash` on stored bytes, as ASCII hex bytes."""
    return hashlib.sha256(b"%s%d\n%s\n%s" % (CHAIN_PREFIX, seq, prev, body)).hexdigest().encode()


def verify_chain(
    rows: Iterable[ChainRow],
    *,
    check_signature: SignatureCheck | None = None,
    checkpoint: Checkpoint | None = None,
    ledger_id: str | None = None,
) -> VerifyResult:
    """Verify stored rows, in ascending ``seq`` order, against the chain rules.

    Args:
        rows: ``(seq, prev_hash, hash, body, signature)`` as bytes, ordered by ``seq``.
        check_signature: When given, every record must carry a good signature.
        checkpoint: When given, the ledger must extend it (same record at ``count``).
        ledger_id: This ledger's id, compared with the checkpoint's.

    Returns:
        The verdict; ``first_bad`` names the first position where the chain breaks.
    """
    sha256 = hashlib.sha256
    prefix = CHAIN_PREFIX
    prev = GENESIS_HASH.encode("ascii")
    expected = 1
    cp_count = checkpoint.count if checkpoint is not None else -1
    cp_hash: bytes | None = GENESIS_HASH.encode("ascii") if cp_count == 0 else None
    it = iter(rows)
    for row in it:
        # The hot loop: one condition for a good record; diagnosis only on the first bad one.
        seq, prev_col, hash_col, body, sig = row
        if (
            seq == expected
            and prev_col == prev
            and body is not None
            and sha256(b"%s%d\n%s\n%s" % (prefix, seq, prev, body)).hexdigest().encode() == hash_col
            and (check_signature is None or check_signature(body, hash_col, sig) is None)
        ):
            if seq == cp_count:
                cp_hash = hash_col
            prev = hash_col
            expected += 1
            continue
        return VerifyResult(
            ok=False,
            entries=expected + sum(1 for _ in it),
            first_bad=seq,
            reason=_diagnose(row, expected, prev, check_signature),
            first_bad_id=_record_id(body),
        )
    count = expected - 1
    signed = check_signature is not None
    limits = evidence_limits(signed=signed, checkpoint=checkpoint)
    if checkpoint is not None:
        mismatch = _check_checkpoint(checkpoint, count, cp_hash, ledger_id)
        if mismatch is not None:
            return VerifyResult(
                ok=False, entries=count, first_bad=mismatch[0], reason=mismatch[1], limits=limits
            )
    unanchored = count - checkpoint.count if checkpoint is not None else None
    if count == 0:
        reason = (
            "empty: no records to verify (an empty ledger cannot show whether records were "
            "deleted; compare it with a published checkpoint)"
        )
        return VerifyResult(
            ok=True,
            entries=0,
            first_bad=None,
            reason=reason,
            unanchored=unanchored,
            limits=limits,
        )
    checks = ["chain intact"]
    if signed:
        checks.append("every record signed by a trusted key")
    if checkpoint is not None:
        checks.append(f"extends the checkpoint at #{checkpoint.count}")
        if unanchored:
            after = "signed" if signed else "NOT covered by it: they could be forged unless signed"
            checks.append(f"{unanchored} record(s) after the checkpoint, {after}")
    return VerifyResult(
        ok=True,
        entries=count,
        first_bad=None,
        reason=f"{count} records; " + ", ".join(checks),
        head_hash=prev.decode("ascii"),
        unanchored=unanchored,
        limits=limits,
    )


def evidence_limits(*, signed: bool, checkpoint: Checkpoint | None) -> dict[str, list[str]]:
    """Which tampering classes a verification with this evidence rules out, and which not.

    The chain alone proves every stored record is unchanged and in place relative to the others;
    it cannot see records removed from the end, a chain rewritten from scratch (hashes are
    public), or every record deleted: only something kept outside the ledger can.
    """
    ruled_out = [
        "edit of a record",
        "deletion of a record inside the chain",
        "insertion of a record",
        "reordering of records",
    ]
    open_: list[str] = []
    if checkpoint is not None:
        ruled_out.append(f"truncation or rewrite of records #1..#{checkpoint.count}")
        open_.append("truncation of records appended after the checkpoint (take a new one)")
    else:
        open_.append("truncation of the tail (needs a checkpoint: --checkpoint)")
        open_.append("deletion of every record (needs a checkpoint: --checkpoint)")
    if signed:
        ruled_out.append("forged or rewritten records (each is signed by a trusted key)")
    elif checkpoint is not None:
        open_.append("forged records after the checkpoint (needs signatures: --public-key)")
    else:
        open_.append("rewrite of the whole chain (needs a checkpoint or signatures: --public-key)")
    return {"ruled_out": ruled_out, "not_ruled_out": open_}


def _check_checkpoint(
    cp: Checkpoint, count: int, cp_hash: bytes | None, ledger_id: str | None
) -> tuple[int | None, str] | None:
    if cp.ledger_id and ledger_id and cp.ledger_id != ledger_id:
        return None, (
            f"the checkpoint was taken from ledger {cp.ledger_id}, not this one ({ledger_id})"
        )
    if count < cp.count:
        return count + 1, (
            f"the ledger holds {count} records but the checkpoint recorded {cp.count}: "
            f"records #{count + 1}..#{cp.count} were removed (the tail was truncated)"
        )
    if cp_hash is None or cp_hash.decode("ascii", "replace") != cp.head_hash:
        return cp.count, (
            f"record #{cp.count} differs from the checkpoint's head hash: it or an earlier "
            "record was rewritten and the chain recomputed"
        )
    return None
