"""``@verify_webhook``: the receiver kit for Django views (``pip install 'receiver-kit[django]'``).

::

    from django.http import HttpResponse
    from receiver_kit.django import verify_webhook

    @verify_webhook()                      # RECEIVER_KIT_SECRETS etc. from settings
    def webhook(request):
        event = request.webhook_event
        ...
        return HttpResponse("OK")

The view runs only for a request from an allowed address, with a valid signature, whose
body is an event object not processed before; the event is ``request.webhook_event``
(also :func:`current_event`). Rejections and duplicates are answered by the decorator
with a JSON :class:`~django.http.HttpResponse` of the right status, see
:mod:`receiver_kit.errors`. The view is exempt from CSRF protection, which a webhook
(signed, and sent by a server, not a browser) cannot pass.

Every argument left out (``None``) is read from Django's ``settings`` under the
``RECEIVER_KIT_*`` names of :mod:`receiver_kit.options`, when a request arrives (so
``override_settings`` works in tests); a bad value fails on the first request with a
:class:`~receiver_kit.errors.ConfigurationError` naming the setting. The default
in-memory store is one per process, shared by every decorated view; with several
worker processes, set ``RECEIVER_KIT_IDEMPOTENCY`` to a Redis URL.

The event counts as processed only when the view returns a ``2xx`` response; if it raises
or answers anything else, the claim is released and ClawBook's retry runs the view again.
Async views work too.

The client address is ``REMOTE_ADDR``. Behind a proxy, give ``trusted_proxies`` (or
``RECEIVER_KIT_TRUSTED_PROXIES``), so ``X-Forwarded-For`` is believed from those only.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar, cast

# Checked against django-stubs where installed (the test extra); without them Django's
# names are Any, and these ignores keep `mypy --strict` quiet either way.
try:
    from asgiref.sync import sync_to_async
    from django.conf import settings  # type: ignore[import-untyped, unused-ignore]
    from django.http import (  # type: ignore[import-untyped, unused-ignore]
        HttpRequest,
        HttpResponse,
        HttpResponseBase,
    )
    from django.views.decorators.csrf import (  # type: ignore[import-untyped, unused-ignore]
        csrf_exempt,
    )
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        f"receiver_kit.django needs Django: pip install 'receiver-kit[django]' ({exc})"
    ) from exc

from .allowlist import IPAllowlist, NetworksSpec
from .errors import Answer, WebhookRejected
from .idempotency import IdempotencySpec
from .options import MISSING, ReceiverConfig, SettingsSource
from .reception import Reception, receive
from .signature import Secrets

__all__ = [
    "EVENT_ATTRIBUTE",
    "answer_response",
    "current_event",
    "rejection_response",
    "verify_webhook",
]

#: Attribute of the request that holds the verified event during the view.
EVENT_ATTRIBUTE: Final = "webhook_event"

V = TypeVar("V", bound=Callable[..., Any])

#: Django's settings, read by every decorated view; its stores are made once per process.
SETTINGS_SOURCE = SettingsSource(lambda key: getattr(settings, key, MISSING))


def current_event(request: HttpRequest) -> dict[str, Any]:
    """The verified event of ``request``, inside a ``@verify_webhook`` view.

    :raises RuntimeError: for a request that did not pass the decorator.
    """
    event = getattr(request, EVENT_ATTRIBUTE, None)
    if not isinstance(event, dict):
        raise RuntimeError(
            "No verified webhook event: current_event() works only inside a view "
            "decorated with receiver_kit.django.verify_webhook."
        )
    return event


def answer_response(answer: Answer) -> HttpResponse:
    """A Django response for one of the kit's own answers."""
    return HttpResponse(
        answer.body,
        status=answer.status,
        content_type=answer.content_type,
        headers=dict(answer.headers),
    )


def rejection_response(exc: WebhookRejected) -> HttpResponse:
    """The JSON error response for a rejection, with its status and headers."""
    return answer_response(exc.answer)


def _remote_addr(request: HttpRequest) -> str | None:
    value = request.META.get("REMOTE_ADDR")
    return value if isinstance(value, str) else None


def _ok(response: HttpResponseBase) -> bool:
    status: int = response.status_code
    return 200 <= status < 300


def verify_webhook(
    *,
    secret: Secrets | None = None,
    allowlist: IPAllowlist | NetworksSpec | None = None,
    trusted_proxies: NetworksSpec | None = None,
    idempotency: IdempotencySpec = None,
    tolerance: float | None = None,
    require_standard: bool | None = None,
) -> Callable[[V], V]:
    """Protect a Django view (a function, sync or async) that receives ClawBook webhooks.

    The parameters are those of :func:`receiver_kit.flask.verify_webhook`; each one left
    out is read from ``settings``.

    :raises ~receiver_kit.ConfigurationError: at decoration for a bad argument; at request time
        for a bad or missing setting.
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

    def start(request: HttpRequest) -> Reception:
        options = config.resolve(SETTINGS_SOURCE)
        reception = receive(options, request.body, request.headers, _remote_addr(request))
        if reception.event is not None and reception.answer is None:
            setattr(request, EVENT_ATTRIBUTE, reception.event)
        return reception

    def decorator(view: V) -> V:
        if inspect.iscoroutinefunction(view):
            async_view = cast(Callable[..., Awaitable[HttpResponseBase]], view)

            @functools.wraps(view)
            async def async_wrapper(
                request: HttpRequest, *args: Any, **kwargs: Any
            ) -> HttpResponseBase:
                # Settings, the body and the store (a Redis round trip) are read off
                # the event loop.
                reception = await sync_to_async(start, thread_sensitive=False)(request)
                if reception.answer is not None:
                    return answer_response(reception.answer)
                finish = sync_to_async(reception.finish, thread_sensitive=False)
                try:
                    response = await async_view(request, *args, **kwargs)
                except WebhookRejected as exc:  # the view ran check_request itself
                    await finish(False)
                    return rejection_response(exc)
                except BaseException:
                    await finish(False)
                    raise
                await finish(_ok(response))
                return response

            return cast(V, csrf_exempt(async_wrapper))

        sync_view = cast(Callable[..., HttpResponseBase], view)

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            reception = start(request)
            if reception.answer is not None:
                return answer_response(reception.answer)
            try:
                response = sync_view(request, *args, **kwargs)
            except WebhookRejected as exc:  # the view ran check_request itself
                reception.finish(False)
                return rejection_response(exc)
            except BaseException:
                reception.finish(False)
                raise
            reception.finish(_ok(response))
            return response

        return cast(V, csrf_exempt(wrapper))

    return decorator
