"""One HTTP POST of a webhook, with pooled keep-alive connections.

urllib3's pool manager is shared by every sending thread of a worker process: it keeps
connections to each destination open between deliveries. Redirects are never followed
and a response body is read only up to the excerpt size kept for the log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import urllib3
from urllib3 import exceptions
from urllib3.exceptions import HTTPError

from . import __version__

USER_AGENT = f"ClawBook-Webhooks/{__version__}"

#: A response body longer than this is not drained; its connection is closed instead.
_DRAIN_LIMIT = 64 * 1024


@dataclass
class HttpResult:
    """What one POST produced. ``status`` is None when no response arrived."""

    status: int | None
    elapsed_ms: int
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    excerpt: str | None = None


def new_pool(concurrency: int) -> urllib3.PoolManager:
    return urllib3.PoolManager(num_pools=256, maxsize=concurrency, block=False, retries=False)


def post(
    pool: urllib3.PoolManager,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    excerpt_bytes: int,
) -> HttpResult:
    """POST ``body`` to ``url``; never raises for network trouble, which becomes ``error``."""
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        response = pool.request(
            "POST", url, body=body, headers=headers,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            redirect=False, retries=False, preload_content=False,
        )
    except HTTPError as exc:
        return HttpResult(status=None, elapsed_ms=elapsed(), error=_describe(exc, timeout))
    try:
        raw = response.read(excerpt_bytes, decode_content=False) if excerpt_bytes else b""
        remaining = response.length_remaining
        if remaining is not None and remaining <= _DRAIN_LIMIT:
            response.drain_conn()
            response.release_conn()
        else:
            response.close()
    except HTTPError as exc:
        response.close()
        return HttpResult(
            status=response.status, elapsed_ms=elapsed(), error=_describe(exc, timeout),
            headers=dict(response.headers),
        )
    return HttpResult(
        status=response.status,
        elapsed_ms=elapsed(),
        headers=dict(response.headers),
        excerpt=raw.decode("utf-8", "replace"),
    )


def _describe(exc: Exception, timeout: float) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(exc, exceptions.MaxRetryError):
        exc = reason if isinstance(reason, Exception) else exc
    # NewConnectionError subclasses ConnectTimeoutError, so it is checked first.
    if isinstance(exc, exceptions.NewConnectionError | exceptions.NameResolutionError):
        return f"connection error: {exc}"
    if isinstance(exc, exceptions.TimeoutError):
        return f"timeout: no answer within {timeout:g} s"
    if isinstance(exc, exceptions.SSLError):
        return f"TLS error: {exc}"
    return f"connection error: {exc}"
