"""Exceptions raised by flask-clawhooks. All derive from :class:`ClawHooksError`."""

from __future__ import annotations


class ClawHooksError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(ClawHooksError, ValueError):
    """A ``CLAWHOOKS_*`` setting is missing or has a value that is not allowed."""


class UnknownEventType(ClawHooksError, ValueError):
    """:meth:`ClawHooks.emit` was called with a type that is not in the catalog."""


class NotInitialized(ClawHooksError, RuntimeError):
    """The extension was used with an app that it was never registered on."""
