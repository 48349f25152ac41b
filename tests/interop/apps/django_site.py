"""A whole Django project in one module: settings, URLs and two views with
``receiver_kit.django.verify_webhook``. ``DJANGO_SETTINGS_MODULE`` names this module.

The secret, the tolerance and the rule of ``/webhook`` come from the ``RECEIVER_KIT_*``
settings, as a Django project would configure them; the other view gets hers as arguments.
CSRF protection is on, as in a default project: the decorator exempts its views.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from receiver_kit import DEFAULT_ALLOWLIST
from receiver_kit.django import current_event, verify_webhook

from . import DEFAULT_ALLOWLIST_PATH, LOOPBACK, handled_count, record, secret, tolerance

DEBUG = False
SECRET_KEY = "interop-tests-only"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = __name__
INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
USE_TZ = True

RECEIVER_KIT_SECRETS = secret()
RECEIVER_KIT_ALLOWLIST = LOOPBACK
RECEIVER_KIT_TOLERANCE = tolerance()
RECEIVER_KIT_REQUIRE_STANDARD = True


@verify_webhook()
def webhook(request: HttpRequest) -> HttpResponse:
    event = current_event(request)
    record(event["id"])
    return JsonResponse({"handled": event["id"], "framework": "django"})


@verify_webhook(allowlist=DEFAULT_ALLOWLIST)  # ClawBook's networks: arguments win over settings
def clawbook_networks_only(request: HttpRequest) -> HttpResponse:
    record(request.webhook_event["id"])  # type: ignore[attr-defined]
    return HttpResponse("OK")


def count(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"count": handled_count()})


urlpatterns = [
    path("webhook", webhook),
    path("count", count),
    path(DEFAULT_ALLOWLIST_PATH.lstrip("/"), clawbook_networks_only),
]
