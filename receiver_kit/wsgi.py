"""``WebhookMiddleware``: the receiver kit for any WSGI app (Django, Pyramid, Bottle, ...).

::

    application = WebhookMiddleware(application, path="/webhook", secret="your-webhook-secret")

Requests to ``path`` (any method) are checked as :func:`~.verification.check_request`
describes; a rejected one is answered by the middleware with a JSON error and never
reaches the app. An accepted one reaches the app with the same body (``wsgi.input`` is
replaced by the bytes already read) and the parsed event in
``environ["receiver_kit.event"]``. Other paths pass through untouched.

Idempotency works as in the Flask decorator: a repeated event id is answered
``200 {"status": "duplicate"}`` by the middleware, and the event counts as processed only
when the app answered 2xx and its response was sent to the end without an error.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from werkzeug.wsgi import get_input_stream

from .allowlist import DEFAULT_ALLOWLIST, IPAllowlist, NetworksSpec
from .errors import EventInProgress, WebhookRejected
from .idempotency import Claim, IdempotencySpec, IdempotencyStore, make_store, retry_after
from .signature import Secrets, normalize_secrets
from .standard import DEFAULT_TOLERANCE, check_tolerance
from .verification import check_request

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: The ``environ`` key under which the verified event reaches the wrapped app.
EVENT_ENVIRON_KEY = "receiver_kit.event"


def _headers(environ: WSGIEnvironment) -> list[tuple[str, str]]:
    pairs = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            pairs.append((key[5:].replace("_", "-"), value))
    return pairs


class _Finishing:
    """Pass the app's response through; complete or release the claim when it ends."""

    def __init__(
        self, app_iter: Iterable[bytes], status: list[int], on_end: Callable[[bool], None]
    ) -> None:
        self._app_iter = app_iter
        self._status = status
        self._on_end = on_end
        self._failed = False
        self._exhausted = False
        self._ended = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._app_iter
        except BaseException:
            self._failed = True
            raise
        self._exhausted = True

    def close(self) -> None:
        try:
            close = getattr(self._app_iter, "close", None)
            if close is not None:
                close()
        except BaseException:
            self._failed = True
            raise
        finally:
            if not self._ended:
                self._ended = True
                ok = (
                    self._exhausted
                    and not self._failed
                    and bool(self._status)
                    and 200 <= self._status[-1] < 300
                )
                self._on_end(ok)


class WebhookMiddleware:
    """Verify webhook requests to ``path`` before they reach a WSGI ``app``.

    :param app: the WSGI application to wrap.
    :param path: the path (``PATH_INFO``) or paths that receive webhooks.
    :param secret: the webhook secret, or several during a rotation.
    :param allowlist: networks webhooks may come from, ``"*"`` for any, or an
        :class:`~.allowlist.IPAllowlist` (which brings its own trusted proxies).
    :param trusted_proxies: proxies whose ``X-Forwarded-For`` entries are believed.
    :param idempotency: a store, a Redis URL, ``False`` for none; default: one in memory.
    :param tolerance: seconds the Standard Webhooks ``webhook-timestamp`` may be from this
        server's clock, either way.
    :param require_standard: refuse requests without the Standard Webhooks headers.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        secret: Secrets,
        path: str | Iterable[str] = "/webhook",
        allowlist: IPAllowlist | NetworksSpec = DEFAULT_ALLOWLIST,
        trusted_proxies: NetworksSpec = (),
        idempotency: IdempotencySpec = None,
        tolerance: float = DEFAULT_TOLERANCE,
        require_standard: bool = False,
    ) -> None:
        self.app = app
        self.paths = frozenset([path] if isinstance(path, str) else path)
        self.secrets = normalize_secrets(secret)
        if isinstance(allowlist, IPAllowlist):
            self.allowlist = allowlist
        else:
            self.allowlist = IPAllowlist(allowlist, trusted_proxies=trusted_proxies)
        self.store: IdempotencyStore | None = make_store(idempotency)
        self.tolerance = check_tolerance(tolerance)
        self.require_standard = bool(require_standard)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") not in self.paths:
            return self.app(environ, start_response)
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = True
        try:
            event = check_request(
                body,
                _headers(environ),
                environ.get("REMOTE_ADDR"),
                secrets=self.secrets,
                allowlist=self.allowlist,
                tolerance=self.tolerance,
                require_standard=self.require_standard,
            )
        except WebhookRejected as exc:
            return exc(environ, start_response)
        environ[EVENT_ENVIRON_KEY] = event
        store = self.store
        if store is None:
            return self.app(environ, start_response)
        event_id: str = event["id"]
        claim = store.claim(event_id)
        if claim is Claim.DONE:
            return _json(start_response, "200 OK", {"status": "duplicate", "id": event_id})
        if claim is Claim.IN_PROGRESS:
            return EventInProgress(retry_after=retry_after(store))(environ, start_response)

        status: list[int] = []

        def capture(
            status_line: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            status.append(int(status_line.split(" ", 1)[0]))
            return start_response(status_line, headers, exc_info)

        def on_end(ok: bool) -> None:
            if ok:
                store.complete(event_id)
            else:
                store.release(event_id)

        try:
            app_iter = self.app(environ, capture)
        except BaseException:
            store.release(event_id)
            raise
        return _Finishing(app_iter, status, on_end)


def _json(start_response: StartResponse, status: str, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode("utf-8")
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
