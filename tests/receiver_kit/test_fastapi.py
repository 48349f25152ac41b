"""receiver_kit.fastapi's WebhookVerifier dependency, through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis
from fastapi import Depends, FastAPI, HTTPException, Request, Response

from receiver_kit import WebhookRejected, check_request
from receiver_kit.fastapi import WebhookVerifier, http_exception

from ..fixtures import run_async
from .conftest import CLAWBOOK_ADDR, SECRET, event_body, signed_headers


class Receiver:
    """A FastAPI app whose ``/webhook`` endpoint does what ``self.plan`` says next."""

    def __init__(self, **options: Any) -> None:
        self.app = FastAPI()
        self.handled: list[str] = []
        self.plan: list[Callable[[Response], Any]] = []
        verified = WebhookVerifier(secret=SECRET, **options)
        self.verifier = verified

        # The default form, since an Annotated alias made here would be a local name that
        # FastAPI cannot resolve from this module's string annotations.
        @self.app.post("/webhook")
        async def webhook(response: Response,
                          event: dict[str, Any] = Depends(verified)) -> Any:  # noqa: B008
            self.handled.append(event["id"])
            if self.plan:
                return await self.plan.pop(0)(response)
            return {"handled": event["id"]}

        @self.app.post("/by-hand")
        async def by_hand(request: Request) -> Any:
            try:
                check_request(await request.body(), request.headers, CLAWBOOK_ADDR,
                              secrets=SECRET)
            except WebhookRejected as exc:
                raise http_exception(exc) from None

        @self.app.post("/mistake/{what}")
        async def mistake(what: str) -> Any:
            try:
                check_request(b"{}", {}, CLAWBOOK_ADDR, secrets=SECRET)
            except WebhookRejected as exc:
                if what == "exception":
                    return exc
                if what == "answer":
                    return exc.answer
                return exc.get_response()  # removed: fails at once

    async def post(self, body: bytes, headers: dict[str, str] | None = None,
                   client: str = CLAWBOOK_ADDR, path: str = "/webhook") -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app, client=(client, 4711),
                                        raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as http:
            return await http.post(path, content=body,
                                   headers=signed_headers(body) if headers is None else headers)

    def send(self, body: bytes, headers: dict[str, str] | None = None,
             client: str = CLAWBOOK_ADDR, path: str = "/webhook") -> httpx.Response:
        return run_async(self.post(body, headers, client, path))


def detail(response: httpx.Response) -> Any:
    return response.json()["detail"]


def test_a_valid_webhook_reaches_the_endpoint_once_and_a_repeat_is_a_duplicate() -> None:
    receiver = Receiver()
    body = event_body("evt_fa1")
    first = receiver.send(body)
    assert (first.status_code, first.json()) == (200, {"handled": "evt_fa1"})
    again = receiver.send(body)
    assert (again.status_code, detail(again)) == (200, {"status": "duplicate", "id": "evt_fa1"})
    assert receiver.handled == ["evt_fa1"]


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
def test_rejected_requests_raise_http_exceptions_with_the_right_status(
    body: bytes, headers: dict[str, str] | None, client: str, status: int, code: str,
) -> None:
    receiver = Receiver()
    response = receiver.send(body, headers, client)
    assert (response.status_code, detail(response)["code"]) == (status, code)
    assert receiver.handled == []


def test_a_concurrent_duplicate_gets_a_retryable_503_while_the_first_runs() -> None:
    receiver = Receiver()
    body = event_body("evt_slow")

    async def scenario() -> list[httpx.Response]:
        entered, finish = asyncio.Event(), asyncio.Event()

        async def slow(response: Response) -> str:
            entered.set()
            await finish.wait()
            return "OK"

        receiver.plan.append(slow)
        first = asyncio.create_task(receiver.post(body))
        await asyncio.wait_for(entered.wait(), 10)
        concurrent = await receiver.post(body)
        finish.set()
        return [await first, concurrent, await receiver.post(body)]

    first, concurrent, later = run_async(scenario())
    assert first.status_code == 200
    assert (concurrent.status_code, detail(concurrent)["code"]) == (503, "event_in_progress")
    assert concurrent.headers["Retry-After"] == "60"
    assert detail(later)["status"] == "duplicate"
    assert receiver.handled == ["evt_slow"]


def test_an_endpoint_that_raises_or_sets_a_failing_status_is_run_again() -> None:
    async def busy(response: Response) -> Any:
        raise HTTPException(503, "busy")

    async def crash(response: Response) -> Any:
        raise RuntimeError("database down")

    async def failing_status(response: Response) -> Any:
        response.status_code = 500
        return {"ok": False}

    receiver = Receiver()
    receiver.plan.extend([busy, crash, failing_status])
    body = event_body("evt_retry")
    assert [receiver.send(body).status_code for _ in range(4)] == [503, 500, 500, 200]
    assert detail(receiver.send(body))["status"] == "duplicate"
    assert receiver.handled == ["evt_retry"] * 4


def test_a_check_made_by_hand_is_answered_with_http_exception() -> None:
    response = Receiver().send(b'{"id": "evt_1"}', {}, path="/by-hand")
    assert (response.status_code, detail(response)["code"]) == (401, "invalid_signature")


@pytest.mark.parametrize("what", ["exception", "answer", "get_response"])
def test_returning_a_rejection_from_an_endpoint_is_never_a_2xx(what: str) -> None:
    # Before 0.2, `return exc.get_response()` was answered 200 here.
    response = Receiver().send(b"{}", {}, path=f"/mistake/{what}")
    assert response.status_code == 500


def test_the_redis_store_is_shared_and_called_off_the_event_loop(
    redis_url: str, redis_conn: redis.Redis
) -> None:
    first, second = Receiver(idempotency=redis_url), Receiver(idempotency=redis_url)
    body = event_body("evt_redis")
    assert first.send(body).status_code == 200
    assert detail(second.send(body))["status"] == "duplicate"
    assert redis_conn.get("receiver_kit:event:evt_redis") == b"done"
    assert first.handled == ["evt_redis"] and second.handled == []
    for receiver in (first, second):
        receiver.verifier.options.store.client.close()  # type: ignore[union-attr]
