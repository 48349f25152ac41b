"""``@verify_webhook``: the receiver kit for Flask views (``pip install 'receiver-kit[flask]'``).

::

    from receiver_kit.flask import current_event, verify_webhook

    @app.post("/webhook")
    @verify_webhook(secret="your-webhook-secret")
    def webhook():
        event = current_event()       # also flask.g.webhook_event
        ...
        return "OK"

The view runs only for a request from an allowed address, with a valid signature, whose
body is an event object not processed before. It gets the event from :func:`current_event`
(``flask.g.webhook_event``); its own arguments (URL variables) are passed unchanged.

Every argument left out (``None``) is read from the app config at request time, under the
``RECEIVER_KIT_*`` names listed in :mod:`receiver_kit.options`. Rejections are answered
with :func:`rejection_response`; register it for your own calls of
:func:`~receiver_kit.check_request` with ``app.register_error_handler(WebhookRejected,
rejection_response)``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, ParamSpec

try:
    from flask import Flask, current_app, g, request
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        f"receiver_kit.flask needs Flask: pip install 'receiver-kit[flask]' ({exc})"
    ) from exc

from .allowlist import IPAllowlist, NetworksSpec
from .errors import Answer, WebhookRejected
from .idempotency import IdempotencySpec
from .options import (
    ALLOWLIST_KEY,
    IDEMPOTENCY_KEY,
    MISSING,
    REQUIRE_STANDARD_KEY,
    SECRETS_KEY,
    SETTINGS_DEFAULTS,
    TOLERANCE_KEY,
    TRUSTED_PROXIES_KEY,
    ReceiverConfig,
    SettingsSource,
)
from .reception import receive
from .signature import Secrets

if TYPE_CHECKING:
    from flask import Response
    from flask.typing import ResponseReturnValue

__all__ = [
    "ALLOWLIST_KEY",
    "CONFIG_DEFAULTS",
    "EVENT_ATTRIBUTE",
    "IDEMPOTENCY_KEY",
    "REQUIRE_STANDARD_KEY",
    "SECRETS_KEY",
    "TOLERANCE_KEY",
    "TRUSTED_PROXIES_KEY",
    "answer_response",
    "current_event",
    "rejection_response",
    "verify_webhook",
]

P = ParamSpec("P")

#: The config keys read by :func:`verify_webhook`, with their defaults.
CONFIG_DEFAULTS = SETTINGS_DEFAULTS

#: Attribute of :data:`flask.g` that holds the verified event during the view.
EVENT_ATTRIBUTE: Final = "webhook_event"

#: ``app.extensions`` key of the per-app :class:`~.options.SettingsSource`.
EXTENSION_KEY: Final = "receiver_kit"

View = Callable[P, "ResponseReturnValue | Awaitable[ResponseReturnValue]"]


def current_event() -> dict[str, Any]:
    """The verified event of the current request, inside a ``@verify_webhook`` view.

    :raises RuntimeError: outside such a view.
    """
    event = g.get(EVENT_ATTRIBUTE)
    if event is None:
        raise RuntimeError(
            "No verified webhook event: current_event() works only inside a view "
            "decorated with @verify_webhook."
        )
    return event  # type: ignore[no-any-return]


def answer_response(answer: Answer) -> Response:
    """A Flask response for one of the kit's own answers."""
    response = current_app.response_class(
        answer.body, status=answer.status, content_type=answer.content_type
    )
    for name, value in answer.headers:
        response.headers[name] = value
    return response


def rejection_response(exc: WebhookRejected) -> Response:
    """The JSON error response for a rejection, with its status and headers.

    Usable as an error handler: ``app.register_error_handler(WebhookRejected,
    rejection_response)``.
    """
    return answer_response(exc.answer)


def settings_source(app: Flask) -> SettingsSource:
    """The app's settings source, kept in ``app.extensions``, so each app has its own
    default store, shared by its views."""
    source = app.extensions.get(EXTENSION_KEY)
    if not isinstance(source, SettingsSource):
        config = app.config
        source = app.extensions.setdefault(
            EXTENSION_KEY, SettingsSource(lambda key: config.get(key, MISSING))
        )
    return source


def verify_webhook(
    *,
    secret: Secrets | None = None,
    allowlist: IPAllowlist | NetworksSpec | None = None,
    trusted_proxies: NetworksSpec | None = None,
    idempotency: IdempotencySpec = None,
    tolerance: float | None = None,
    require_standard: bool | None = None,
) -> Callable[[View[P]], Callable[P, Response]]:
    """Protect a Flask view that receives ClawBook webhooks.

    Answers, without running the view: 403 ``forbidden_address`` outside the allowlist,
    401 ``invalid_signature``, 401 ``stale_timestamp`` (a correctly signed Standard Webhooks
    request whose timestamp is out of tolerance: a replay), 400 ``invalid_payload``,
    200 ``{"status": "duplicate"}`` for an event processed before, 503 ``event_in_progress``
    (with ``Retry-After``) while another request processes the same event. Error bodies
    are JSON, see :mod:`receiver_kit.errors`.

    The event counts as processed only when the view returns a 2xx response; if it raises
    or answers anything else (a 5xx, which ClawBook retries, or a 4xx) the claim is
    released and a redelivery runs the view again.

    :param secret: the webhook secret, or several during a rotation.
    :param allowlist: networks webhooks may come from; ``"*"`` accepts any address. An
        :class:`~.allowlist.IPAllowlist` brings its own trusted proxies.
    :param trusted_proxies: proxies whose ``X-Forwarded-For`` entries are believed. Not
        needed behind werkzeug's ``ProxyFix``, which already sets ``remote_addr``.
    :param idempotency: an idempotency store, a Redis URL, or ``False`` to process
        duplicates again. Left out, each app gets one in-memory store shared by its views.
    :param tolerance: seconds the Standard Webhooks ``webhook-timestamp`` may be from this
        server's clock, either way; default 300.
    :param require_standard: ``True`` refuses requests without the Standard Webhooks
        headers (``X-ClawBook-Signature`` alone then is not enough), so that every request
        the view sees was checked for replay.
    :raises ~receiver_kit.ConfigurationError: at decoration for a bad argument; at request time
        for a bad or missing config value.
    """
    config = ReceiverConfig(
        secret=secret,
        allowlist=allowlist,
        trusted_proxies=trusted_proxies,
        idempotency=idempotency,
        tolerance=tolerance,
        require_standard=require_standard,
        where="@verify_webhook",
    )

    def decorator(view: View[P]) -> Callable[P, Response]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
            app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
            options = config.resolve(settings_source(app))
            reception = receive(
                options, request.get_data(), request.headers, request.remote_addr
            )
            if reception.answer is not None:
                return answer_response(reception.answer)
            setattr(g, EVENT_ATTRIBUTE, reception.event)
            try:
                response = app.make_response(app.ensure_sync(view)(*args, **kwargs))
            except WebhookRejected as exc:  # the view ran check_request itself
                reception.finish(False)
                return rejection_response(exc)
            except BaseException:
                reception.finish(False)
                raise
            reception.finish(200 <= response.status_code < 300)
            return response

        return wrapper

    return decorator
