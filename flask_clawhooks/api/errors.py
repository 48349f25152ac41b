"""The API's errors and how every error under the API prefix becomes JSON.

Each answer is ``{"error": {"code": "...", "message": "..."}}`` with the matching status,
whatever raised it: these exceptions, ``abort()``, werkzeug's own (a body over the size
limit, a method the route does not allow) or routing (an unknown path under the prefix).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app
from werkzeug.exceptions import (
    BadRequest,
    Conflict,
    HTTPException,
    NotFound,
    TooManyRequests,
    Unauthorized,
    UnprocessableEntity,
    UnsupportedMediaType,
)

from ..errors import ClawHooksError

#: The ``code`` of werkzeug's own errors, by status.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
}


class ApiError(ClawHooksError, HTTPException):
    """Base of the errors the API answers with. ``code`` is the machine-readable name."""

    code_name = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.description = message


class InvalidJson(ApiError, BadRequest):
    """The body is not JSON, or not a JSON object."""

    code_name = "invalid_json"


class NotJson(ApiError, UnsupportedMediaType):
    """The body is not declared ``Content-Type: application/json``."""

    code_name = "unsupported_media_type"


class InvalidApiKey(ApiError, Unauthorized):
    """No ``Authorization: Bearer`` key, or one that is unknown or revoked."""

    code_name = "unauthorized"

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [*super().get_headers(*args, **kwargs),
                ("WWW-Authenticate", 'Bearer realm="clawhooks"')]


class NoSuchResource(ApiError, NotFound):
    """No such webhook, delivery or event *for this owner*: another owner's ids are
    answered exactly like ids that do not exist."""

    code_name = "not_found"


class StateConflict(ApiError, Conflict):
    """The request cannot be done in the resource's current state (409)."""

    code_name = "conflict"


class RateLimited(ApiError, TooManyRequests):
    """This API key sent more than ``CLAWHOOKS_API_RATE_LIMIT`` requests this minute."""

    code_name = "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [*super().get_headers(*args, **kwargs), ("Retry-After", str(self.retry_after))]


class InvalidField(ApiError, UnprocessableEntity):
    """A field (or query parameter) has a value that is not allowed.

    The CLI turns it into a :class:`click.BadParameter` naming the same field.
    """

    code_name = "validation_error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message

    @property
    def problems(self) -> list[InvalidField]:
        """Every invalid field: the answer lists them all under ``error.errors``."""
        return [self]


class InvalidFields(InvalidField):
    """Several fields are invalid: all of them are reported at once, the first one as
    :attr:`field` and :attr:`reason` (what the CLI and a single-field reader use).

    .. versionadded:: 0.3.0
    """

    def __init__(self, errors: list[InvalidField]) -> None:
        super().__init__(errors[0].field, errors[0].reason)
        self.description = "; ".join(f"{e.field}: {e.reason.rstrip('.')}"
                                     for e in errors) + "."
        self._errors = errors

    @property
    def problems(self) -> list[InvalidField]:
        return list(self._errors)


def raise_all(errors: list[InvalidField]) -> None:
    """Raise the one error, or all of them as :class:`InvalidFields`; nothing if none."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InvalidFields(errors)


class TooManyToRecover(ApiError, UnprocessableEntity):
    """A recovery range holds more deliveries than ``CLAWHOOKS_RECOVER_LIMIT``.

    .. versionadded:: 0.2.0
    """

    code_name = "range_too_large"


def json_response(data: Any, status: int = 200) -> Response:
    """``data`` as JSON, keys in the order :mod:`.serialize` wrote them (the seed's)."""
    try:
        body = (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate echoed from a request: escape it
        body = (json.dumps(data) + "\n").encode("ascii")
    return current_app.response_class(body, status=status, mimetype="application/json")


def error_response(status: int, code: str, message: str,
                   headers: list[tuple[str, str]] | None = None,
                   errors: list[dict[str, str]] | None = None) -> Response:
    """``{"error": {"code", "message"}}``; a ``validation_error`` adds ``errors``, every
    invalid field as ``{"field", "message"}``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        error["errors"] = errors
    response = json_response({"error": error}, status)
    for name, value in headers or []:
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def http_error_response(error: HTTPException) -> Response:
    """The JSON answer for any werkzeug :class:`HTTPException`."""
    status = error.code or 500
    code = error.code_name if isinstance(error, ApiError) else CODES.get(status, "error")
    message = error.description or error.name
    if status == 405 and not isinstance(error, ApiError):
        message = "This method is not allowed here."
    elif status == 404 and not isinstance(error, ApiError):
        message = "There is nothing at this path. See the openapi.json of this API."
    elif status == 413:
        message = "The request body is too large."
    fields = ([{"field": e.field, "message": e.reason} for e in error.problems]
              if isinstance(error, InvalidField) else None)
    return error_response(status, code, message, error.get_headers(), fields)
