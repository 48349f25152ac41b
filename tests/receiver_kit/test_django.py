"""receiver_kit.django's @verify_webhook through Django's test client, CSRF checks on.

Django is configured once for the test session (``django_config``); each test sets
its ``RECEIVER_KIT_*`` settings with ``override_settings``, as a project's tests would.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client, override_settings
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from receiver_kit import (
    ConfigurationError,
    MemoryIdempotencyStore,
    WebhookRejected,
    check_request,
    sign_standard,
)
from receiver_kit.django import current_event, rejection_response, verify_webhook

from .conftest import CLAWBOOK_ADDR, SECRET, event_body, signed_headers
from .django_config import configure_django

handled: list[str] = []
answers: list[Any] = []


def answer_next(event_id: str) -> HttpResponse:
    handled.append(event_id)
    planned = answers.pop(0) if answers else None
    if isinstance(planned, BaseException):
        raise planned
    if isinstance(planned, int):
        return HttpResponse("planned", status=planned)
    return JsonResponse({"handled": event_id})


@verify_webhook()
def from_settings(request: HttpRequest) -> HttpResponse:
    return answer_next(current_event(request)["id"])


@verify_webhook(secret=SECRET, idempotency=MemoryIdempotencyStore())
async def async_view(request: HttpRequest, tenant: str) -> HttpResponse:
    handled.append(f"{tenant}:{request.webhook_event['id']}")  # type: ignore[attr-defined]
    return HttpResponse("OK")


@csrf_exempt
def by_hand(request: HttpRequest) -> HttpResponse:
    """A view that runs check_request itself, as a receiver without the decorator might."""
    try:
        event = check_request(request.body, request.headers, request.META["REMOTE_ADDR"],
                              secrets=SECRET)
    except WebhookRejected as exc:
        return rejection_response(exc)
    return JsonResponse({"handled": event["id"]})


@csrf_exempt
def returns_the_rejection(request: HttpRequest) -> Any:
    try:
        check_request(request.body, request.headers, "203.0.113.7", secrets=SECRET)
    except WebhookRejected as exc:
        return exc  # a mistake: Django refuses anything but a response


urlpatterns = [
    path("webhook", from_settings),
    path("tenants/<str:tenant>/webhook", async_view),
    path("by-hand", by_hand),
    path("mistake", returns_the_rejection),
    path("csrf-protected", lambda request: HttpResponse("OK")),
]


@pytest.fixture
def client() -> Any:
    configure_django()
    handled.clear()
    answers.clear()
    with override_settings(ROOT_URLCONF=__name__, RECEIVER_KIT_SECRETS=SECRET):
        yield Client(enforce_csrf_checks=True, raise_request_exception=True)


def post(client: Client, body: bytes, headers: dict[str, str] | None = None,
         remote_addr: str = CLAWBOOK_ADDR, path: str = "/webhook") -> Any:
    return client.post(path, data=body, content_type="application/json",
                       headers=signed_headers(body) if headers is None else headers,
                       REMOTE_ADDR=remote_addr)


def error_code(response: Any) -> str:
    assert response["Content-Type"] == "application/json"
    return str(json.loads(response.content)["error"]["code"])


def test_a_view_without_the_decorator_is_refused_by_csrf_so_the_decorator_exempts(
    client: Any,
) -> None:
    response = client.post("/csrf-protected", data=event_body(), content_type="application/json")
    assert response.status_code == 403  # Django's CSRF check, on in these tests


def test_a_valid_webhook_reaches_the_view_once_and_a_repeat_is_a_duplicate(client: Any) -> None:
    body = event_body("evt_dj1")
    first = post(client, body)
    assert first.status_code == 200 and json.loads(first.content) == {"handled": "evt_dj1"}
    again = post(client, body)
    assert again.status_code == 200
    assert json.loads(again.content) == {"status": "duplicate", "id": "evt_dj1"}
    assert handled == ["evt_dj1"]


@pytest.mark.parametrize(
    ("body", "headers", "remote_addr", "status", "code"),
    [
        (event_body(), {}, CLAWBOOK_ADDR, 401, "invalid_signature"),
        (event_body(), signed_headers(event_body(), "wrong"), CLAWBOOK_ADDR, 401,
         "invalid_signature"),
        (event_body(), None, "192.0.2.1", 403, "forbidden_address"),
        (b"[1, 2]", None, CLAWBOOK_ADDR, 400, "invalid_payload"),
    ],
)
def test_rejected_requests_get_json_errors_and_never_reach_the_view(
    client: Any, body: bytes, headers: dict[str, str] | None, remote_addr: str, status: int,
    code: str,
) -> None:
    response = post(client, body, headers, remote_addr)
    assert (response.status_code, error_code(response)) == (status, code)
    assert handled == []


def test_a_replay_after_the_tolerance_is_401_stale_timestamp(client: Any) -> None:
    body = event_body("evt_old")
    headers = sign_standard(body, SECRET, message_id="evt_old", timestamp=1_000_000_000)
    response = post(client, body, headers)
    assert (response.status_code, error_code(response)) == (401, "stale_timestamp")
    assert handled == []


def test_settings_configure_the_decorator_and_changes_apply(client: Any) -> None:
    body = event_body("evt_settings")
    with override_settings(RECEIVER_KIT_SECRETS=["old", "new"],
                           RECEIVER_KIT_ALLOWLIST="127.0.0.1", RECEIVER_KIT_IDEMPOTENCY=False,
                           RECEIVER_KIT_REQUIRE_STANDARD=True):
        assert post(client, body, signed_headers(body, "old")).status_code == 403
        assert post(client, body, signed_headers(body, "old"),
                    remote_addr="127.0.0.1").status_code == 401  # the standard headers
        standard = sign_standard(body, "new", message_id="evt_settings")
        for _ in range(2):  # idempotency off: each delivery runs
            assert post(client, body, standard, remote_addr="127.0.0.1").status_code == 200
    assert handled == ["evt_settings", "evt_settings"]


def test_a_missing_or_bad_setting_is_a_configuration_error_naming_it(client: Any) -> None:
    with override_settings(RECEIVER_KIT_SECRETS=None), \
            pytest.raises(ConfigurationError, match="RECEIVER_KIT_SECRETS"):
        post(client, event_body())
    with override_settings(RECEIVER_KIT_REQUIRE_STANDARD="yes"), \
            pytest.raises(ConfigurationError, match="RECEIVER_KIT_REQUIRE_STANDARD"):
        post(client, event_body())


def test_a_view_that_fails_or_answers_non_2xx_is_retried(client: Any) -> None:
    answers.extend([RuntimeError("database down"), 503, 422])
    body = event_body("evt_retry")
    with pytest.raises(RuntimeError, match="database down"):
        post(client, body)
    assert post(client, body).status_code == 503
    assert post(client, body).status_code == 422
    assert post(client, body).status_code == 200
    assert json.loads(post(client, body).content)["status"] == "duplicate"
    assert handled == ["evt_retry"] * 4


def test_async_views_with_url_arguments_work(client: Any) -> None:
    body = event_body("evt_async")
    assert post(client, body, path="/tenants/acme/webhook").content == b"OK"
    assert json.loads(post(client, body, path="/tenants/acme/webhook").content)["status"] \
        == "duplicate"
    assert post(client, event_body(), {}, path="/tenants/acme/webhook").status_code == 401
    assert handled == ["acme:evt_async"]


def test_rejection_response_answers_a_check_made_by_hand(client: Any) -> None:
    body = event_body("evt_hand")
    assert json.loads(post(client, body, path="/by-hand").content) == {"handled": "evt_hand"}
    refused = post(client, body, {}, path="/by-hand")
    assert (refused.status_code, error_code(refused)) == (401, "invalid_signature")


def test_returning_a_rejection_from_a_view_fails_and_is_never_a_2xx(client: Any) -> None:
    # Django cannot send it: the request fails (a 500 under a server), no 2xx is sent.
    with pytest.raises(AttributeError, match="InvalidSignature"):
        post(client, event_body(), {}, path="/mistake")
