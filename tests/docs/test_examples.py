"""Every Python example in quickstart.rst and receiver.rst runs and does what it says.

quickstart.rst: each block names its file with ``:caption:``; the blocks are written to
those files in a temporary folder and run as the page says, as separate processes:
``init_db.py``, ``add_webhook.py``, the receiver under ``flask run``, a request to the
view, and ``flask clawhooks worker --burst``, against a real SQLite database, the suite's
Redis and the receiver on loopback. The one change made to the page's code is the
receiver's port (``5051``), replaced by a free one.

receiver.rst: each block is run on its own, with a few names the page takes as given
(``receiver_kit``'s names, ``Flask``, ``app``, ``raw_body``, ``headers``,
``application``, ``process``), then probed with the test client of its framework (Flask's,
werkzeug's for WSGI, Django's with CSRF checks on, httpx's ASGI transport for FastAPI and
Starlette): an unsigned request must be refused, a signed one must reach the view, and a
repeat must be answered as a duplicate. ``redis://localhost:6379/0`` is replaced by the
suite's Redis.

A block preceded by the reST comment ``.. skip-test`` is not run; the tests fail if no
block of a page is run at all.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.test import Client

import receiver_kit
from flask_clawhooks.embedded_redis import free_port
from receiver_kit import sign
from receiver_kit.flask import verify_webhook
from receiver_kit.wsgi import WebhookMiddleware

from ..fixtures import run_async
from ..processes import run as run_process
from .rst import Block, code_blocks

SEED_MESSAGE = {
    "conversation_id": "conv_abc456",
    "content": "Hello, how are you?",
    "sender": {"id": "123456789", "name": "John Doe", "username": "@johndoe"},
    "timestamp": "2026-01-30T14:29:58Z",
}


def python_blocks(page: str) -> list[Block]:
    blocks = [b for b in code_blocks(page) if b.language in ("python", "python3", "py")]
    run = [b for b in blocks if not b.skipped]
    assert run, f"no Python example of {page} is run by the tests"
    return run


# -- quickstart.rst -------------------------------------------------------------------


def _wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the receiver exited: {process.communicate()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the receiver did not listen on {port} within {timeout} s")


def test_the_quickstart_sends_a_signed_event_to_its_receiver(tmp_path, redis_url, redis_conn,
                                                             spawn):
    files: dict[str, list[str]] = {}
    for block in python_blocks("quickstart.rst"):
        assert block.caption and block.caption.endswith(".py"), (
            f"quickstart.rst line {block.line}: give the block ':caption: <file>.py' "
            "so that the test knows where it goes")
        files.setdefault(block.caption, []).append(block.code)
    assert {"clawbook.py", "init_db.py", "add_webhook.py", "receiver.py"} <= set(files)
    port = free_port()
    for name, parts in files.items():
        source = "\n\n".join(parts) + "\n"
        if name == "add_webhook.py":
            assert source.count("127.0.0.1:5051") == 1, "the webhook URL the test re-points"
            source = source.replace("127.0.0.1:5051", f"127.0.0.1:{port}")
        (tmp_path / name).write_text(source, encoding="utf-8")
    (tmp_path / "send_message.py").write_text(
        "from clawbook import app\n\n"
        f"response = app.test_client().post('/accounts/acme/messages', json={SEED_MESSAGE!r})\n"
        "assert response.status_code == 201, response.get_data(as_text=True)\n"
        "print(response.get_json()['event_id'])\n", encoding="utf-8")
    # The page's stand-in sign-in opens the dashboard to acme (and only after it).
    (tmp_path / "sign_in.py").write_text(
        "from clawbook import app\n\n"
        "client = app.test_client()\n"
        "first = client.get('/settings/api/webhooks/')\n"
        "assert first.status_code == 302, first.status_code\n"
        "assert first.headers['Location'].startswith('/login?next='), first.headers\n"
        "signed = client.post(first.headers['Location'], data={'account': 'acme'})\n"
        "assert signed.headers['Location'] == '/settings/api/webhooks/', signed.headers\n"
        "page = client.get('/settings/api/webhooks/').get_data(as_text=True)\n"
        "assert 'acme' in page and '/webhook' in page, page\n"
        "away = client.post('/login?next=//evil.example/', data={'account': 'acme'})\n"
        "assert away.headers['Location'] == '/settings/api/webhooks/', away.headers\n",
        encoding="utf-8")

    # The settings the page exports for its one-machine trial, and the suite's Redis.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(PYTHONDONTWRITEBYTECODE="1",
               FLASK_CLAWHOOKS_REDIS_URL=redis_url,
               FLASK_CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS="true",
               FLASK_RECEIVER_KIT_SECRETS="your-webhook-secret",
               FLASK_RECEIVER_KIT_ALLOWLIST="127.0.0.1")

    def run(*args: str) -> str:
        result = run_process([sys.executable, *args], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{args}: {result.stderr}"
        return result.stdout

    receiver = spawn(
        [sys.executable, "-m", "flask", "--app", "receiver", "run", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_port(port, receiver)
        run("init_db.py")
        run("add_webhook.py")
        run("sign_in.py")
        event_id = run("send_message.py").strip()
        run("-m", "flask", "--app", "clawbook", "clawhooks", "worker", "--burst",
            "--log-level", "WARNING")
    finally:
        receiver.terminate()
        out, err = receiver.communicate(timeout=15)

    assert event_id.startswith("evt_")
    assert f"Event: message.received {event_id}" in out, (out, err)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'instance' / 'clawbook.sqlite'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "select status, response_code, attempt_count from clawhooks_delivery "
                "where event_id = :id"), {"id": event_id}).all()
            messages = conn.execute(sa.text("select count(*) from message")).scalar()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("success", 200, 1)]
    assert messages == 1


# -- receiver.rst ---------------------------------------------------------------------

SECRETS = ("your-webhook-secret", "new-secret", "old-secret")
CLAWBOOK_ADDRESS = "203.0.113.7"


def event_body() -> bytes:
    event = {"id": f"evt_doc{secrets.token_hex(6)}", "type": "message.received",
             "created_at": "2026-01-30T14:30:00Z", "data": {"message_id": "msg_xyz789"}}
    return json.dumps(event, separators=(",", ":")).encode()


class Probe:
    """Requests that show a receiver example protects its view and runs it once."""

    def __init__(self) -> None:
        self.checks = 0

    def flask_view(self, app: Flask, path: str) -> None:
        app.config["PROPAGATE_EXCEPTIONS"] = True
        client = app.test_client()
        unsigned = client.post(path, data=event_body(), content_type="application/json",
                               environ_base={"REMOTE_ADDR": CLAWBOOK_ADDRESS})
        assert unsigned.status_code in (401, 403), f"{path} answers an unsigned request"
        for secret in SECRETS:
            for address in (CLAWBOOK_ADDRESS, "127.0.0.1"):
                body = event_body()
                kwargs: dict[str, Any] = dict(
                    data=body, content_type="application/json",
                    headers={"X-ClawBook-Signature": sign(body, secret)},
                    environ_base={"REMOTE_ADDR": address})
                try:
                    response = client.post(path, **kwargs)
                except TypeError as exc:
                    # A view written as `def webhook(): ...` returns None: it was reached.
                    assert "did not return a valid response" in str(exc)
                    self.checks += 1
                    return
                if response.status_code in (401, 403):
                    continue
                assert response.status_code == 200, response.get_data(as_text=True)
                again = client.post(path, **kwargs)
                if app.config.get("RECEIVER_KIT_IDEMPOTENCY") is not False:
                    assert again.get_json(silent=True) == {
                        "status": "duplicate", "id": json.loads(body)["id"]}
                self.checks += 1
                return
        raise AssertionError(f"no signed request reached the view at {path}")

    def middleware(self, application: WebhookMiddleware, seen: list[dict]) -> None:
        client = Client(application)
        assert client.post("/webhook", data=event_body(),
                           environ_base={"REMOTE_ADDR": CLAWBOOK_ADDRESS}).status_code == 401
        body = event_body()
        kwargs: dict[str, Any] = dict(
            data=body, headers={"X-ClawBook-Signature": sign(body, "your-webhook-secret")},
            environ_base={"REMOTE_ADDR": CLAWBOOK_ADDRESS})
        def post() -> Any:
            response = client.post("/webhook", **kwargs)
            response.get_data()
            response.close()  # sent completely: only now is the event processed
            return response

        assert post().status_code == 200
        assert [e["id"] for e in seen] == [json.loads(body)["id"]]
        assert post().get_json() == {"status": "duplicate", "id": json.loads(body)["id"]}
        assert len(seen) == 1, "a duplicate reached the app"
        self.checks += 1

    def wsgi_function(self, application: Any) -> None:
        """A bare WSGI app that checks requests itself: refuses unsigned, accepts signed."""
        client = Client(application)
        assert client.post("/webhook", data=event_body(),
                           environ_base={"REMOTE_ADDR": CLAWBOOK_ADDRESS}).status_code == 401
        body = event_body()
        signed = client.post("/webhook", data=body,
                             headers={"X-ClawBook-Signature": sign(body, "your-webhook-secret")},
                             environ_base={"REMOTE_ADDR": CLAWBOOK_ADDRESS})
        assert signed.status_code == 200, signed.get_data(as_text=True)
        self.checks += 1

    def asgi_app(self, app: Any) -> None:
        """A FastAPI or Starlette app: each POST route refuses, accepts, then dedupes."""

        import httpx

        paths = [route.path for route in app.routes if "POST" in (getattr(route, "methods",
                                                                          None) or ())]
        assert paths, "the ASGI example has no POST route"

        async def post(path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
            transport = httpx.ASGITransport(app=app, client=(CLAWBOOK_ADDRESS, 4711))
            async with httpx.AsyncClient(transport=transport, base_url="http://doc") as http:
                return await http.post(path, content=body, headers=headers)

        for path in paths:
            body = event_body()
            signed = {"X-ClawBook-Signature": sign(body, "your-webhook-secret")}
            unsigned = run_async(post(path, body, {}))
            assert unsigned.status_code in (401, 403), f"{path} answers an unsigned request"
            first = run_async(post(path, body, signed))
            assert first.status_code == 200, first.text
            again = run_async(post(path, body, signed))
            assert again.status_code == 200 and '"duplicate"' in again.text, again.text
            self.checks += 1

    def django_urls(self, namespace: dict[str, Any]) -> None:
        """A Django example: its urlpatterns, with the RECEIVER_KIT_* settings it sets."""
        import types

        from django.test import Client as DjangoClient
        from django.test import override_settings

        from tests.receiver_kit.django_config import configure_django

        configure_django()
        urls = types.ModuleType("receiver_doc_urls")
        urls.urlpatterns = namespace["urlpatterns"]  # type: ignore[attr-defined]
        settings = {k: v for k, v in namespace.items() if k.startswith("RECEIVER_KIT_")}
        with override_settings(ROOT_URLCONF=urls, **settings):
            client = DjangoClient(enforce_csrf_checks=True)
            for pattern in namespace["urlpatterns"]:
                path = "/" + str(pattern.pattern)
                body = event_body()
                unsigned = client.post(path, data=body, content_type="application/json",
                                       REMOTE_ADDR=CLAWBOOK_ADDRESS)
                assert unsigned.status_code in (401, 403), f"{path} answers an unsigned request"
                kwargs: dict[str, Any] = dict(
                    data=body, content_type="application/json", REMOTE_ADDR=CLAWBOOK_ADDRESS,
                    headers={"X-ClawBook-Signature": sign(body, "your-webhook-secret")})
                first = client.post(path, **kwargs)
                assert first.status_code == 200, first.content
                again = client.post(path, **kwargs)
                assert json.loads(again.content)["status"] == "duplicate"
                self.checks += 1

    def handler(self, handle: Any, processed: list[dict]) -> None:
        body = event_body()
        good = {"X-ClawBook-Signature": sign(body, "your-webhook-secret")}
        assert handle(body, {"X-ClawBook-Signature": "sha256=00"}, CLAWBOOK_ADDRESS)[0] == 401
        assert handle(body, good, CLAWBOOK_ADDRESS) == (200, "OK")
        assert handle(body, good, CLAWBOOK_ADDRESS)[1]["status"] == "duplicate"
        assert [e["id"] for e in processed] == [json.loads(body)["id"]]
        self.checks += 1


def _defines_a_route(code: str) -> bool:
    return re.search(r"@\w+\.(post|route|add_url_rule)\(", code) is not None


def _another_framework(code: str) -> bool:
    """The block is written for an adapter other than Flask's; it brings its own app."""
    return re.search(r"receiver_kit\.(django|fastapi|asgi|wsgi)\b", code) is not None


def _inner_wsgi_app(seen: list[dict]) -> Any:
    def application(environ: dict, start_response: Any) -> list[bytes]:
        seen.append(environ["receiver_kit.event"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"OK"]

    return application


def run_receiver_block(block: Block, redis_url: str) -> int:
    """Run one receiver.rst block with the names it assumes; return the checks made."""
    code = block.code.replace("redis://localhost:6379/0", redis_url)
    completed = code.rstrip().splitlines()[-1].lstrip().startswith("@")
    if completed:  # a decorator shown on its own: give it a view to decorate
        code += "\ndef completed_view():\n    return 'OK'\n"
    app = Flask("receiver_doc_example")
    if not _defines_a_route(code) and not completed and not _another_framework(code):
        # The receiver built in the page's first section, which later blocks refer to.
        app.config["RECEIVER_KIT_SECRETS"] = "your-webhook-secret"

        @app.post("/webhook")
        @verify_webhook()
        def webhook() -> str:
            return "OK"

    raw_body = event_body()
    seen: list[dict] = []
    processed: list[dict] = []
    inner_application = _inner_wsgi_app(seen)
    namespace: dict[str, Any] = {
        **{name: getattr(receiver_kit, name)
           for name in [*receiver_kit.__all__, *receiver_kit.MOVED]},
        "Flask": Flask,
        "__name__": "receiver_doc_example",
        "app": app,
        "raw_body": raw_body,
        "headers": {"X-ClawBook-Signature": sign(raw_body, "your-webhook-secret")},
        "signature": sign(raw_body, "old-secret"),
        "application": inner_application,
        "process": processed.append,
    }
    exec(compile(code, f"receiver.rst:{block.line}", "exec"), namespace)  # noqa: S102

    probe = Probe()
    if completed:
        app.add_url_rule("/completed", view_func=namespace["completed_view"], methods=["POST"])
    apps = {id(v): v for v in namespace.values() if isinstance(v, Flask)}
    for flask_app in apps.values():
        for rule in flask_app.url_map.iter_rules():
            if "POST" in (rule.methods or ()):
                probe.flask_view(flask_app, rule.rule)
    if isinstance(namespace["application"], WebhookMiddleware):
        probe.middleware(namespace["application"], seen)
    elif namespace["application"] is not inner_application:
        probe.wsgi_function(namespace["application"])
    from starlette.applications import Starlette

    for asgi_app in {id(v): v for v in namespace.values() if isinstance(v, Starlette)}.values():
        probe.asgi_app(asgi_app)
    if "urlpatterns" in namespace:
        probe.django_urls(namespace)
    if callable(namespace.get("handle")):
        probe.handler(namespace["handle"], processed)
    if "ok" in namespace:
        assert namespace["ok"] is True
        probe.checks += 1
    if "response" in namespace:
        assert namespace["response"].status_code == 200, namespace["response"].get_data()
        probe.checks += 1
    return probe.checks


def test_every_python_example_of_the_receiver_guide_works(redis_url, redis_conn):
    blocks = python_blocks("receiver.rst")
    unproved = []
    for block in blocks:
        if run_receiver_block(block, redis_url) == 0:
            unproved.append(block.line)
    assert not unproved, (
        f"receiver.rst blocks at lines {unproved} ran, but nothing they define could be "
        "probed (a protected Flask view, `application`, `handle`, `ok` or `response`); "
        "extend tests/docs/test_examples.py, or mark a block '.. skip-test'")
    assert len(blocks) >= 5
    for framework in ("receiver_kit.flask", "receiver_kit.django", "receiver_kit.fastapi",
                      "receiver_kit.asgi", "receiver_kit.wsgi"):
        assert any(f"from {framework} import" in block.code for block in blocks), (
            f"receiver.rst has no runnable example of {framework}")


@pytest.mark.parametrize("page", ["quickstart.rst", "receiver.rst"])
def test_some_examples_of_each_page_are_run(page):
    assert python_blocks(page)
