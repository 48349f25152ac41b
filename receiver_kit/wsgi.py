"""``WebhookMiddleware``: the receiver kit around any WSGI app (Django, Pyramid, Bottle, ...).

::

    from receiver_kit.wsgi import WebhookMiddleware

    application = WebhookMiddleware(application, path="/webhook", secret="your-webhook-secret")

Requests to ``path`` (any method) are checked as :func:`~.verification.check_request`
describes; a rejected one is answered by the middleware with a JSON error and never
reaches the app. An accepted one reaches the app with the same body (``wsgi.input`` is
replaced by the bytes already read) and the parsed event in
``environ["receiver_kit.event"]``. Other paths pass through untouched.

Idempotency works as in the Flask decorator: a repeated event id is answered
``200 {"status": "duplicate"}`` by the middleware, and the event counts as processed only
when the app answered 2xx and its response was sent to the end without an error.

For a WSGI app that calls :func:`~.verification.check_request` itself,
:func:`headers_from_environ` and :func:`read_body` give what it needs, and
:func:`respond` sends a rejection::

    try:
        event = check_request(read_body(environ), headers_from_environ(environ),
                              environ.get("REMOTE_ADDR"), secrets="your-webhook-secret")
    except WebhookRejected as exc:
        return respond(exc.answer, start_response)

This module needs only the standard library.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import TYPE_CHECKING, Final

from .allowlist import IPAllowlist, NetworksSpec
from .errors import Answer
from .idempotency import IdempotencySpec
from .options import ReceiverConfig
from .reception import Reception, receive
from .signature import Secrets

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "EVENT_ENVIRON_KEY",
    "WebhookMiddleware",
    "respond",
    "headers_from_environ",
    "read_body",
]

#: The ``environ`` key under which the verified event reaches the wrapped app.
EVENT_ENVIRON_KEY: Final = "receiver_kit.event"

#: Keys of ``environ`` that hold request headers without the ``HTTP_`` prefix (PEP 3333).
_UNPREFIXED = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}


def headers_from_environ(environ: WSGIEnvironment) -> list[tuple[str, str]]:
    """The request headers of a WSGI ``environ`` as ``(name, value)`` pairs.

    ``HTTP_X_CLAWBOOK_SIGNATURE`` becomes ``X-Clawbook-Signature``, and so on; names are
    matched case-insensitively by the kit, so the capitalisation does not matter.
    ``CONTENT_TYPE`` and ``CONTENT_LENGTH`` are included. Passing ``environ`` itself to
    :func:`~.verification.check_request` finds no header: its keys are not header names.
    """
    pairs = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            pairs.append((key[5:].replace("_", "-").title(), str(value)))
        elif key in _UNPREFIXED and value:
            pairs.append((_UNPREFIXED[key], str(value)))
    return pairs


def read_body(environ: WSGIEnvironment) -> bytes:
    """Read the whole request body from ``wsgi.input``, as werkzeug's ``get_data`` would.

    ``CONTENT_LENGTH`` bytes are read; without it, the stream is read to its end only when
    the server marks it terminated (``wsgi.input_terminated``, for chunked requests), else
    the body is empty, since reading an unterminated stream could block forever.
    """
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if environ.get("wsgi.input_terminated"):
        return bytes(stream.read())
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return bytes(stream.read(length)) if length > 0 else b""


def respond(answer: Answer, start_response: StartResponse) -> list[bytes]:
    """Send one of the kit's answers (a rejection, a duplicate) as the WSGI response."""
    body = answer.body
    start_response(
        _status_line(answer.status),
        [
            ("Content-Type", answer.content_type),
            ("Content-Length", str(len(body))),
            *answer.headers,
        ],
    )
    return [body]


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


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

    The options are those of every adapter (see :mod:`receiver_kit.options`), checked
    here, once; there are no settings to fall back to, so left out means the default.

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
    :raises ~receiver_kit.ConfigurationError: for a bad argument, naming it.
    """

    def __init__(
        self,
        app: WSGIApplication,
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
        self.options = ReceiverConfig(
            secret=secret,
            allowlist=allowlist,
            trusted_proxies=trusted_proxies,
            idempotency=idempotency,
            tolerance=tolerance,
            require_standard=require_standard,
            where="WebhookMiddleware",
        ).resolve()

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") not in self.paths:
            return self.app(environ, start_response)
        body = read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = True
        reception = receive(
            self.options, body, headers_from_environ(environ), environ.get("REMOTE_ADDR")
        )
        if reception.answer is not None:
            return respond(reception.answer, start_response)
        environ[EVENT_ENVIRON_KEY] = reception.event
        return self._run(reception, environ, start_response)

    def _run(
        self, reception: Reception, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        status: list[int] = []

        def capture(
            status_line: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            status.append(int(status_line.split(" ", 1)[0]))
            return start_response(status_line, headers, exc_info)

        try:
            app_iter = self.app(environ, capture)
        except BaseException:
            reception.finish(False)
            raise
        return _Finishing(app_iter, status, reception.finish)
