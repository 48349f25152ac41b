"""Exceptions raised by flask-clawhooks. All derive from :class:`ClawHooksError`."""

from __future__ import annotations


class ClawHooksError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(ClawHooksError, ValueError):
    """A ``CLAWHOOKS_*`` setting is missing or has a value that is not allowed."""


class UnknownEventType(ClawHooksError, ValueError):
    """:meth:`ClawHooks.emit` was called with a type that is not in the catalog."""


class InvalidEventData(ClawHooksError, ValueError):
    """:meth:`ClawHooks.emit` was given ``data`` that does not match its event type's
    JSON Schema, with ``CLAWHOOKS_VALIDATE_PAYLOADS = "strict"``. Nothing was recorded.

    .. versionadded:: 0.3.0
    """

    def __init__(self, message: str, *, event_type: str, errors: list[str]) -> None:
        super().__init__(message)
        #: The type emitted.
        self.event_type = event_type
        #: One ``"<field path>: <problem>"`` line per mismatch, such as
        #: ``"data.sender.name: 'name' is a required property"``.
        self.errors = errors


class NotInitialized(ClawHooksError, RuntimeError):
    """The extension was used with an app that it was never registered on."""


class TooManyTestSends(ClawHooksError):
    """:meth:`ClawHooks.send_test` refused: the owner (or the whole process) already has
    the most test sends in flight that ``CLAWHOOKS_TEST_SEND_LIMIT_PER_OWNER`` (or
    ``CLAWHOOKS_TEST_SEND_LIMIT``) allows.

    .. versionadded:: 0.2.0
    """

    def __init__(self, message: str, *, retry_after: int, per_owner: bool) -> None:
        super().__init__(message)
        #: Seconds after which a slot is free at the latest (one attempt's timeout).
        self.retry_after = retry_after
        #: True when it is this owner's limit, False when it is the process's.
        self.per_owner = per_owner
