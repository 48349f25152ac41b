"""receiver_kit installs on its own from its folder, and its core needs nothing but Python.

A fresh virtual environment, made once per test session, gets ``pip install
<copy of receiver_kit/>`` and nothing else; the tests then run its interpreter with ``-I``
(no ``PYTHONPATH``, no user site), from a folder outside the repository, so they can only
import the installed copy. The copy keeps builds out of the working tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..fixtures import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]

#: The Standard Webhooks specification's published example, and GitHub's.
STANDARD_VECTOR = {
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "timestamp": 1614265330,
    "body": '{"test": 2432232314}',
    "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}
GITHUB_VECTOR = {
    "secret": "It's a Secret to Everybody",
    "body": "Hello, World!",
    "signature": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
}


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV"))}


@pytest.fixture(scope="session")
def kit_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh venv where only ``pip install ./receiver_kit`` ran."""
    base = tmp_path_factory.mktemp("receiver_kit_dist")
    source = base / "src" / "receiver_kit"
    shutil.copytree(ROOT / "receiver_kit", source,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
         str(source)],
        cwd=base, env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return python


def run_in(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-I", "-c", code], cwd=python.parent.parent,
                          env=_clean_env(), capture_output=True, text=True, timeout=60)


def test_the_kit_installs_alone_without_flask_or_any_sender_dependency(kit_venv: Path) -> None:
    listed = subprocess.run(
        [str(kit_venv), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        env=_clean_env(), capture_output=True, text=True, timeout=60, check=True)
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "receiver-kit" in installed
    assert installed <= {"receiver-kit", "pip", "setuptools", "wheel"}, installed


def test_the_installed_core_verifies_the_standard_webhooks_and_github_vectors(
    kit_venv: Path,
) -> None:
    code = f"""
import json, sys
import receiver_kit as rk
standard, github = {STANDARD_VECTOR!r}, {GITHUB_VECTOR!r}
body = standard["body"].encode()
headers = {{"webhook-id": standard["id"], "webhook-timestamp": str(standard["timestamp"]),
           "webhook-signature": standard["signature"]}}
at = standard["timestamp"]
assert rk.check_standard(body, headers, standard["secret"], now=at + 10) == standard["id"]
assert not rk.verify_standard(body + b" ", headers, standard["secret"], now=at)
try:
    rk.check_standard(body, headers, standard["secret"], now=at + 301)
    raise AssertionError("a replay after the tolerance was accepted")
except rk.StaleTimestamp as exc:
    assert (exc.status, exc.error_code) == (401, "stale_timestamp")
assert rk.sign_standard(body, standard["secret"], message_id=standard["id"],
                        timestamp=at)["webhook-signature"] == standard["signature"]
assert rk.verify_signature(github["body"].encode(), github["signature"], github["secret"])
assert rk.sign(github["body"].encode(), github["secret"]) == github["signature"]
assert not rk.verify_signature(b"Hello, World?", github["signature"], github["secret"])
frameworks = sorted(m for m in sys.modules
                    if m.split(".")[0] in ("flask", "werkzeug", "django", "fastapi",
                                           "starlette", "redis", "flask_clawhooks"))
print(json.dumps({{"file": rk.__file__, "frameworks": frameworks}}))
"""
    result = run_in(kit_venv, code)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["file"].startswith(str(kit_venv.parent.parent)), report["file"]
    assert report["frameworks"] == []


def test_adapters_whose_framework_is_missing_name_the_extra_to_install(kit_venv: Path) -> None:
    code = """
import importlib, json
found = {}
for module in ("receiver_kit.flask", "receiver_kit.django", "receiver_kit.fastapi"):
    try:
        importlib.import_module(module)
        found[module] = "imported"
    except ImportError as exc:
        found[module] = str(exc)
try:
    from receiver_kit import verify_webhook
    found["moved"] = "imported"
except ImportError as exc:
    found["moved"] = str(exc)
print(json.dumps(found))
"""
    result = run_in(kit_venv, code)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    for extra in ("flask", "django", "fastapi"):
        assert f"pip install 'receiver-kit[{extra}]'" in found[f"receiver_kit.{extra}"]
    assert "receiver_kit.flask" in found["moved"]
    assert "pip install 'receiver-kit[flask]'" in found["moved"]


def test_the_wsgi_and_asgi_adapters_work_with_the_standard_library_alone(
    kit_venv: Path,
) -> None:
    code = """
import asyncio, io, json
import receiver_kit as rk
from receiver_kit.asgi import WebhookMiddleware as AsgiMiddleware
from receiver_kit.wsgi import WebhookMiddleware, headers_from_environ

body = json.dumps({"id": "evt_1", "type": "message.received"}).encode()
signature = rk.sign(body, "s")
seen = []

def inner(environ, start_response):
    seen.append(environ["receiver_kit.event"]["id"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"OK"]

app = WebhookMiddleware(inner, secret="s", allowlist="*")
statuses = []
for sig in (signature, "sha256=00", signature):
    environ = {"PATH_INFO": "/webhook", "REQUEST_METHOD": "POST", "REMOTE_ADDR": "1.2.3.4",
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
               "HTTP_X_CLAWBOOK_SIGNATURE": sig}
    assert rk.check_request(body, headers_from_environ(environ), "1.2.3.4", secrets="s",
                            allowlist="*") if sig == signature else True
    out = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(out); getattr(out, "close", lambda: None)()

async def asgi_inner(scope, receive, send):
    message = await receive()
    seen.append(("asgi", message["body"] == body))
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"OK"})

async def call(sig):
    sent = []
    chunks = [body[:5], body[5:]]
    async def receive():
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
    async def send(message):
        sent.append(message)
    scope = {"type": "http", "path": "/webhook", "client": ("1.2.3.4", 1),
             "headers": [(b"x-clawbook-signature", sig.encode())]}
    await AsgiMiddleware(asgi_inner, secret="s", allowlist="*")(scope, receive, send)
    return sent[0]["status"]

asgi = [asyncio.run(call(s)) for s in (signature, "sha256=00")]
print(json.dumps({"wsgi": statuses, "asgi": asgi, "seen": seen}))
"""
    result = run_in(kit_venv, code)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["wsgi"] == ["200 OK", "401 Unauthorized", "200 OK"]
    assert report["asgi"] == [200, 401]
    # the duplicate was answered by the middleware; the ASGI app got the whole body
    assert report["seen"] == ["evt_1", ["asgi", True]]


def test_the_installed_checker_runs_on_the_standard_library_alone(kit_venv: Path) -> None:
    """``python -m receiver_kit.check`` from the lone install grades a real receiver (one
    that accepts anything, served here on loopback) and imports no third-party module."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class AcceptAnything(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

    server = ThreadingHTTPServer(("127.0.0.1", 0), AcceptAnything)
    thread = serve_in_thread(server)
    try:
        result = subprocess.run(
            [str(kit_venv), "-I", "-m", "receiver_kit.check",
             f"http://127.0.0.1:{server.server_port}/webhook", "--secret", "s3cret",
             "--pause", "0", "--oversize", "65536"],
            cwd=kit_venv.parent.parent, env=_clean_env(), capture_output=True, text=True,
            timeout=120)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  forged signature" in result.stdout
    imported = run_in(kit_venv, (
        "import sys, receiver_kit.check\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'flask', 'werkzeug', 'requests', 'urllib3', 'flask_clawhooks', 'redis'}))"))
    assert imported.stdout.strip() == "[]", imported.stdout + imported.stderr
