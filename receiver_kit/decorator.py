"""``@verify_webhook``: the receiver kit for Flask views.

::

    @app.post("/webhook")
    @verify_webhook(secret="your-webhook-secret")
    def webhook():
        event = current_event()       # also flask.g.webhook_event
        ...
        return "OK"

The view runs only for a request from an allowed address, with a valid signature, whose
body is an event object not processed before. It gets the event from :func:`current_event`
(``flask.g.webhook_event``); its own arguments (URL variables) are passed unchanged.

Every argument left out (``None``) is read from the app config at request time:

=================================  ==========================================================
``RECEIVER_KIT_SECRETS``           the secret, or a list of secrets during a rotation; required
``RECEIVER_KIT_ALLOWLIST``         networks, or ``"*"``; default 203.0.113.0/24, 198.51.100.0/24
``RECEIVER_KIT_TRUSTED_PROXIES``   proxies whose ``X-Forwarded-For`` is believed; default none
``RECEIVER_KIT_IDEMPOTENCY``       a store, a Redis URL, or ``False``; default: in memory
``RECEIVER_KIT_TOLERANCE``         seconds ``webhook-timestamp`` may be off; default 300
``RECEIVER_KIT_REQUIRE_STANDARD``  ``True``: refuse requests without the standard headers
=================================  ==========================================================
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ParamSpec

from flask import Flask, current_app, g, jsonify, request

from .allowlist import DEFAULT_ALLOWLIST, IPAllowlist, NetworksSpec
from .errors import ConfigurationError
from .idempotency import IdempotencySpec, IdempotencyStore, claim_event, make_store
from .signature import Secrets, normalize_secrets
from .standard import DEFAULT_TOLERANCE, check_tolerance
from .verification import check_request

if TYPE_CHECKING:
    from flask import Response
    from flask.typing import ResponseReturnValue

P = ParamSpec("P")

#: Config keys read by :func:`verify_webhook`, with their defaults.
SECRETS_KEY = "RECEIVER_KIT_SECRETS"
ALLOWLIST_KEY = "RECEIVER_KIT_ALLOWLIST"
TRUSTED_PROXIES_KEY = "RECEIVER_KIT_TRUSTED_PROXIES"
IDEMPOTENCY_KEY = "RECEIVER_KIT_IDEMPOTENCY"
TOLERANCE_KEY = "RECEIVER_KIT_TOLERANCE"
REQUIRE_STANDARD_KEY = "RECEIVER_KIT_REQUIRE_STANDARD"
CONFIG_DEFAULTS: dict[str, Any] = {
    SECRETS_KEY: None,
    ALLOWLIST_KEY: DEFAULT_ALLOWLIST,
    TRUSTED_PROXIES_KEY: (),
    IDEMPOTENCY_KEY: None,
    TOLERANCE_KEY: DEFAULT_TOLERANCE,
    REQUIRE_STANDARD_KEY: False,
}

#: Attribute of :data:`flask.g` that holds the verified event during the view.
EVENT_ATTRIBUTE = "webhook_event"

View = Callable[P, "ResponseReturnValue | Awaitable[ResponseReturnValue]"]

_state_lock = threading.Lock()


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


def _config(app: Flask, key: str) -> Any:
    return app.config.get(key, CONFIG_DEFAULTS[key])


def _app_store(app: Flask) -> IdempotencyStore | None:
    """The store configured for ``app``, made once and kept in ``app.extensions``."""
    spec = _config(app, IDEMPOTENCY_KEY)
    state = app.extensions.get("receiver_kit")
    if state is None or state["spec"] is not spec:
        with _state_lock:
            state = app.extensions.get("receiver_kit")
            if state is None or state["spec"] is not spec:
                state = {"spec": spec, "store": make_store(spec)}
                app.extensions["receiver_kit"] = state
    return state["store"]  # type: ignore[no-any-return]


def _check_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, not {value!r}.")
    return value


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
    :raises ConfigurationError: at decoration for a bad argument; at request time for a
        bad or missing config value.
    """
    secrets = normalize_secrets(secret) if secret is not None else None
    if isinstance(allowlist, IPAllowlist):
        if trusted_proxies is not None:
            raise ConfigurationError(
                "Pass trusted_proxies to the IPAllowlist itself, not next to it."
            )
        fixed_allowlist: IPAllowlist | None = allowlist
    elif allowlist is not None and trusted_proxies is not None:
        fixed_allowlist = IPAllowlist(allowlist, trusted_proxies=trusted_proxies)
    else:
        fixed_allowlist = None
        if allowlist is not None:  # fail when decorating, not on the first webhook
            IPAllowlist(allowlist)
        if trusted_proxies is not None:
            IPAllowlist(trusted_proxies=trusted_proxies)
    fixed_store = make_store(idempotency) if idempotency is not None else None
    fixed_tolerance = check_tolerance(tolerance) if tolerance is not None else None
    if require_standard is not None:
        _check_flag(require_standard, "require_standard")

    def resolve() -> tuple[Secrets, IPAllowlist, IdempotencyStore | None, float, bool]:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        keys = secrets
        if keys is None:
            configured = _config(app, SECRETS_KEY)
            if configured is None:
                raise ConfigurationError(
                    f"No webhook secret: pass secret=... to @verify_webhook or set "
                    f"app.config[{SECRETS_KEY!r}]."
                )
            keys = normalize_secrets(configured)
        checker = fixed_allowlist
        if checker is None:
            networks = allowlist if allowlist is not None else _config(app, ALLOWLIST_KEY)
            if isinstance(networks, IPAllowlist):  # an IPAllowlist object in the config
                checker = networks
            else:
                proxies = trusted_proxies
                if proxies is None:
                    proxies = _config(app, TRUSTED_PROXIES_KEY)
                checker = IPAllowlist(networks, trusted_proxies=proxies)
        store = fixed_store if idempotency is not None else _app_store(app)
        seconds = fixed_tolerance
        if seconds is None:
            seconds = check_tolerance(_config(app, TOLERANCE_KEY), TOLERANCE_KEY)
        strict = require_standard
        if strict is None:
            strict = _check_flag(_config(app, REQUIRE_STANDARD_KEY), REQUIRE_STANDARD_KEY)
        return keys, checker, store, seconds, strict

    def decorator(view: View[P]) -> Callable[P, Response]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
            keys, checker, store, seconds, strict = resolve()
            event = check_request(
                request.get_data(),
                request.headers,
                request.remote_addr,
                secrets=keys,
                allowlist=checker,
                tolerance=seconds,
                require_standard=strict,
            )
            setattr(g, EVENT_ATTRIBUTE, event)
            if store is None:
                return current_app.make_response(current_app.ensure_sync(view)(*args, **kwargs))
            with claim_event(store, event["id"]) as claim:
                if claim.duplicate:
                    return jsonify(status="duplicate", id=event["id"])
                response = current_app.make_response(
                    current_app.ensure_sync(view)(*args, **kwargs)
                )
                if 200 <= response.status_code < 300:
                    claim.complete()
                return response

        return wrapper

    return decorator
