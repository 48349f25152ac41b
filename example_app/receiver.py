"""The demo receiver: a Flask app built on ``receiver_kit`` that keeps what it verified.

``python -m example_app.receiver --port 5051`` with ``CLAWBOOK_WEBHOOK_SECRET`` set.
``GET /`` shows the verified events, newest first; ``GET /events.json`` returns them.
"""

from __future__ import annotations

import argparse
import collections
import os
import threading
from typing import Any

from flask import Flask, jsonify, render_template_string

from receiver_kit import current_event, verify_webhook

PAGE = """<!doctype html><html lang="en"><title>Demo receiver</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px system-ui;margin:1rem}td,th{padding:.2rem .5rem;text-align:left;
vertical-align:top}code{font-size:13px;overflow-wrap:anywhere}
table{width:100%;table-layout:fixed;border-collapse:collapse}
th:nth-child(1),th:nth-child(2){width:22%}th:nth-child(3){width:26%}</style>
<h1>Verified ClawBook webhooks</h1>
<p>{{ total }} events verified; {{ counts|length }} types:
{% for type, n in counts.items() %}<code>{{ type }}</code> × {{ n }}
{%- if not loop.last %}, {% endif %}{% endfor %}</p>
<table><tr><th>time</th><th>type</th><th>id</th><th>data</th></tr>
{% for e in events %}<tr><td>{{ e.created_at }}</td><td>{{ e.type }}</td>
<td><code>{{ e.id }}</code></td><td><code>{{ e.data|tojson }}</code></td></tr>{% endfor %}
</table>"""


def create_receiver(secret: str, keep: int = 200) -> Flask:
    app = Flask(__name__)
    app.config.update(
        RECEIVER_KIT_SECRETS=secret,
        # The demo delivers over loopback; a real receiver keeps the default allowlist
        # (ClawBook's 203.0.113.0/24 and 198.51.100.0/24).
        RECEIVER_KIT_ALLOWLIST=["127.0.0.0/8", "::1/128"],
    )
    events: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
    counts: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    @app.post("/webhook")
    @verify_webhook()
    def webhook() -> Any:
        event = current_event()
        with lock:
            events.appendleft(event)
            counts[event["type"]] += 1
        return "OK"

    @app.get("/")
    def index() -> str:
        with lock:
            return render_template_string(PAGE, events=list(events), counts=dict(counts),
                                          total=sum(counts.values()))

    @app.get("/events.json")
    def events_json() -> Any:
        with lock:
            return jsonify(counts=dict(counts), events=list(events))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m example_app.receiver")
    parser.add_argument("--port", type=int, default=5051)
    args = parser.parse_args()
    secret = os.environ.get("CLAWBOOK_WEBHOOK_SECRET")
    if not secret:
        raise SystemExit("Set CLAWBOOK_WEBHOOK_SECRET to the webhook's secret.")
    create_receiver(secret).run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
