"""receiver_kit.asgi's WebhookMiddleware around Starlette and bare ASGI apps, via httpx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from receiver_kit.asgi import EVENT_SCOPE_KEY, WebhookMiddleware, current_event

from ..fixtures import run_async
from .conftest import CLAWBOOK_ADDR, SECRET, event_body, signed_headers


class Receiver:
    """A Starlette app; ``/webhook`` is protected and answers what ``self.plan`` says."""

    def __init__(self, **options: Any) -> None:
        self.seen: list[tuple[str, bytes, Any]] = []
        self.plan: list[Any] = []

        async def webhook(request: Request) -> Response:
            body = await request.body()
            self.seen.append((request.url.path, body, request.scope.get(EVENT_SCOPE_KEY)))
            planned = self.plan.pop(0) if self.plan else None
            if isinstance(planned, BaseException):
                raise planned
            if planned == "fail-while-streaming":
                async def chunks() -> AsyncIterator[bytes]:
                    yield b"partial"
                    raise RuntimeError("lost the database mid-response")

                return StreamingResponse(chunks())
            if isinstance(planned, int):
                return PlainTextResponse("planned", status_code=planned)
            return PlainTextResponse(f"handled {current_event(request.scope)['id']}")

        async def other(request: Request) -> Response:
            self.seen.append((request.url.path, await request.body(), None))
            return PlainTextResponse("other")

        middleware = WebhookMiddleware
        self.app = Starlette(
            routes=[Route("/webhook", webhook, methods=["POST"]),
                    Route("/other", other, methods=["POST"])],
            middleware=[Middleware(middleware, secret=SECRET, path="/webhook", **options)],
        )

    async def post(self, body: Any, headers: dict[str, str] | None = None,
                   client: str = CLAWBOOK_ADDR, path: str = "/webhook") -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app, client=(client, 4711),
                                        raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as http:
            return await http.post(path, content=body, headers=headers)

    def send(self, body: bytes, headers: dict[str, str] | None = None,
             client: str = CLAWBOOK_ADDR, path: str = "/webhook") -> httpx.Response:
        signed = signed_headers(body) if headers is None else headers
        return run_async(self.post(body, signed, client, path))


def test_a_valid_webhook_reaches_the_app_with_its_body_replayed_and_its_event() -> None:
    receiver = Receiver()
    body = event_body("evt_asgi", content="Grüße 👋")
    response = receiver.send(body)
    assert (response.status_code, response.text) == (200, "handled evt_asgi")
    assert receiver.seen == [("/webhook", body, json.loads(body))]
    duplicate = receiver.send(body)
    assert duplicate.json() == {"status": "duplicate", "id": "evt_asgi"}
    assert len(receiver.seen) == 1


def test_a_body_sent_in_chunks_is_read_to_the_end_before_it_is_verified() -> None:
    receiver = Receiver()
    body = event_body("evt_chunks", content="x" * 5000)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start:start + 1000]

    response = run_async(receiver.post(chunks(), signed_headers(body)))
    assert response.status_code == 200
    assert receiver.seen[0][1] == body


@pytest.mark.parametrize(
    ("body", "headers", "client", "status", "code"),
    [
        (event_body(), {}, CLAWBOOK_ADDR, 401, "invalid_signature"),
        (event_body(), signed_headers(event_body(), "wrong"), CLAWBOOK_ADDR, 401,
         "invalid_signature"),
        (event_body(), None, "192.0.2.1", 403, "forbidden_address"),
        (b"[1, 2]", None, CLAWBOOK_ADDR, 400, "invalid_payload"),
    ],
)
def test_rejected_requests_are_answered_by_the_middleware_and_never_reach_the_app(
    body: bytes, headers: dict[str, str] | None, client: str, status: int, code: str,
) -> None:
    receiver = Receiver()
    response = receiver.send(body, headers, client)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert receiver.seen == []


def test_other_paths_pass_through_unchecked() -> None:
    receiver = Receiver()
    response = receiver.send(b"anything", {}, client="192.0.2.1", path="/other")
    assert (response.status_code, response.text) == (200, "other")
    assert receiver.seen == [("/other", b"anything", None)]


def test_a_failure_or_a_non_2xx_answer_leaves_the_event_for_the_retry() -> None:
    receiver = Receiver()
    receiver.plan.extend([503, RuntimeError("database down"), "fail-while-streaming"])
    body = event_body("evt_retry")
    assert receiver.send(body).status_code == 503
    assert receiver.send(body).status_code == 500
    broken = receiver.send(body)  # a 200 that broke off: the app raised mid-response
    assert (broken.status_code, broken.text) == (200, "partial")
    assert receiver.send(body).text == "handled evt_retry"
    assert receiver.send(body).json()["status"] == "duplicate"
    assert len(receiver.seen) == 4


def test_trusted_proxies_and_the_redis_store(redis_url: str, redis_conn: redis.Redis) -> None:
    receiver = Receiver(trusted_proxies=["10.0.0.0/8"], idempotency=redis_url)
    body = event_body("evt_proxied")
    headers = signed_headers(body, **{"X-Forwarded-For": CLAWBOOK_ADDR})
    assert receiver.send(body, headers, client="10.0.0.1").status_code == 200
    assert receiver.send(body, headers, client="10.0.0.1").json()["status"] == "duplicate"
    assert receiver.send(body, headers, client="192.0.2.1").status_code == 403
    assert redis_conn.get("receiver_kit:event:evt_proxied") == b"done"


def test_lifespan_and_websocket_scopes_pass_through_untouched() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = WebhookMiddleware(inner, secret=SECRET, path="/webhook")

    async def nothing() -> Any:
        return {}

    async def drop(message: Any) -> None:
        return None

    for kind in ("lifespan", "websocket"):
        run_async(middleware({"type": kind, "path": "/webhook"}, nothing, drop))
    assert seen == ["lifespan", "websocket"]


def test_a_client_that_disconnects_before_the_end_of_the_body_gets_no_answer() -> None:
    sent: list[Any] = []
    messages = [{"type": "http.request", "body": b"{", "more_body": True},
                {"type": "http.disconnect"}]

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not run")

    async def receive() -> Any:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    middleware = WebhookMiddleware(inner, secret=SECRET, path="/webhook")
    run_async(middleware({"type": "http", "path": "/webhook", "headers": []}, receive, send))
    assert sent == []


def test_current_event_outside_the_middleware_says_so() -> None:
    with pytest.raises(RuntimeError, match="WebhookMiddleware"):
        current_event({"type": "http", "path": "/elsewhere"})
