"""Errors raised by the receiver kit, and :class:`Answer`, the HTTP answer a rejection carries.

Everything derives from :class:`ReceiverKitError`. A request that is turned away raises a
:class:`WebhookRejected`, which is plain data, tied to no framework: ``exc.status`` (the
HTTP status), ``exc.error_code``, ``exc.message``, ``exc.headers`` (such as
``Retry-After``) and ``exc.answer``, the whole answer with its JSON body
``{"error": {"code": "...", "message": "..."}}``.

None of it is a response object. Each adapter turns a rejection into its framework's own
error answer (:mod:`receiver_kit.flask`, :mod:`receiver_kit.django`,
:mod:`receiver_kit.fastapi`, :mod:`receiver_kit.asgi`, :mod:`receiver_kit.wsgi`), so a
rejection can never be sent as a ``200``. Before 0.2 the errors were werkzeug exceptions
with a ``get_response()`` that FastAPI serialised into a ``200`` body; that method is gone
and its name now fails loudly, pointing at the adapter to use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NoReturn


class ReceiverKitError(Exception):
    """Base class of every error the receiver kit raises."""


class ConfigurationError(ReceiverKitError, ValueError):
    """A setting or argument is missing or has a value the kit cannot use.

    The message names the setting and what is allowed.
    """


_NOT_A_RESPONSE = (
    "{kind} is not a response: answer it with your framework's adapter (receiver_kit.flask, "
    "receiver_kit.django, receiver_kit.fastapi.http_exception, receiver_kit.asgi, "
    "receiver_kit.wsgi), or send answer.status, answer.body and answer.headers yourself."
)


class Answer:
    """An HTTP answer the kit gives on its own: a rejection, or a duplicate's ``200``.

    Adapters send it as it is: ``status``, ``body`` with ``Content-Type:
    application/json``, and the extra ``headers``. It is deliberately not a data class
    and has no ``__dict__``: FastAPI serialises whatever an endpoint returns that it can
    read as data into a ``200``, and an answer returned by mistake must fail (a ``500``)
    instead of telling the sender that a forged request succeeded.
    """

    __slots__ = ("headers", "payload", "status")

    #: Every answer body is JSON.
    content_type = "application/json"

    def __init__(
        self,
        status: int,
        payload: Mapping[str, Any],
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        #: The HTTP status.
        self.status = status
        #: What the JSON body holds.
        self.payload = payload
        #: Headers besides ``Content-Type``, e.g. ``(("Retry-After", "60"),)``.
        self.headers = headers

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.payload!r}, {self.headers!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Answer):
            return NotImplemented
        return (self.status, dict(self.payload), self.headers) == (
            other.status,
            dict(other.payload),
            other.headers,
        )

    __hash__ = None  # type: ignore[assignment]

    def __iter__(self) -> NoReturn:
        raise TypeError(_NOT_A_RESPONSE.format(kind="An Answer"))

    @property
    def body(self) -> bytes:
        """The JSON body, UTF-8."""
        return json.dumps(self.payload, ensure_ascii=False).encode("utf-8")

    @property
    def ok(self) -> bool:
        """True for a ``2xx`` answer (a duplicate), False for a rejection."""
        return 200 <= self.status < 300


_REMOVED_GET_RESPONSE = (
    "WebhookRejected.get_response() was removed in receiver_kit 0.2: outside Flask its "
    "response was sent as HTTP 200. Use the adapter of your framework: "
    "receiver_kit.flask.rejection_response(exc) (or app.register_error_handler("
    "WebhookRejected, rejection_response)), receiver_kit.django.rejection_response(exc), "
    "`raise receiver_kit.fastapi.http_exception(exc)`, or exc.status, exc.answer.body "
    "and exc.answer.headers anywhere else."
)


class WebhookRejected(ReceiverKitError):
    """A webhook request was turned away; the answer is a JSON error with :attr:`status`.

    :param message: replaces the class's default :attr:`message`.
    """

    #: The HTTP status of the answer.
    status: int = 400
    #: Machine-readable reason, the ``error.code`` of the JSON body.
    error_code: str = "rejected"
    #: What went wrong and what to do about it, the ``error.message`` of the JSON body.
    message: str = "The webhook request was rejected."

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)

    @property
    def code(self) -> int:
        """The HTTP status, under the name werkzeug's exceptions (before 0.2) gave it."""
        return self.status

    @property
    def description(self) -> str:
        """The message, under the name werkzeug's exceptions (before 0.2) gave it."""
        return self.message

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Headers the answer needs besides ``Content-Type``."""
        return ()

    @property
    def answer(self) -> Answer:
        """The whole HTTP answer: status, JSON body and headers."""
        return Answer(
            self.status,
            {"error": {"code": self.error_code, "message": self.message}},
            self.headers,
        )

    @property
    def get_response(self) -> NoReturn:
        """Removed: it made a werkzeug response that FastAPI answered with a ``200``.

        :raises AttributeError: always, naming the per-framework replacement.
        """
        raise AttributeError(_REMOVED_GET_RESPONSE)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, error_code={self.error_code!r})"

    @property
    def __dict__(self) -> NoReturn:  # type: ignore[override]
        """Refused, so that FastAPI cannot serialise a returned rejection into a ``200``.

        FastAPI turns an object it does not know into JSON through ``vars()``; attributes
        are stored and read as usual, only ``vars(exc)`` and ``exc.__dict__`` raise.

        :raises TypeError: always, saying how to answer a rejection.
        """
        raise TypeError(_NOT_A_RESPONSE.format(kind="A WebhookRejected"))


class ForbiddenAddress(WebhookRejected):
    """403: the client address is outside the allowlist (or could not be determined)."""

    status = 403
    error_code = "forbidden_address"
    message = "The request does not come from an allowed address."


class InvalidSignature(WebhookRejected):
    """401: the signature is missing or does not match the body.

    The signature is the Standard Webhooks ``webhook-signature`` when the request carries
    those headers, else ``X-ClawBook-Signature``.
    """

    status = 401
    error_code = "invalid_signature"
    message = (
        "Missing or invalid X-ClawBook-Signature header; check that the receiver uses the "
        "webhook's current secret."
    )


class StaleTimestamp(InvalidSignature):
    """401: a correctly signed Standard Webhooks request whose ``webhook-timestamp`` is too far
    from this server's clock (more than the tolerance, 300 s by default).

    Either the request is a replay of an old delivery, or one of the two clocks is wrong.
    ClawBook signs every attempt afresh, so its own retries are never stale.
    """

    error_code = "stale_timestamp"
    message = (
        "The webhook-timestamp is too far from this server's time: the request is a replay, "
        "or a clock is wrong (check NTP on the receiving server)."
    )


class InvalidPayload(WebhookRejected):
    """400: the body is not a JSON object with string ``id`` and ``type`` fields.

    ClawBook treats a 4xx answer as a permanent failure and does not retry it.
    """

    status = 400
    error_code = "invalid_payload"
    message = 'The body must be a JSON object with non-empty string "id" and "type".'


class EventInProgress(WebhookRejected):
    """503 with ``Retry-After``: another request is processing the same event id right now.

    The sender retries 5xx answers, so the event is neither lost nor processed twice: the
    retry is answered as a duplicate if the first request succeeded, and runs the handler
    if it failed.

    :param retry_after: seconds, sent as ``Retry-After``.
    """

    status = 503
    error_code = "event_in_progress"
    message = "This event is being processed by another request; retry later."

    def __init__(self, message: str | None = None, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return (("Retry-After", str(self.retry_after)),)
