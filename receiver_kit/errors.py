"""Errors raised by the receiver kit.

Everything derives from :class:`ReceiverKitError`. A request that is turned away raises a
:class:`WebhookRejected`, which is also a werkzeug :class:`~werkzeug.exceptions.HTTPException`
with the right status: Flask answers it on its own, a WSGI app can call it as a response
(``exc(environ, start_response)``), and any other code can read ``exc.code`` (the HTTP
status), ``exc.error_code`` and ``exc.description``. The body is always JSON of the form
``{"error": {"code": "...", "message": "..."}}``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    ServiceUnavailable,
    Unauthorized,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


class ReceiverKitError(Exception):
    """Base class of every error the receiver kit raises."""


class ConfigurationError(ReceiverKitError, ValueError):
    """A setting or argument is missing or has a value the kit cannot use.

    The message names the setting and what is allowed.
    """


class WebhookRejected(ReceiverKitError, HTTPException):
    """A webhook request was turned away; answered with a JSON error body."""

    #: Machine-readable reason, the ``error.code`` of the JSON body.
    error_code: str = "rejected"

    def get_body(
        self, environ: WSGIEnvironment | None = None, scope: dict[str, Any] | None = None
    ) -> str:
        return json.dumps({"error": {"code": self.error_code, "message": self.description}})

    def get_headers(
        self, environ: WSGIEnvironment | None = None, scope: dict[str, Any] | None = None
    ) -> list[tuple[str, str]]:
        headers = [
            (key, value)
            for key, value in super().get_headers(environ, scope)
            if key.lower() != "content-type"
        ]
        headers.append(("Content-Type", "application/json"))
        return headers


class ForbiddenAddress(WebhookRejected, Forbidden):
    """403: the client address is outside the allowlist (or could not be determined)."""

    error_code = "forbidden_address"
    description = "The request does not come from an allowed address."


class InvalidSignature(WebhookRejected, Unauthorized):
    """401: the signature is missing or does not match the body.

    The signature is the Standard Webhooks ``webhook-signature`` when the request carries
    those headers, else ``X-ClawBook-Signature``.
    """

    error_code = "invalid_signature"
    description = (
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
    description = (
        "The webhook-timestamp is too far from this server's time: the request is a replay, "
        "or a clock is wrong (check NTP on the receiving server)."
    )


class InvalidPayload(WebhookRejected, BadRequest):
    """400: the body is not a JSON object with string ``id`` and ``type`` fields.

    ClawBook treats a 4xx answer as a permanent failure and does not retry it.
    """

    error_code = "invalid_payload"
    description = 'The body must be a JSON object with non-empty string "id" and "type".'


class EventInProgress(WebhookRejected, ServiceUnavailable):
    """503 with ``Retry-After``: another request is processing the same event id right now.

    The sender retries 5xx answers, so the event is neither lost nor processed twice: the
    retry is answered as a duplicate if the first request succeeded, and runs the handler
    if it failed.
    """

    error_code = "event_in_progress"
    description = "This event is being processed by another request; retry later."

    def __init__(self, description: str | None = None, *, retry_after: int = 60) -> None:
        super().__init__(description, retry_after=retry_after)
