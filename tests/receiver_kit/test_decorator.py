"""@verify_webhook through Flask's test client: every answer, duplicates, failures, proxies."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import redis
from flask import Flask, g
from werkzeug.middleware.proxy_fix import ProxyFix

from receiver_kit import (
    SIGNATURE_HEADER,
    ConfigurationError,
    IPAllowlist,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    current_event,
    sign,
    verify_webhook,
)
from receiver_kit.flask import settings_source

from .conftest import CLAWBOOK_ADDR, SECRET, Receiver, event_body, signed_headers

MakeReceiver = Callable[..., Receiver]


def forwarded(body: bytes, chain: str) -> dict[str, str]:
    """Signed headers with ``X-Forwarded-For: chain``."""
    return signed_headers(body, **{"X-Forwarded-For": chain})


def error_code(response: Any) -> str:
    assert response.mimetype == "application/json"
    return str(response.get_json()["error"]["code"])


def test_valid_webhook_reaches_the_view_with_its_event(make_receiver: MakeReceiver) -> None:
    receiver = make_receiver(secret=SECRET)
    body = event_body("evt_abc123", content="Hello, how are you?")
    response = receiver.post(body)
    assert response.status_code == 200
    assert response.data == b"OK"
    assert receiver.handled == [json.loads(body)]


def test_event_is_also_on_flask_g_and_url_variables_pass_through() -> None:
    app = Flask(__name__)
    seen: list[Any] = []

    @app.post("/hooks/<tenant>")
    @verify_webhook(secret=SECRET)
    def tenant_hook(tenant: str) -> dict[str, Any]:
        seen.append((tenant, g.webhook_event["id"], current_event()["type"]))
        return {"ok": True}

    body = event_body("evt_1")
    response = app.test_client().post("/hooks/acme", data=body, headers=signed_headers(body),
                                      environ_base={"REMOTE_ADDR": CLAWBOOK_ADDR})
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}
    assert seen == [("acme", "evt_1", "message.received")]
    assert tenant_hook.__name__ == "tenant_hook"
    assert "tenant_hook" in app.view_functions


def test_current_event_outside_a_protected_view_says_so() -> None:
    with Flask(__name__).test_request_context(), pytest.raises(RuntimeError, match="decorated"):
        current_event()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({SIGNATURE_HEADER: ""}, id="empty"),
        pytest.param({SIGNATURE_HEADER: sign(b"other body", SECRET)}, id="other-body"),
        pytest.param({SIGNATURE_HEADER: sign(event_body(), "wrong-secret")}, id="wrong-secret"),
        pytest.param({SIGNATURE_HEADER: sign(event_body(), SECRET) + "ff"}, id="trailing"),
    ],
)
def test_missing_or_bad_signature_is_401(make_receiver: MakeReceiver,
                                         headers: dict[str, str]) -> None:
    receiver = make_receiver(secret=SECRET)
    response = receiver.post(event_body(), headers=headers)
    assert response.status_code == 401
    assert error_code(response) == "invalid_signature"
    assert receiver.handled == []


def test_signature_is_checked_on_the_raw_bytes_not_reserialized_json(
    make_receiver: MakeReceiver,
) -> None:
    receiver = make_receiver(secret=SECRET)
    body = b'{ "id" : "evt_spaced",\n  "type": "message.sent", "data": {} }'
    assert receiver.post(body).status_code == 200
    assert receiver.handled[0]["id"] == "evt_spaced"


def test_address_outside_the_allowlist_is_403_even_with_a_valid_signature(
    make_receiver: MakeReceiver,
) -> None:
    receiver = make_receiver(secret=SECRET)  # default allowlist: the seed's networks
    response = receiver.post(event_body(), remote_addr="127.0.0.1")
    assert response.status_code == 403
    assert error_code(response) == "forbidden_address"
    assert receiver.post(event_body(), remote_addr="198.51.100.20").status_code == 200


def test_allowlist_is_checked_before_the_signature(make_receiver: MakeReceiver) -> None:
    receiver = make_receiver(secret=SECRET)
    response = receiver.post(event_body(), headers={}, remote_addr="192.0.2.1")
    assert response.status_code == 403


def test_allowlist_with_loopback_and_allow_all(make_receiver: MakeReceiver) -> None:
    local = make_receiver(secret=SECRET, allowlist=["127.0.0.1/32", "::1"])
    assert local.post(event_body(), remote_addr="127.0.0.1").status_code == 200
    assert local.post(event_body("evt_2"), remote_addr="::1").status_code == 200
    assert local.post(event_body("evt_3"), remote_addr=CLAWBOOK_ADDR).status_code == 403
    anywhere = make_receiver(secret=SECRET, allowlist="*")
    assert anywhere.post(event_body(), remote_addr="192.0.2.1").status_code == 200
    assert anywhere.post(event_body("evt_2"), headers={}, remote_addr="192.0.2.1").status_code \
        == 401


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"evt_1"', id="string"),
        pytest.param(b'{"type": "message.received"}', id="no-id"),
        pytest.param(b'{"id": "evt_1"}', id="no-type"),
        pytest.param(b'{"id": 1, "type": "message.received"}', id="numeric-id"),
        pytest.param(b'{"id": "", "type": "message.received"}', id="empty-id"),
    ],
)
def test_signed_body_that_is_not_an_event_is_400(make_receiver: MakeReceiver,
                                                  body: bytes) -> None:
    receiver = make_receiver(secret=SECRET)
    response = receiver.post(body)
    assert response.status_code == 400
    assert error_code(response) == "invalid_payload"
    assert receiver.handled == []


def test_duplicate_event_id_runs_the_view_once(make_receiver: MakeReceiver) -> None:
    receiver = make_receiver(secret=SECRET, idempotency=MemoryIdempotencyStore())
    body = event_body("evt_dup")
    first = receiver.post(body)
    second = receiver.post(body)
    assert first.status_code == 200 and first.data == b"OK"
    assert second.status_code == 200
    assert second.get_json() == {"status": "duplicate", "id": "evt_dup"}
    assert len(receiver.handled) == 1
    assert receiver.post(event_body("evt_other")).status_code == 200
    assert len(receiver.handled) == 2


def test_default_store_is_one_per_app_shared_by_its_views() -> None:
    app = Flask(__name__)
    calls: list[str] = []

    @app.post("/a")
    @verify_webhook(secret=SECRET)
    def a() -> str:
        calls.append("a")
        return "OK"

    @app.post("/b")
    @verify_webhook(secret=SECRET)
    def b() -> str:
        calls.append("b")
        return "OK"

    client = app.test_client()
    body = event_body("evt_1")
    for path in ("/a", "/b", "/a"):
        response = client.post(path, data=body, headers=signed_headers(body),
                               environ_base={"REMOTE_ADDR": CLAWBOOK_ADDR})
        assert response.status_code == 200
    assert calls == ["a"]
    other_app = Flask(__name__)
    other_app.add_url_rule("/a", view_func=a, methods=["POST"])
    response = other_app.test_client().post("/a", data=body, headers=signed_headers(body),
                                            environ_base={"REMOTE_ADDR": CLAWBOOK_ADDR})
    assert response.data == b"OK"
    assert calls == ["a", "a"]


def test_idempotency_false_runs_every_delivery(make_receiver: MakeReceiver) -> None:
    receiver = make_receiver(secret=SECRET, idempotency=False)
    body = event_body("evt_dup")
    assert receiver.post(body).data == b"OK"
    assert receiver.post(body).data == b"OK"
    assert len(receiver.handled) == 2


def test_view_that_raises_is_not_marked_processed(make_receiver: MakeReceiver) -> None:
    failures = [RuntimeError("database down")]

    def view(event: dict[str, Any]) -> str:
        if failures:
            raise failures.pop()
        return "OK"

    receiver = make_receiver(view, secret=SECRET, testing=False)
    body = event_body("evt_retry")
    assert receiver.post(body).status_code == 500  # ClawBook retries a 5xx
    retry = receiver.post(body)
    assert retry.status_code == 200 and retry.data == b"OK"
    assert receiver.post(body).get_json()["status"] == "duplicate"
    assert len(receiver.handled) == 2


@pytest.mark.parametrize("failure", [("busy", 503), ("oops", 500), ("nope", 422)])
def test_view_that_answers_non_2xx_is_not_marked_processed(
    make_receiver: MakeReceiver, failure: tuple[str, int]
) -> None:
    answers = [failure, "OK"]
    receiver = make_receiver(lambda event: answers.pop(0), secret=SECRET)
    body = event_body("evt_retry")
    assert receiver.post(body).status_code == failure[1]
    assert receiver.post(body).data == b"OK"
    assert receiver.post(body).get_json()["status"] == "duplicate"
    assert len(receiver.handled) == 2


def test_concurrent_duplicate_waits_with_a_retryable_503(make_receiver: MakeReceiver) -> None:
    entered, finish = threading.Event(), threading.Event()

    def slow_view(event: dict[str, Any]) -> str:
        entered.set()
        assert finish.wait(10)
        return "OK"

    receiver = make_receiver(slow_view, secret=SECRET)
    body = event_body("evt_slow")
    first: list[Any] = []
    thread = threading.Thread(target=lambda: first.append(receiver.post(body)))
    thread.start()
    try:
        assert entered.wait(10)
        concurrent = receiver.post(body)
        assert concurrent.status_code == 503
        assert concurrent.headers["Retry-After"] == "60"
        assert error_code(concurrent) == "event_in_progress"
    finally:
        finish.set()
        thread.join(10)
    assert first[0].status_code == 200
    assert receiver.post(body).get_json()["status"] == "duplicate"
    assert len(receiver.handled) == 1


def test_spoofed_x_forwarded_for_from_an_untrusted_peer_is_403(
    make_receiver: MakeReceiver,
) -> None:
    receiver = make_receiver(secret=SECRET, allowlist=["203.0.113.0/24", "127.0.0.1/32"])
    body = event_body()
    # trusted_proxies not configured: the header is ignored and the peer is the client
    response = receiver.post(body, headers=forwarded(body, "127.0.0.1"),
                             remote_addr="192.0.2.1")
    assert response.status_code == 403
    proxied = make_receiver(secret=SECRET, trusted_proxies=["10.0.0.1"])
    response = proxied.post(body, headers=forwarded(body, CLAWBOOK_ADDR),
                            remote_addr="192.0.2.1")
    assert response.status_code == 403
    assert receiver.handled == proxied.handled == []


def test_x_forwarded_for_from_a_trusted_proxy_is_honoured(make_receiver: MakeReceiver) -> None:
    receiver = make_receiver(secret=SECRET, trusted_proxies=["10.0.0.0/8"])
    body = event_body()
    ok = receiver.post(body, headers=forwarded(body, CLAWBOOK_ADDR),
                       remote_addr="10.0.0.1")
    assert ok.status_code == 200
    # the client prepended an allowed address itself; the proxy appended the real one
    spoofed = receiver.post(
        event_body("evt_2"),
        headers=signed_headers(event_body("evt_2"),
                               **{"X-Forwarded-For": f"{CLAWBOOK_ADDR}, 192.0.2.1"}),
        remote_addr="10.0.0.1",
    )
    assert spoofed.status_code == 403
    # the proxy itself is not an allowed sender
    alone = receiver.post(event_body("evt_3"), remote_addr="10.0.0.1")
    assert alone.status_code == 403


def test_behind_proxyfix_remote_addr_is_already_the_client(make_receiver: MakeReceiver) -> None:
    receiver = make_receiver(secret=SECRET)
    receiver.app.wsgi_app = ProxyFix(receiver.app.wsgi_app, x_for=1)  # type: ignore[method-assign]
    body = event_body()
    response = receiver.post(body, headers=forwarded(body, CLAWBOOK_ADDR),
                             remote_addr="127.0.0.1")
    assert response.status_code == 200


def test_settings_fall_back_to_app_config(make_receiver: MakeReceiver) -> None:
    receiver = make_receiver(config={
        "RECEIVER_KIT_SECRETS": ["old-secret", "new-secret"],
        "RECEIVER_KIT_ALLOWLIST": "203.0.113.0/24, 127.0.0.1",
        "RECEIVER_KIT_TRUSTED_PROXIES": ["10.0.0.0/8"],
        "RECEIVER_KIT_IDEMPOTENCY": False,
    })
    body = event_body()
    for secret in ("old-secret", "new-secret"):
        assert receiver.post(body, headers=signed_headers(body, secret)).status_code == 200
    assert receiver.post(body, headers=signed_headers(body, "x")).status_code == 401
    assert receiver.post(body, headers=signed_headers(body, "new-secret"),
                         remote_addr="127.0.0.1").status_code == 200
    via_proxy = signed_headers(body, "new-secret", **{"X-Forwarded-For": "127.0.0.1"})
    assert receiver.post(body, headers=via_proxy, remote_addr="10.1.1.1").status_code == 200
    assert receiver.post(body, headers=via_proxy, remote_addr="198.51.100.1").status_code == 403
    assert len(receiver.handled) == 4  # idempotency off: each delivery ran


def test_arguments_win_over_app_config(make_receiver: MakeReceiver) -> None:
    receiver = make_receiver(config={"RECEIVER_KIT_SECRETS": "config-secret",
                                     "RECEIVER_KIT_ALLOWLIST": "*"},
                             secret=SECRET, allowlist=IPAllowlist(["127.0.0.1"]))
    body = event_body()
    assert receiver.post(body, remote_addr="127.0.0.1").status_code == 200
    assert receiver.post(body, headers=signed_headers(body, "config-secret"),
                         remote_addr="127.0.0.1").status_code == 401
    assert receiver.post(event_body("evt_2"), remote_addr=CLAWBOOK_ADDR).status_code == 403


def test_missing_secret_is_a_configuration_error(make_receiver: MakeReceiver) -> None:
    receiver = make_receiver()
    with pytest.raises(ConfigurationError, match="RECEIVER_KIT_SECRETS"):
        receiver.post(event_body())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"secret": ""},
        {"secret": SECRET, "allowlist": ["not a network"]},
        {"secret": SECRET, "trusted_proxies": ["10.0.0.0/33"]},
        {"secret": SECRET, "allowlist": IPAllowlist(), "trusted_proxies": ["10.0.0.1"]},
        {"secret": SECRET, "idempotency": 42},
    ],
)
def test_bad_arguments_fail_at_decoration_time(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        verify_webhook(**kwargs)


def test_duplicate_with_the_redis_store_across_two_apps(
    make_receiver: MakeReceiver, redis_url: str, redis_conn: redis.Redis
) -> None:
    # Two apps stand for two worker processes sharing one Redis.
    first = make_receiver(secret=SECRET, idempotency=RedisIdempotencyStore(redis_conn))
    second = make_receiver(config={"RECEIVER_KIT_SECRETS": SECRET,
                                   "RECEIVER_KIT_IDEMPOTENCY": redis_url})
    body = event_body("evt_shared")
    assert first.post(body).data == b"OK"
    assert first.post(body).get_json()["status"] == "duplicate"
    assert second.post(body).get_json()["status"] == "duplicate"
    assert len(first.handled) == 1 and second.handled == []
    assert redis_conn.get("receiver_kit:event:evt_shared") == b"done"
    # the store the app made from its setting, once: close its connections
    store = settings_source(second.app).store_for(second.app.config["RECEIVER_KIT_IDEMPOTENCY"])
    assert isinstance(store, RedisIdempotencyStore)
    store.client.close()


def test_failed_view_with_the_redis_store_is_retried(make_receiver: MakeReceiver,
                                                     redis_conn: redis.Redis) -> None:
    answers: list[Any] = [("try later", 503), "OK"]
    receiver = make_receiver(lambda event: answers.pop(0), secret=SECRET,
                             idempotency=RedisIdempotencyStore(redis_conn))
    body = event_body("evt_redis_retry")
    assert receiver.post(body).status_code == 503
    assert not redis_conn.exists("receiver_kit:event:evt_redis_retry")
    assert receiver.post(body).data == b"OK"
    assert receiver.post(body).get_json()["status"] == "duplicate"
    assert len(receiver.handled) == 2
