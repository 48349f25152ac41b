"""The ClawBook page's own receiver examples, run as real processes, get our real deliveries.

Each example is the page's code as published, in its own runtime: the Python handler under
Flask's ``app.run``, the Node.js/Express "Full Webhook Handler" under ``node`` with Express
from ``tests/interop/node`` (``npm ci`` there), and the PHP handler under ``php -S``. Only
what the page leaves to the reader is filled in: the port, the Flask ``app`` the Python
snippet assumes, PHP's opening tag, and the secret through the variable the Node example
reads. The page lost its indentation; JavaScript and PHP do not need it, so those two are
byte for byte the page's text, and the Python one has its indentation restored.

Each receiver must answer 200 to a real delivery from our worker (recorded ``success``
with response code 200 in our database) and 401 to the same request with a tampered body.
A runtime that is missing skips only its own case, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flask_clawhooks.embedded_redis import free_port
from flask_clawhooks.models import Delivery

from ..fixtures import Host
from ..processes import Spawner, run
from .conftest import (
    SECRET,
    SEED_MESSAGE,
    assert_delivered,
    post,
    retry,
    sent_request,
    wait_for_port,
)

NODE_DIR = Path(__file__).parent / "node"

# -- the page's code ------------------------------------------------------------------

SEED_PYTHON = """\
import hmac
import hashlib
def verify_signature(payload, signature, secret):
    expected = hmac.new(
        secret.encode(),
        payload.encode(),
        hashlib.sha256
    ).hexdigest()
    return f"sha256={expected}" == signature
# In your handler
@app.route('/webhook', methods=['POST'])
def webhook():
    signature = request.headers.get('X-ClawBook-Signature')
    payload = request.get_data(as_text=True)
    if not verify_signature(payload, signature, 'your-webhook-secret'):
        return 'Invalid signature', 401
    event = request.json
    print(f"Event: {event['type']}")
    return 'OK', 200
"""

SEED_NODE_FULL_HANDLER = """\
const express = require('express');
const crypto = require('crypto');
const app = express();
app.use(express.json());
const WEBHOOK_SECRET = process.env.CLAWBOOK_WEBHOOK_SECRET;
const processedEvents = new Set();
function verifySignature(payload, signature) {
const expected = crypto
.createHmac('sha256', WEBHOOK_SECRET)
.update(payload)
.digest('hex');
return `sha256=${expected}` === signature;
}
app.post('/webhook/clawbook', (req, res) => {
// Verify signature
const signature = req.headers['x-clawbook-signature'];
if (!verifySignature(JSON.stringify(req.body), signature)) {
return res.status(401).send('Invalid signature');
}
const event = req.body;
// Idempotency check
if (processedEvents.has(event.id)) {
return res.status(200).send('Already processed');
}
processedEvents.add(event.id);
// Return immediately
res.status(200).send('OK');
// Process asynchronously
processEvent(event).catch(console.error);
});
async function processEvent(event) {
switch (event.type) {
case 'message.received':
console.log('New message from:', event.data.sender.name);
// Your logic here
break;
case 'integration.disconnected':
console.log('Platform disconnected:', event.data.platform);
// Send alert
break;
default:
console.log('Unhandled event:', event.type);
}
}
app.listen(3000);
"""

SEED_PHP = """\
function verifySignature($payload, $signature, $secret) {
$expected = 'sha256=' . hash_hmac('sha256', $payload, $secret);
return hash_equals($expected, $signature);
}
// In your handler
$signature = $_SERVER['HTTP_X_CLAWBOOK_SIGNATURE'];
$payload = file_get_contents('php://input');
if (!verifySignature($payload, $signature, 'your-webhook-secret')) {
http_response_code(401);
exit('Invalid signature');
}
$event = json_decode($payload, true);
error_log("Event: " . $event['type']);
http_response_code(200);
"""

# -- what the page leaves to the reader -------------------------------------------------

PYTHON_PRELUDE = "from flask import Flask, request\napp = Flask(__name__)\n"
PYTHON_RUN = (
    "\nif __name__ == '__main__':\n"
    "    app.run(host='127.0.0.1', port={port})\n"
)


class Process:
    """A receiver process whose output goes to a file, in a process group of its own that
    is killed at the end of the test."""

    def __init__(self, spawn: Spawner, args: list[str], cwd: Path, port: int,
                 env: dict[str, str]) -> None:
        self.log = cwd / "output.log"
        self.port = port
        with self.log.open("wb") as log:
            self.process = spawn(args, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                 env={**os.environ, **env})
        wait_for_port(port, self.process)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def deliver_and_tamper(host: Host, url: str) -> Delivery:
    """One real delivery (must be 200), then the same request with a tampered body (401)."""
    webhook = host.add_webhook(url, secret=SECRET)
    event_id = host.emit("message.received", SEED_MESSAGE)
    host.work_until_settled()
    delivery = assert_delivered(host, event_id, webhook.id)
    body, headers = sent_request(host, delivery)
    tampered = body.replace(b"Hello", b"Jello")
    assert tampered != body
    status, answer = post(url, tampered, headers)
    assert status == 401, (status, answer)
    assert b"Invalid signature" in answer
    return delivery


# -- the tests --------------------------------------------------------------------------


def test_the_seed_python_flask_handler_accepts_our_deliveries(host, tmp_path, spawn):
    port = free_port()
    handler = tmp_path / "seed_handler.py"
    handler.write_text(PYTHON_PRELUDE + SEED_PYTHON + PYTHON_RUN.format(port=port),
                       encoding="utf-8")
    receiver = Process(spawn, [sys.executable, handler.name], tmp_path, port,
                       {"PYTHONUNBUFFERED": "1"})

    deliver_and_tamper(host, f"http://127.0.0.1:{port}/webhook")
    assert receiver.output().count("Event: message.received") == 1


@pytest.fixture(scope="session")
def express_modules() -> Path:
    """``tests/interop/node/node_modules``, installed with ``npm ci`` if it is not yet."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed, so the seed's Express handler cannot run "
                    "(.ci/run installs nodejs and npm)")
    modules = NODE_DIR / "node_modules"
    if not (modules / "express" / "package.json").is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("Express is not installed in tests/interop/node and npm is missing "
                        "(run `npm ci` there)")
        result = run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                     capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            pytest.skip(f"`npm ci` in tests/interop/node failed, so Express is missing: "
                        f"{result.stderr.strip()[-300:]}")
    return modules


def test_the_seed_node_express_full_handler_accepts_our_deliveries(host, tmp_path, spawn,
                                                                  express_modules):
    port = free_port()
    script = tmp_path / "seed_handler.js"
    code = SEED_NODE_FULL_HANDLER.replace("app.listen(3000);", f"app.listen({port});")
    assert code != SEED_NODE_FULL_HANDLER
    script.write_text(code, encoding="utf-8")
    receiver = Process(spawn, ["node", script.name], tmp_path, port, {
        "NODE_PATH": str(express_modules), "CLAWBOOK_WEBHOOK_SECRET": SECRET})
    url = f"http://127.0.0.1:{port}/webhook/clawbook"

    first = deliver_and_tamper(host, url)
    # The page's handler dedupes by event id; a redelivery is "Already processed".
    retry(host, first.id)
    host.work_until_settled()
    again = assert_delivered(host, first.event_id, first.webhook_id)
    last = max(again.attempts, key=lambda a: a.number)
    assert last.number == 2 and last.response_excerpt == "Already processed"
    assert receiver.output().count("New message from: John Doe") == 1


def test_the_seed_php_handler_accepts_our_deliveries(host, tmp_path, spawn):
    php = shutil.which("php")
    if php is None:
        pytest.skip("php is not installed, so the seed's PHP handler cannot run "
                    "(.ci/run installs php-cli)")
    port = free_port()
    handler = tmp_path / "seed_handler.php"
    handler.write_text("<?php\n" + SEED_PHP, encoding="utf-8")
    receiver = Process(spawn, [php, "-S", f"127.0.0.1:{port}", handler.name], tmp_path, port,
                       {})

    deliver_and_tamper(host, f"http://127.0.0.1:{port}/webhook")
    assert receiver.output().count("Event: message.received") == 1
