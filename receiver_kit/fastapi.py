"""``WebhookVerifier``: the receiver kit as a FastAPI dependency (``receiver-kit[fastapi]``).

::

    from fastapi import Depends, FastAPI
    from receiver_kit.fastapi import WebhookVerifier

    app = FastAPI()
    verified = WebhookVerifier(secret="your-webhook-secret")

    @app.post("/webhook")
    async def webhook(event: dict = Depends(verified)):
        ...
        return {"ok": True}

The dependency reads the raw body, verifies it as :func:`~.verification.check_request`
describes and yields the event; the endpoint runs only for a verified event not processed
before. Otherwise it raises :class:`fastapi.HTTPException` with the right status, so
FastAPI answers it before the endpoint runs: 401, 403, 400, or 503 (with
``Retry-After``) while another request holds the same event; FastAPI's body is then
``{"detail": {"code": "invalid_signature", "message": "..."}}``. A duplicate is answered
``200`` with ``{"detail": {"status": "duplicate", "id": "evt_..."}}``, also without running
the endpoint.

The event counts as processed when the endpoint returns without raising (and did not set
a non-2xx status on an injected ``Response``). To have ClawBook retry, raise, for instance
``HTTPException(503)``: the claim is released and the retry runs the endpoint again.

Never return a rejection from an endpoint: FastAPI would send it as a ``200``. Turn one
raised by your own call of :func:`~.verification.check_request` into an error with
``raise http_exception(exc)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

try:
    from fastapi import HTTPException, Request, Response
    from starlette.concurrency import run_in_threadpool
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        f"receiver_kit.fastapi needs FastAPI: pip install 'receiver-kit[fastapi]' ({exc})"
    ) from exc

from .allowlist import IPAllowlist, NetworksSpec
from .errors import Answer, WebhookRejected
from .idempotency import IdempotencySpec, MemoryIdempotencyStore
from .options import ReceiverConfig
from .reception import Reception, receive
from .signature import Secrets

__all__ = ["WebhookVerifier", "http_exception"]


def http_exception(rejection: WebhookRejected | Answer) -> HTTPException:
    """The :class:`~fastapi.HTTPException` to raise for a rejection (or one of the kit's
    answers): its status, ``detail`` of ``{"code", "message"}``, and its headers."""
    answer = rejection.answer if isinstance(rejection, WebhookRejected) else rejection
    detail = answer.payload.get("error", answer.payload)
    return HTTPException(answer.status, detail=detail, headers=dict(answer.headers) or None)


class WebhookVerifier:
    """A FastAPI dependency that verifies a webhook request and yields its event.

    Make one per set of options, at import time, and use it with ``Depends`` in every
    endpoint it protects; they share its idempotency store. The options are those of
    every adapter (see :mod:`receiver_kit.options`), checked here, once.

    :param secret: the webhook secret, or several during a rotation.
    :param allowlist: networks webhooks may come from, ``"*"`` for any, or an
        :class:`~.allowlist.IPAllowlist` (which brings its own trusted proxies).
    :param trusted_proxies: proxies whose ``X-Forwarded-For`` entries are believed; or
        let uvicorn's ``--proxy-headers`` set the client address, not both.
    :param idempotency: a store, a Redis URL, ``False`` for none; default: one in memory.
    :param tolerance: seconds the Standard Webhooks ``webhook-timestamp`` may be from this
        server's clock, either way.
    :param require_standard: refuse requests without the Standard Webhooks headers.
    :raises ~receiver_kit.ConfigurationError: for a bad argument, naming it.
    """

    def __init__(
        self,
        *,
        secret: Secrets,
        allowlist: IPAllowlist | NetworksSpec | None = None,
        trusted_proxies: NetworksSpec | None = None,
        idempotency: IdempotencySpec = None,
        tolerance: float | None = None,
        require_standard: bool | None = None,
    ) -> None:
        self.options = ReceiverConfig(
            secret=secret,
            allowlist=allowlist,
            trusted_proxies=trusted_proxies,
            idempotency=idempotency,
            tolerance=tolerance,
            require_standard=require_standard,
            where="WebhookVerifier",
        ).resolve()
        self._in_memory = self.options.store is None or isinstance(
            self.options.store, MemoryIdempotencyStore
        )

    async def _receive(self, body: bytes, request: Request) -> Reception:
        client = request.client.host if request.client is not None else None
        if self._in_memory:
            return receive(self.options, body, request.headers, client)
        return await run_in_threadpool(receive, self.options, body, request.headers, client)

    async def _finish(self, reception: Reception, ok: bool) -> None:
        if self._in_memory:
            reception.finish(ok)
        else:
            await run_in_threadpool(reception.finish, ok)

    async def __call__(self, request: Request, response: Response) -> AsyncIterator[dict[str, Any]]:
        reception = await self._receive(await request.body(), request)
        if reception.answer is not None:
            raise http_exception(reception.answer)
        assert reception.event is not None
        try:
            yield reception.event
        except BaseException:
            await self._finish(reception, False)
            raise
        status = response.status_code
        await self._finish(reception, status is None or 200 <= status < 300)
