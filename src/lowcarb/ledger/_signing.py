"""Optional Ed25519 signatures per writer (extra ``signing``: the ``cryptography`` package).

Each writer (a CI runner, a training cluster, a team) holds its own private key; every record it
appends carries its key id in the body and a signature of the record's hash next to it. Whoever can
write the database can recompute the whole hash chain, but cannot sign without the private keys:
``verify(public_key=...)`` then rejects every record not signed by a trusted key.

Keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public) as written by
:meth:`Ed25519Signer.private_pem` / :meth:`Ed25519Signer.public_pem`, ``lowcarb ledger keygen`` or
``openssl genpkey -algorithm ed25519``; OpenSSH ``ssh-ed25519`` public keys are accepted too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lowcarb._files import read_input_bytes
from lowcarb.errors import DataError, InvalidValueError, MissingDependencyError
from lowcarb.ledger._chain import SignatureCheck

__all__ = ["Ed25519Signer", "PublicKeys", "TrustedKey", "signature_checker", "trusted_keys"]


def _ed25519() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError("cryptography", "signing") from None
    return ed25519


def _serialization() -> Any:
    _ed25519()
    from cryptography.hazmat.primitives import serialization

    return serialization


def _key_id(public_key: Any) -> str:
    s = _serialization()
    raw = public_key.public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]


class Ed25519Signer:
    """A writer's Ed25519 private key; signs the hash of each record it appends.

    Args:
        private_key: A ``cryptography`` ``Ed25519PrivateKey``.
    """

    def __init__(self, private_key: Any) -> None:
        if not isinstance(private_key, _ed25519().Ed25519PrivateKey):
            raise DataError(f"expected an Ed25519 private key, got {type(private_key).__name__}")
        self._key = private_key
        self.key_id: str = _key_id(private_key.public_key())

    @classmethod
    def generate(cls) -> Ed25519Signer:
        """A new random key."""
        return cls(_ed25519().Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, data: bytes, *, password: bytes | None = None) -> Ed25519Signer:
        """Load a PEM (PKCS#8) private key.

        Raises:
            DataError: Not an Ed25519 private key in PEM.
        """
        s = _serialization()
        try:
            key = s.load_pem_private_key(data, password=password)
        except (ValueError, TypeError) as exc:
            raise DataError(f"not a PEM Ed25519 private key: {exc}") from None
        return cls(key)

    @classmethod
    def from_file(cls, path: str | Path, *, password: bytes | None = None) -> Ed25519Signer:
        """Load a PEM private key file."""
        data = read_input_bytes(path, what="signing key", max_bytes=64 << 10)
        try:
            return cls.from_pem(data, password=password)
        except DataError as exc:
            raise DataError(f"signing key {str(path)!r}: {exc}") from None

    def sign(self, hash_hex: str) -> str:
        """Base64 signature of a record hash (its 64 ASCII hex characters)."""
        return base64.b64encode(self._key.sign(hash_hex.encode("ascii"))).decode("ascii")

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (keep it secret)."""
        s = _serialization()
        return bytes(
            self._key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption())
        )

    def public_pem(self) -> bytes:
        """The public key as SubjectPublicKeyInfo PEM (publish it to verifiers)."""
        return self.trusted_key().public_pem()

    def trusted_key(self) -> TrustedKey:
        """The matching public key."""
        return TrustedKey(self._key.public_key())


class TrustedKey:
    """A writer's Ed25519 public key, trusted by a verifier.

    Args:
        public_key: A ``cryptography`` ``Ed25519PublicKey``.
    """

    def __init__(self, public_key: Any) -> None:
        if not isinstance(public_key, _ed25519().Ed25519PublicKey):
            raise DataError(f"expected an Ed25519 public key, got {type(public_key).__name__}")
        self._key = public_key
        self.key_id: str = _key_id(public_key)

    @classmethod
    def from_pem(cls, data: bytes) -> TrustedKey:
        """Load a PEM (or OpenSSH ``ssh-ed25519``) public key.

        Raises:
            DataError: Not an Ed25519 public key.
        """
        s = _serialization()
        try:
            if data.lstrip().startswith(b"ssh-"):
                key = s.load_ssh_public_key(data.strip())
            else:
                key = s.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise DataError(f"not an Ed25519 public key in PEM or OpenSSH form: {exc}") from None
        return cls(key)

    @classmethod
    def from_file(cls, path: str | Path) -> TrustedKey:
        """Load a public key file."""
        data = read_input_bytes(path, what="public key", max_bytes=64 << 10)
        try:
            return cls.from_pem(data)
        except DataError as exc:
            raise DataError(f"public key {str(path)!r}: {exc}") from None

    def public_pem(self) -> bytes:
        """SubjectPublicKeyInfo PEM."""
        s = _serialization()
        return bytes(self._key.public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))

    def verify(self, signature_b64: bytes | str, hash_hex: bytes) -> bool:
        """True when ``signature_b64`` is this key's signature of ``hash_hex``."""
        from cryptography.exceptions import InvalidSignature

        try:
            self._key.verify(base64.b64decode(signature_b64, validate=True), hash_hex)
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


#: The trusted keys :meth:`Ledger.verify <lowcarb.ledger.Ledger.verify>` accepts: a key, PEM
#: bytes or a key file's path, or several.
PublicKeys = TrustedKey | bytes | str | Path | Iterable[TrustedKey | bytes | str | Path]


def trusted_keys(public_key: PublicKeys) -> list[TrustedKey]:
    """The keys ``public_key`` names, read (PEM bytes parsed, files loaded).

    Raises:
        InvalidValueError: It names no key.
    """
    items: Iterable[Any] = (
        [public_key] if isinstance(public_key, TrustedKey | bytes | str | Path) else public_key
    )
    keys = []
    for item in items:
        if isinstance(item, TrustedKey):
            keys.append(item)
        elif isinstance(item, bytes):
            keys.append(TrustedKey.from_pem(item))
        else:
            keys.append(TrustedKey.from_file(item))
    if not keys:
        raise InvalidValueError("verify(public_key=...) was given no keys")
    return keys


def signature_checker(keys: Iterable[TrustedKey]) -> SignatureCheck:
    """A check for :func:`verify_chain`: every record must be signed by one of ``keys``."""
    by_id = {k.key_id: k for k in keys}

    def check(body: bytes, hash_hex: bytes, signature: bytes | None) -> str | None:
        try:
            signer = json.loads(body)["signer"]
        except (ValueError, KeyError, TypeError):
            return "unreadable body, cannot find its signer"
        if signer is None or signature is None:
            return "not signed, but verification requires signatures by a trusted key"
        key = by_id.get(signer)
        if key is None:
            return f"signed by {signer}, which is not among the trusted keys given"
        if not key.verify(signature, hash_hex):
            return f"signature does not verify with {signer}: the record was forged or altered"
        return None

    return check
