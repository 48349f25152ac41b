"""WebhookMiddleware around a plain WSGI app (no Flask), through a real HTTP server too."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import redis
import requests
from werkzeug.test import Client

from receiver_kit import (
    SIGNATURE_HEADER,
    ConfigurationError,
    IPAllowlist,
    RedisIdempotencyStore,
    WebhookRejected,
    check_request,
)
from receiver_kit.wsgi import (
    EVENT_ENVIRON_KEY,
    WebhookMiddleware,
    headers_from_environ,
    read_body,
)

from ..fixtures import serve_in_thread
from .conftest import CLAWBOOK_ADDR, SECRET, event_body, signed_headers


class PlainApp:
    """A WSGI app with no framework: records what it saw, answers ``self.status``."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes, Any]] = []
        self.status = "200 OK"
        self.fail_while_streaming = False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        self.seen.append((environ["PATH_INFO"], body, environ.get(EVENT_ENVIRON_KEY)))
        return self._respond(start_response)

    def _respond(self, start_response: Any) -> Iterator[bytes]:
        start_response(self.status, [("Content-Type", "text/plain")])
        yield b"handled"
        if self.fail_while_streaming:
            raise RuntimeError("lost the database mid-response")


@pytest.fixture
def inner() -> PlainApp:
    return PlainApp()


def post(app: Any, body: bytes, headers: dict[str, str] | None = None,
         remote_addr: str = CLAWBOOK_ADDR, path: str = "/webhook") -> Any:
    # buffered: read the whole response and close it, as a WSGI server does
    return Client(app).post(path, data=body, buffered=True,
                            headers=signed_headers(body) if headers is None else headers,
                            environ_base={"REMOTE_ADDR": remote_addr})


def test_valid_webhook_reaches_the_app_with_body_and_event(inner: PlainApp) -> None:
    app = WebhookMiddleware(inner, secret=SECRET)
    body = event_body("evt_1")
    response = post(app, body)
    assert response.status_code == 200
    assert response.get_data() == b"handled"
    assert inner.seen == [("/webhook", body, json.loads(body))]


def test_other_paths_pass_through_unchecked(inner: PlainApp) -> None:
    app = WebhookMiddleware(inner, secret=SECRET, path=["/webhook", "/hooks/clawbook"])
    response = post(app, b"anything", headers={}, remote_addr="192.0.2.1", path="/health")
    assert response.status_code == 200
    assert inner.seen == [("/health", b"anything", None)]
    assert post(app, b"anything", headers={}, path="/hooks/clawbook").status_code == 401


@pytest.mark.parametrize(
    ("body", "headers", "remote_addr", "status", "code"),
    [
        (event_body(), {}, CLAWBOOK_ADDR, 401, "invalid_signature"),
        (event_body(), {SIGNATURE_HEADER: "sha1=abc"}, CLAWBOOK_ADDR, 401, "invalid_signature"),
        (event_body(), None, "192.0.2.1", 403, "forbidden_address"),
        (b"[1, 2]", None, CLAWBOOK_ADDR, 400, "invalid_payload"),
    ],
)
def test_rejected_requests_never_reach_the_app(
    inner: PlainApp, body: bytes, headers: dict[str, str] | None, remote_addr: str,
    status: int, code: str,
) -> None:
    app = WebhookMiddleware(inner, secret=SECRET)
    response = post(app, body, headers, remote_addr)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json() == {"error": {"code": code, "message": response.get_json()
                                             ["error"]["message"]}}
    assert inner.seen == []


def test_duplicate_is_answered_by_the_middleware(inner: PlainApp) -> None:
    app = WebhookMiddleware(inner, secret=SECRET)
    body = event_body("evt_dup")
    assert post(app, body).get_data() == b"handled"
    duplicate = post(app, body)
    assert duplicate.status_code == 200
    assert duplicate.get_json() == {"status": "duplicate", "id": "evt_dup"}
    assert len(inner.seen) == 1


def test_non_2xx_answer_or_error_mid_response_is_not_marked_processed(inner: PlainApp) -> None:
    app = WebhookMiddleware(inner, secret=SECRET)
    body = event_body("evt_retry")
    inner.status = "500 Internal Server Error"
    assert post(app, body).status_code == 500
    inner.status, inner.fail_while_streaming = "200 OK", True
    with pytest.raises(RuntimeError, match="mid-response"):
        post(app, body)
    inner.fail_while_streaming = False
    assert post(app, body).get_data() == b"handled"
    assert post(app, body).get_json()["status"] == "duplicate"
    assert len(inner.seen) == 3


def test_trusted_proxy_and_redis_store(inner: PlainApp, redis_conn: redis.Redis) -> None:
    app = WebhookMiddleware(inner, secret=["old", SECRET],
                            allowlist=IPAllowlist(trusted_proxies=["10.0.0.0/8"]),
                            idempotency=RedisIdempotencyStore(redis_conn))
    body = event_body("evt_proxied")
    headers = signed_headers(body, **{"X-Forwarded-For": CLAWBOOK_ADDR})
    assert post(app, body, headers, remote_addr="10.0.0.1").status_code == 200
    assert post(app, body, headers, remote_addr="10.0.0.1").get_json()["status"] == "duplicate"
    assert post(app, body, headers, remote_addr="192.0.2.1").status_code == 403
    assert redis_conn.get("receiver_kit:event:evt_proxied") == b"done"


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_over_real_http_with_the_standard_library_server(inner: PlainApp) -> None:
    app = WebhookMiddleware(inner, secret=SECRET, allowlist=["127.0.0.1/32"])
    server = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
    thread = serve_in_thread(server)
    try:
        url = f"http://127.0.0.1:{server.server_port}/webhook"
        body = event_body("evt_http", content="Grüße")
        with requests.Session() as http:
            ok = http.post(url, data=body, headers=signed_headers(body), timeout=10)
            again = http.post(url, data=body, headers=signed_headers(body), timeout=10)
            bad = http.post(url, data=body, headers={SIGNATURE_HEADER: "sha256=00"}, timeout=10)
        assert (ok.status_code, ok.text) == (200, "handled")
        assert again.json()["status"] == "duplicate"
        assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_signature"
        assert [seen[1] for seen in inner.seen] == [body]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_headers_from_environ_let_a_plain_wsgi_app_call_check_request() -> None:
    body = event_body("evt_environ")
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/hook", "REMOTE_ADDR": CLAWBOOK_ADDR,
               "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body),
               "HTTP_X_CLAWBOOK_SIGNATURE": signed_headers(body)[SIGNATURE_HEADER]}
    assert read_body(environ) == body
    headers = headers_from_environ(environ)
    assert ("X-Clawbook-Signature", environ["HTTP_X_CLAWBOOK_SIGNATURE"]) in headers
    assert ("Content-Type", "application/json") in headers
    event = check_request(body, headers, environ["REMOTE_ADDR"], secrets=SECRET)
    assert event["id"] == "evt_environ"
    # environ itself holds no header names: refused, which is why the helper exists
    with pytest.raises(WebhookRejected) as info:
        check_request(body, environ, CLAWBOOK_ADDR, secrets=SECRET)
    assert info.value.status == 401


def test_read_body_reads_content_length_or_a_terminated_stream_and_never_blocks() -> None:
    assert read_body({"wsgi.input": io.BytesIO(b"abcdef"), "CONTENT_LENGTH": "3"}) == b"abc"
    assert read_body({"wsgi.input": io.BytesIO(b"abcdef"), "wsgi.input_terminated": True}) \
        == b"abcdef"
    assert read_body({"wsgi.input": io.BytesIO(b"abcdef")}) == b""  # no length: not read
    assert read_body({"wsgi.input": io.BytesIO(b"abc"), "CONTENT_LENGTH": "x"}) == b""


def test_a_flag_is_checked_not_coerced() -> None:
    # 0.1 turned require_standard="no" into True with bool(); the decorator refused it.
    with pytest.raises(ConfigurationError, match="require_standard"):
        WebhookMiddleware(PlainApp(), secret=SECRET, require_standard="no")  # type: ignore[arg-type]


def test_check_request_with_plain_headers_for_other_frameworks() -> None:
    body = event_body("evt_plain")
    headers = {"x-clawbook-signature": signed_headers(body)[SIGNATURE_HEADER]}
    event = check_request(body, headers, "198.51.100.9", secrets=SECRET)
    assert event["id"] == "evt_plain"
    pairs = [("X-ClawBook-Signature", headers["x-clawbook-signature"]),
             ("X-Forwarded-For", "127.0.0.1")]
    assert check_request(body, pairs, "127.0.0.1", secrets=SECRET, allowlist="127.0.0.1")
    # two signature headers are ambiguous: refused
    doubled = [*pairs, ("X-ClawBook-Signature", headers["x-clawbook-signature"])]
    with pytest.raises(Exception) as info:
        check_request(body, doubled, "127.0.0.1", secrets=SECRET, allowlist="*")
    assert getattr(info.value, "code", None) == 401
