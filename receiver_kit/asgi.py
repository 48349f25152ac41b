"""``WebhookMiddleware``: the receiver kit around Starlette, FastAPI or any ASGI app.

::

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from receiver_kit.asgi import WebhookMiddleware, current_event

    async def webhook(request):
        event = current_event(request.scope)
        ...
        return PlainTextResponse("OK")

    app = Starlette(
        routes=[Route("/webhook", webhook, methods=["POST"])],
        middleware=[Middleware(WebhookMiddleware, secret="your-webhook-secret", path="/webhook")],
    )

HTTP requests to ``path`` are read to the end first (the signature covers the whole raw
body), verified as :func:`~.verification.check_request` describes, and answered by the
middleware when rejected or when the event is a duplicate. An accepted request reaches the
app with the very same body, replayed from the buffer, and the event in
``scope["receiver_kit.event"]`` (:func:`current_event`). Other paths, websockets and the
lifespan protocol pass through untouched.

The event counts as processed when the app answered ``2xx`` and sent its response to the
end without raising; anything else releases it, so the sender's retry runs the app again.

The client address is ``scope["client"]``. Behind a proxy, either run the server with its
own proxy-header handling (uvicorn ``--proxy-headers --forwarded-allow-ips``), which sets
it, or give ``trusted_proxies``; never both.

This module needs only the standard library. Calls to a store other than the in-memory
one (a Redis round trip) run in a worker thread under asyncio, so they do not hold up the
event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Final, TypeVar

from .allowlist import IPAllowlist, NetworksSpec
from .errors import Answer
from .idempotency import IdempotencySpec, MemoryIdempotencyStore
from .options import ReceiverConfig, ReceiverOptions
from .reception import receive
from .signature import Secrets

__all__ = [
    "EVENT_SCOPE_KEY",
    "WebhookMiddleware",
    "current_event",
    "headers_from_scope",
    "send_answer",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

T = TypeVar("T")

#: The ``scope`` key under which the verified event reaches the wrapped app.
EVENT_SCOPE_KEY: Final = "receiver_kit.event"


def current_event(scope: Scope) -> dict[str, Any]:
    """The verified event of a request that passed :class:`WebhookMiddleware`.

    Starlette: ``current_event(request.scope)``.

    :raises RuntimeError: for a request the middleware did not verify.
    """
    event = scope.get(EVENT_SCOPE_KEY)
    if not isinstance(event, dict):
        raise RuntimeError(
            "No verified webhook event in this request: is its path one of the paths "
            "given to receiver_kit.asgi.WebhookMiddleware?"
        )
    return event


def headers_from_scope(scope: Scope) -> list[tuple[str, str]]:
    """The request headers of an ASGI ``scope`` as ``(name, value)`` text pairs.

    Repeated headers stay separate, so a signature header sent twice is refused rather
    than one copy being picked.
    """
    return [
        (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
        for name, value in scope.get("headers", ())
    ]


async def send_answer(answer: Answer, send: Send) -> None:
    """Send one of the kit's answers (a rejection, a duplicate) as the ASGI response."""
    body = answer.body
    headers = [
        (b"content-type", answer.content_type.encode("latin-1")),
        (b"content-length", str(len(body)).encode("latin-1")),
    ]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` if the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        if message["type"] == "http.request":
            chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                return b"".join(chunks)


class WebhookMiddleware:
    """Verify webhook requests to ``path`` before they reach an ASGI ``app``.

    The options are those of every adapter (see :mod:`receiver_kit.options`), checked
    here, once; there are no settings to fall back to, so left out means the default.

    :param app: the ASGI application to wrap.
    :param path: the path (``scope["path"]``) or paths that receive webhooks.
    :param secret: the webhook secret, or several during a rotation.
    :param allowlist: networks webhooks may come from, ``"*"`` for any, or an
        :class:`~.allowlist.IPAllowlist` (which brings its own trusted proxies).
    :param trusted_proxies: proxies whose ``X-Forwarded-For`` entries are believed.
    :param idempotency: a store, a Redis URL, ``False`` for none; default: one in memory.
    :param tolerance: seconds the Standard Webhooks ``webhook-timestamp`` may be from this
        server's clock, either way.
    :param require_standard: refuse requests without the Standard Webhooks headers.
    :raises ~receiver_kit.ConfigurationError: for a bad argument, naming it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: Secrets,
        path: str | Iterable[str] = "/webhook",
        allowlist: IPAllowlist | NetworksSpec | None = None,
        trusted_proxies: NetworksSpec | None = None,
        idempotency: IdempotencySpec = None,
        tolerance: float | None = None,
        require_standard: bool | None = None,
    ) -> None:
        self.app = app
        self.paths = frozenset([path] if isinstance(path, str) else path)
        self.options: ReceiverOptions = ReceiverConfig(
            secret=secret,
            allowlist=allowlist,
            trusted_proxies=trusted_proxies,
            idempotency=idempotency,
            tolerance=tolerance,
            require_standard=require_standard,
            where="WebhookMiddleware",
        ).resolve()

    async def _blocking(self, func: Callable[..., T], *args: Any) -> T:
        """Run a call that may reach the store: in a thread for a networked store."""
        store = self.options.store
        if store is None or isinstance(store, MemoryIdempotencyStore):
            return func(*args)
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # another event loop (trio): call it here
            return func(*args)
        return await asyncio.to_thread(func, *args)

    async def __call__(self, scope: Scope, receive_: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.paths:
            await self.app(scope, receive_, send)
            return
        body = await _read_body(receive_)
        if body is None:
            return  # the client is gone: there is no one to answer
        client = scope.get("client")
        reception = await self._blocking(
            receive, self.options, body, headers_from_scope(scope), client[0] if client else None
        )
        if reception.answer is not None:
            await send_answer(reception.answer, send)
            return
        scope = dict(scope)
        scope[EVENT_SCOPE_KEY] = reception.event
        ok = False
        try:
            ok = await self._run(scope, body, receive_, send)
        finally:
            await self._blocking(reception.finish, ok)

    async def _run(self, scope: Scope, body: bytes, receive_: Receive, send: Send) -> bool:
        """Run the app with the buffered body; tell whether it answered 2xx to the end."""
        replayed = False
        status: list[int] = []
        complete: list[bool] = []

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive_()  # the app waits for the disconnect, as it may

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                complete.append(True)
            await send(message)

        await self.app(scope, replay, watch)
        return bool(status) and 200 <= status[-1] < 300 and bool(complete)
