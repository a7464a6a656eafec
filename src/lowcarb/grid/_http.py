"""HTTP plumbing for live providers: timeouts, retries with backoff, and an on-disk TTL cache."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from lowcarb._formats import load_json
from lowcarb.errors import DataError, ProviderError

__all__ = ["CachedBody", "DiskCache", "JsonFetcher", "RetryPolicy", "default_cache_dir"]

logger = logging.getLogger(__name__)


class ProviderAuthError(ProviderError):
    """The provider rejected the credentials (HTTP 401/403): never retried, never masked."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one request.

    Attributes:
        attempts: Total tries (>= 1).
        backoff_s: First wait; doubled after each failure.
        max_backoff_s: Longest wait, also the cap on a server's ``Retry-After``.
        timeout_s: Per-request timeout (connect, read, write, pool): httpx applies it to each
            read, so a server that drips a byte at a time never trips it.
        deadline_s: The whole of one :meth:`JsonFetcher.get`, retries and waits included: past
            it the request fails, however slowly the bytes still come.
        max_bytes: The largest response body accepted.
    """

    attempts: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    timeout_s: float = 10.0
    deadline_s: float = 60.0
    max_bytes: int = 16 << 20


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/lowcarb/grid`` (default ``~/.cache/lowcarb/grid``)."""
    base = environ.get("XDG_CACHE_HOME") or str(Path(environ.get("HOME", "~")) / ".cache")
    return Path(base).expanduser() / "lowcarb" / "grid"


@dataclass(frozen=True, slots=True)
class CachedBody:
    """A JSON body and how it was obtained.

    Attributes:
        body: The decoded JSON.
        age_s: Seconds since it was fetched (0 for a fresh network response).
        stale_reason: Why a cached copy past its TTL was used (the provider error), else "".
    """

    body: Any
    age_s: float
    stale_reason: str = ""


class DiskCache:
    """JSON responses on disk, one file per request key, with a fetch timestamp.

    Unreadable or corrupt entries count as misses (logged). Writes are atomic (rename).

    Args:
        directory: Where the files live (created on first write).
        clock: Wall-clock seconds (injected for tests).
    """

    def __init__(self, directory: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self._clock = clock
        self._broken = False

    def _path(self, key: str) -> Path:
        return self.directory / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")

    def get(self, key: str, *, max_age_s: float) -> CachedBody | None:
        """The cached body of ``key`` if fetched at most ``max_age_s`` ago."""
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            stored_at = float(entry["stored_at"])
            body = entry["body"]
            if entry["key"] != key:
                return None
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring unreadable cache entry %s: %s", path, exc)
            return None
        age = max(0.0, self._clock() - stored_at)
        return CachedBody(body, age) if age <= max_age_s else None

    def put(self, key: str, body: Any) -> None:
        """Store ``body`` for ``key`` now. A cache that cannot be written is a warning and no
        cache (the data was fetched; losing a cached copy loses nothing)."""
        if self._broken:
            return
        path = self._path(key)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            entry = {"key": key, "stored_at": self._clock(), "body": body}
            tmp.write_text(json.dumps(entry), "utf-8")
            tmp.replace(path)
        except OSError as exc:
            self._broken = True
            logger.warning(
                "grid cache %s cannot be written (%s); continuing without a cache",
                self.directory,
                exc.strerror or exc,
            )
            with contextlib.suppress(OSError):
                tmp.unlink()


class JsonFetcher:
    """GET JSON with timeouts, retries (429, 5xx, timeouts, connection errors) and a TTL cache.

    HTTP 401/403 raise :class:`ProviderError` at once (bad credentials are not retried); other
    4xx and malformed JSON raise at once too. When retries are exhausted and a cached copy of any
    age exists, that copy is returned with ``stale_reason`` set, so callers can label it.

    Args:
        provider: Name used in messages (``"electricitymaps"``).
        client: The httpx client (inject one with ``httpx.MockTransport`` in tests).
        retry: Retry and timeout settings.
        sleep: Called with the backoff delay in seconds (injected for tests).
        cache: Optional on-disk cache.
    """

    def __init__(
        self,
        provider: str,
        *,
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        cache: DiskCache | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.client = client or httpx.Client()
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.cache = cache
        self._clock = clock

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        ttl_s: float = 0.0,
        cache_key: str | None = None,
    ) -> CachedBody:
        """Fetch ``url`` (or serve it from the cache when younger than ``ttl_s``).

        Raises:
            ProviderError: One line naming the provider, the URL path and what failed.
        """
        key = cache_key or f"{self.provider} {url} {sorted((params or {}).items())}"
        if self.cache is not None and ttl_s > 0:
            hit = self.cache.get(key, max_age_s=ttl_s)
            if hit is not None:
                return hit
        try:
            body = self._fetch(url, params=params, headers=headers, auth=auth)
        except ProviderAuthError:
            raise
        except ProviderError as exc:
            stale = self.cache.get(key, max_age_s=float("inf")) if self.cache else None
            if stale is None:
                raise
            return CachedBody(stale.body, stale.age_s, stale_reason=str(exc))
        if self.cache is not None:
            self.cache.put(key, body)
        return CachedBody(body, 0.0)

    def _fetch(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        auth: httpx.Auth | tuple[str, str] | None,
    ) -> Any:
        where = f"{self.provider}: GET {httpx.URL(url).path}"
        policy = self.retry
        problem = "no attempt made"
        deadline = self._clock() + policy.deadline_s
        for attempt in range(max(1, policy.attempts)):
            delay = min(policy.max_backoff_s, policy.backoff_s * 2**attempt)
            try:
                response = self._read(url, params, headers, auth, deadline, where)
            except httpx.TimeoutException:
                problem = f"timed out after {policy.timeout_s:g} s"
            except httpx.TransportError as exc:
                problem = f"connection failed ({type(exc).__name__}: {exc})"
            else:
                status = response.status_code
                if status in (401, 403):
                    raise ProviderAuthError(
                        f"{where} was refused (HTTP {status}): check the API credentials"
                    )
                if status == 429 or status >= 500:
                    problem = f"HTTP {status}"
                    retry_after = response.headers.get("Retry-After", "")
                    if retry_after.replace(".", "", 1).isdigit():
                        delay = min(policy.max_backoff_s, float(retry_after))
                elif status >= 400:
                    raise ProviderError(f"{where} failed: HTTP {status} {_snippet(response)}")
                else:
                    try:
                        return load_json(response.content, source=f"{where} response")
                    except DataError as exc:
                        raise ProviderError(
                            f"{where} returned a malformed body: {exc} {_snippet(response)}"
                        ) from None
            if attempt + 1 < policy.attempts:
                if self._clock() + delay >= deadline:
                    break
                logger.info("%s: %s; retrying in %.1f s", where, problem, delay)
                self._sleep(delay)
        raise ProviderError(f"{where} failed: {problem} after {attempt + 1} attempt(s)")

    def _read(
        self,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        auth: httpx.Auth | tuple[str, str] | None,
        deadline: float,
        where: str,
    ) -> httpx.Response:
        """One GET, streamed so that the overall deadline and the size bound hold per chunk."""
        policy = self.retry
        with self.client.stream(
            "GET",
            url,
            params=dict(params or {}),
            headers=dict(headers or {}),
            auth=auth,
            timeout=policy.timeout_s,
        ) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > policy.max_bytes:
                    raise ProviderError(
                        f"{where} sent more than {policy.max_bytes:,} bytes; refused"
                    )
                if self._clock() > deadline:
                    raise ProviderError(
                        f"{where} did not finish within the {policy.deadline_s:g} s deadline "
                        "(the server is sending too slowly); try again later"
                    )
                chunks.append(chunk)
            # iter_bytes() already decoded any gzip: keep the headers that still hold.
            kept = {
                k: v
                for k, v in response.headers.items()
                if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
            }
            return httpx.Response(
                response.status_code,
                headers=kept,
                content=b"".join(chunks),
                request=response.request,
            )


def _snippet(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return repr(text[:80] + ("..." if len(text) > 80 else ""))
