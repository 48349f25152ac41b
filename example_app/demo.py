"""``python -m example_app``: the demo stack in one command.

Starts Redis (an embedded one unless ``FLASK_CLAWHOOKS_REDIS_URL`` is set), creates the
SQLite tables and a webhook pointing at the demo receiver, then runs the ClawBook app,
a worker, the receiver and a simulator that emits a steady stream of events. Ctrl-C
stops everything.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

from flask_clawhooks.catalog import CATALOG
from flask_clawhooks.embedded_redis import EmbeddedRedis, free_port
from flask_clawhooks.models import Webhook

DEMO_SECRET = "demo-webhook-secret-change-me"


def _port(preferred: int) -> int:
    import socket

    if preferred == 0:
        return free_port()
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return free_port()


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up within {timeout:.0f} s")


def _prepare(redis_url: str, receiver_url: str, instance_path: str | None = None) -> str:
    """Create the tables and the demo webhook; return the app's database URL."""
    from . import DEMO_OWNER, clawhooks, create_app, db

    app = create_app({"CLAWHOOKS_REDIS_URL": redis_url}, instance_path=instance_path)
    with app.app_context():
        clawhooks.create_all()
        webhook = db.session.scalar(db.select(Webhook).where(Webhook.owner == DEMO_OWNER))
        if webhook is None:
            webhook = Webhook(owner=DEMO_OWNER, secret=DEMO_SECRET, events=[],
                              description="The demo receiver")
            db.session.add(webhook)
        webhook.url = receiver_url
        webhook.enabled = True
        webhook.events = [t.name for t in CATALOG]
        db.session.commit()
        return str(app.config["SQLALCHEMY_DATABASE_URI"])


def _simulate(app_url: str, stop: threading.Event, interval: float) -> None:
    kinds = [t.name for t in CATALOG]
    while not stop.wait(interval):
        kind = random.choice(kinds)
        request = urllib.request.Request(f"{app_url}/demo/event/{kind}", method="POST")
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except OSError as exc:
            print(f"simulator: {kind} failed: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_app", description=__doc__)
    parser.add_argument("--port", type=int, default=5050, help="the ClawBook app's port")
    parser.add_argument("--receiver-port", type=int, default=5051)
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between simulated events")
    parser.add_argument("--duration", type=float, default=None,
                        help="stop after this many seconds (default: run until Ctrl-C)")
    parser.add_argument("--instance-path", default=None,
                        help="folder for the SQLite database (default: Flask's instance/)")
    args = parser.parse_args(argv)
    instance_path = os.path.abspath(args.instance_path) if args.instance_path else None

    redis_url = os.environ.get("FLASK_CLAWHOOKS_REDIS_URL")
    embedded = None if redis_url else EmbeddedRedis().start()
    redis_url = redis_url or embedded.url  # type: ignore[union-attr]
    app_port, receiver_port = _port(args.port), _port(args.receiver_port)
    app_url = f"http://127.0.0.1:{app_port}"
    receiver_url = f"http://127.0.0.1:{receiver_port}"
    children: list[subprocess.Popen[Any]] = []
    stop = threading.Event()
    try:
        _prepare(redis_url, f"{receiver_url}/webhook", instance_path)
        env = {**os.environ, "FLASK_CLAWHOOKS_REDIS_URL": redis_url,
               "CLAWBOOK_WEBHOOK_SECRET": DEMO_SECRET}
        # Flask calls the factory with these literal arguments in the worker and the app.
        app_spec = ("example_app" if instance_path is None
                    else f"example_app:create_app(instance_path={instance_path!r})")
        flask = [sys.executable, "-m", "flask", "--app", app_spec]
        children.append(subprocess.Popen(
            [sys.executable, "-m", "example_app.receiver", "--port", str(receiver_port)], env=env))
        children.append(subprocess.Popen(
            [*flask, "clawhooks", "worker", "--log-level", "WARNING"], env=env))
        children.append(subprocess.Popen(
            [*flask, "run", "--host", "127.0.0.1", "--port", str(app_port)], env=env))
        _wait_http(app_url + "/")
        _wait_http(receiver_url + "/")
        print(f"\nClawBook demo app   {app_url}/\n"
              f"Demo receiver       {receiver_url}/   (verified events)\n"
              f"Redis               {redis_url}{' (embedded)' if embedded else ''}\n"
              f"Try:  curl -X POST '{app_url}/demo/inbound?text=Hello'\n"
              "Ctrl-C stops everything.\n", flush=True)
        threading.Thread(target=_simulate, args=(app_url, stop, args.interval),
                         daemon=True).start()
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while deadline is None or time.monotonic() < deadline:
            if any(child.poll() is not None for child in children):
                print("A demo process exited; stopping.", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop.set()
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if embedded is not None:
            embedded.stop()
