"""Ed25519 signatures per writer: forged or re-signed records fail verification."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from lowcarb.errors import DataError, MissingDependencyError, UsageError
from lowcarb.ledger import Ed25519Signer, TrustedKey, open_ledger
from lowcarb.ledger._canonical import chain_hash
from lowcarb.ledger.testing import sample_draft


def test_signed_records_verify_with_the_writers_key(ledger_url: str, tmp_path: Path) -> None:
    signer = Ed25519Signer.generate()
    with open_ledger(ledger_url, environ={}, signer=signer) as ledger:
        records = ledger.append_many([sample_draft() for _ in range(3)])
        assert {r.signer for r in records} == {signer.key_id}
        assert signer.trusted_key().verify(records[0].signature or "", records[0].hash.encode())
        pem_file = tmp_path / "writer.pub"
        pem_file.write_bytes(signer.public_pem())
        for key in (signer.trusted_key(), signer.public_pem(), pem_file, str(pem_file)):
            result = ledger.verify(public_key=key)
            assert result.ok, result.reason
        assert "signed by a trusted key" in result.reason
        stranger = Ed25519Signer.generate().trusted_key()
        result = ledger.verify(public_key=stranger)
        assert (result.ok, result.first_bad) == (False, 1)
        assert "not among the trusted keys" in result.reason
        assert ledger.verify(public_key=[stranger, signer.trusted_key()]).ok


def test_several_writers_each_with_a_key(ledger_url: str) -> None:
    a, b = Ed25519Signer.generate(), Ed25519Signer.generate()
    with open_ledger(ledger_url, environ={}, signer=a) as la:
        la.append(sample_draft(team="a"))
    with open_ledger(ledger_url, environ={}, signer=b) as lb:
        lb.append(sample_draft(team="b"))
        assert lb.verify(public_key=[a.trusted_key(), b.trusted_key()]).ok
        only_a = lb.verify(public_key=a.trusted_key())
        assert (only_a.ok, only_a.first_bad) == (False, 2)
    with open_ledger(ledger_url, environ={}) as unsigned:
        unsigned.append(sample_draft(team="c"))
        result = unsigned.verify(public_key=[a.trusted_key(), b.trusted_key()])
        assert (result.ok, result.first_bad) == (False, 3)
        assert "not signed" in result.reason


def test_a_forged_append_with_a_correct_hash_fails_only_signature_checks(sqlite_url: str) -> None:
    signer = Ed25519Signer.generate()
    with open_ledger(sqlite_url, environ={}, signer=signer) as ledger:
        ledger.append_many([sample_draft() for _ in range(2)])
    path = sqlite_url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, isolation_level=None)
    prev, sig, body = conn.execute(
        "SELECT hash, signature, body FROM lowcarb_ledger WHERE seq = 2"
    ).fetchone()
    body = body.replace('"id":"', '"id":"forged-').replace('"co2e_g":1368.0', '"co2e_g":1.0')
    conn.execute(
        "INSERT INTO lowcarb_ledger VALUES (3, ?, ?, ?, ?)",
        (prev, chain_hash(3, prev, body), body, sig),  # a valid hash, a copied signature
    )
    conn.close()
    with open_ledger(sqlite_url, environ={}) as ledger:
        assert ledger.verify().ok  # the chain alone cannot tell a well-forged append
        result = ledger.verify(public_key=signer.trusted_key())
    assert (result.ok, result.first_bad) == (False, 3)
    assert "does not verify" in result.reason


def test_signing_key_from_the_environment(sqlite_url: str, tmp_path: Path) -> None:
    signer = Ed25519Signer.generate()
    key_file = tmp_path / "writer.pem"
    key_file.write_bytes(signer.private_pem())
    env = {"LOWCARB_LEDGER_SIGNING_KEY": str(key_file)}
    with open_ledger(sqlite_url, environ=env) as ledger:
        assert ledger.append(sample_draft()).signer == signer.key_id
        assert ledger.verify(public_key=signer.trusted_key()).ok
    # The message names the variable (no flag named the path) and the file.
    with pytest.raises(UsageError, match=r"LOWCARB_LEDGER_SIGNING_KEY: signing key .*no' does not"):
        open_ledger(sqlite_url, environ={"LOWCARB_LEDGER_SIGNING_KEY": str(tmp_path / "no")})


def test_key_formats_and_bad_keys() -> None:
    from cryptography.hazmat.primitives import serialization

    signer = Ed25519Signer.generate()
    again = Ed25519Signer.from_pem(signer.private_pem())
    assert again.key_id == signer.key_id
    ssh = signer.trusted_key()._key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert TrustedKey.from_pem(ssh).key_id == signer.key_id
    with pytest.raises(DataError, match="not an Ed25519 public key"):
        TrustedKey.from_pem(b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    with pytest.raises(DataError, match="not a PEM Ed25519 private key"):
        Ed25519Signer.from_pem(b"garbage")
    assert not signer.trusted_key().verify("!!not base64!!", b"0" * 64)


def test_missing_cryptography_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import cryptography.hazmat.primitives.asymmetric as asymmetric

    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.asymmetric.ed25519", None)
    monkeypatch.delattr(asymmetric, "ed25519")
    with pytest.raises(MissingDependencyError, match=r"lowcarb\[signing\]"):
        Ed25519Signer.generate()
