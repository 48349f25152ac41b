"""``python -m example_app``: the demo stack in one command.

Starts Redis (an embedded one unless ``FLASK_CLAWHOOKS_REDIS_URL`` is set), creates the
SQLite tables, a webhook of the ``demo`` account pointing at the demo receiver and an API
key per account, then runs the ClawBook app, a worker, the receiver and a simulator that
emits a steady stream of events. Open the dashboard URL it prints first.

Ctrl-C or SIGTERM stops everything, in order: the simulator, the worker (it finishes the
POSTs in flight), the app and the receiver, then Redis. Each child runs in its own
process group, so the terminal's Ctrl-C reaches only this process, which then stops the
children one by one; none of them outlives it, even if it is killed.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from flask_clawhooks.catalog import CATALOG
from flask_clawhooks.embedded_redis import find_redis_server, free_port
from flask_clawhooks.migrations.schema import SchemaNotCurrent, upgrade
from flask_clawhooks.models import Webhook

#: Seconds the worker may take to finish the POSTs in flight (the delivery timeout is 30).
WORKER_STOP_TIMEOUT = 40.0
#: Seconds the other children may take to stop.
STOP_TIMEOUT = 10.0
#: What the demo prints to stderr while it stops; tests/docs/test_demo.py expects these.
STOPPING = "Stopping the demo: simulator, worker, app and receiver, Redis…"
STOPPED = "Demo stopped."


def _port(preferred: int, what: str) -> int:
    """``preferred``, or a free port when it is taken (saying so: webhooks made for the
    usual port would otherwise reach whatever holds it)."""
    if preferred == 0:
        return free_port()
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            port = free_port()
    print(f"Port {preferred} is taken; the {what} listens on {port} instead.",
          file=sys.stderr, flush=True)
    return port


def _write_settings(instance_path: str, settings: dict[str, str]) -> Path:
    """Write what ``flask --app example_app …`` needs to reach this demo (see
    :data:`example_app.DEMO_SETTINGS_FILE`); return the file."""
    from . import DEMO_SETTINGS_FILE

    path = Path(instance_path) / DEMO_SETTINGS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return path


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up within {timeout:.0f} s")


def _die_with_parent(signum: int) -> Callable[[], None] | None:
    """On Linux, a ``preexec_fn`` that has the kernel send ``signum`` to the child when this
    process dies, however it dies (even SIGKILL), so no child is left holding a port."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, signum, 0, 0, 0)

    return preexec


class Children:
    """The demo's child processes, each in its own process group, stopped in order."""

    def __init__(self) -> None:
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], *, orphan_signal: int = signal.SIGTERM,
              **options: Any) -> subprocess.Popen[bytes]:
        """Start a child in a new session; the kernel sends it ``orphan_signal`` if the
        demo dies without stopping it."""
        child = subprocess.Popen(argv, start_new_session=True,
                                 preexec_fn=_die_with_parent(orphan_signal), **options)
        self.started[name] = child
        return child

    def exited(self) -> str | None:
        """The name of a child that stopped by itself, if one did."""
        return next((name for name, child in self.started.items()
                     if child.poll() is not None), None)

    def stop(self, names: list[str], timeout: float) -> None:
        """SIGTERM to each of ``names``, then wait for all of them; SIGKILL what is left
        after ``timeout``, and whatever else is in their process groups."""
        children = [self.started[n] for n in names if n in self.started]
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + timeout
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            try:  # a grandchild (the worker's scheduler) that outlived its parent
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _start_redis(children: Children, workdir: str) -> str:
    port = free_port()
    children.start("redis", [
        find_redis_server(), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
        "--appendonly", "no", "--dir", workdir, "--logfile", str(Path(workdir) / "redis.log"),
    ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if children.exited():
            raise SystemExit("redis-server exited at start; see its log in " + workdir)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"redis-server did not answer on port {port}")


def _prepare(redis_url: str, receiver_url: str,
             instance_path: str | None = None) -> tuple[str, dict[str, str]]:
    """Create the tables, the demo webhook and the API keys; return the dashboard's path
    and the settings commands beside the demo need (its Redis and database)."""
    from . import DEMO_OWNER, DEMO_SECRET, clawhooks, create_app, db, demo_api_keys

    app = create_app({"CLAWHOOKS_REDIS_URL": redis_url}, instance_path=instance_path)
    with app.app_context():
        try:
            clawhooks.create_all()
        except SchemaNotCurrent:  # the demo's database, kept from an older version
            upgrade(db.engine, say=print)
        webhook = db.session.scalar(
            db.select(Webhook).where(Webhook.owner == DEMO_OWNER,
                                     Webhook.description == "The demo receiver"))
        if webhook is None:
            webhook = Webhook(owner=DEMO_OWNER, secret=DEMO_SECRET, events=[],
                              description="The demo receiver")
            db.session.add(webhook)
        webhook.url = receiver_url
        webhook.secret = DEMO_SECRET
        webhook.enabled = True
        webhook.events = [t.name for t in CATALOG]
        db.session.commit()
        demo_api_keys()
        settings = {"CLAWHOOKS_REDIS_URL": redis_url,
                    "SQLALCHEMY_DATABASE_URI": str(app.config["SQLALCHEMY_DATABASE_URI"]),
                    "_instance_path": app.instance_path}
        return str(app.config["CLAWHOOKS_DASHBOARD_PREFIX"]).rstrip("/") + "/", settings


def _simulate(app_url: str, stop: threading.Event, interval: float) -> None:
    kinds = [t.name for t in CATALOG]
    while not stop.wait(interval):
        kind = random.choice(kinds)
        request = urllib.request.Request(f"{app_url}/demo/event/{kind}", method="POST")
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except OSError as exc:
            if not stop.is_set():
                print(f"simulator: {kind} failed: {exc}", file=sys.stderr)


def _interrupt(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_app", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=5050,
                        help="the ClawBook app's port (default 5050; another free one if "
                             "taken; 0: any free port)")
    parser.add_argument("--receiver-port", type=int, default=5051,
                        help="the demo receiver's port (default 5051; same rules)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between simulated events (default 1)")
    parser.add_argument("--duration", type=float, default=None,
                        help="stop after this many seconds (default: run until Ctrl-C)")
    parser.add_argument("--instance-path", default=None,
                        help="folder for the SQLite database and the demo's API keys "
                             "(default: Flask's instance/)")
    args = parser.parse_args(argv)
    instance_path = os.path.abspath(args.instance_path) if args.instance_path else None

    # Ctrl-C and SIGTERM both stop the demo (even where SIGINT was inherited as ignored)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    children = Children()
    stop = threading.Event()
    simulator: threading.Thread | None = None
    workdir = tempfile.TemporaryDirectory(prefix="clawbook-demo-")
    code = 0
    settings_file: Path | None = None
    try:
        redis_url = os.environ.get("FLASK_CLAWHOOKS_REDIS_URL")
        embedded = redis_url is None
        if redis_url is None:
            redis_url = _start_redis(children, workdir.name)
        app_port = _port(args.port, "ClawBook app")
        receiver_port = _port(args.receiver_port, "demo receiver")
        app_url = f"http://127.0.0.1:{app_port}"
        receiver_url = f"http://127.0.0.1:{receiver_port}"
        path, settings = _prepare(redis_url, f"{receiver_url}/webhook", instance_path)
        dashboard = app_url + path
        folder = settings.pop("_instance_path")
        settings_file = _write_settings(folder, settings)

        from . import DEMO_SECRET

        env = {**os.environ, "FLASK_CLAWHOOKS_REDIS_URL": redis_url,
               "CLAWBOOK_WEBHOOK_SECRET": DEMO_SECRET, "FLASK_DEMO_RECEIVER_URL": receiver_url}
        instance = ["--instance-path", instance_path] if instance_path else []
        # Flask calls the factory with these literal arguments in the worker.
        app_spec = ("example_app" if instance_path is None
                    else f"example_app:create_app(instance_path={instance_path!r})")
        serve = [sys.executable, "-m", "example_app.serve"]
        children.start("receiver", [*serve, "receiver", "--port", str(receiver_port)], env=env)
        # Orphaned, the worker has lost Redis too and would wait for it: SIGKILL (the
        # database keeps its deliveries; the sweeper finds them at the next start).
        children.start("worker", [sys.executable, "-m", "flask", "--app", app_spec, "clawhooks",
                                  "worker", "--log-level", "WARNING"],
                       env=env, stdout=subprocess.DEVNULL, orphan_signal=signal.SIGKILL)
        children.start("app", [*serve, "app", "--port", str(app_port), *instance], env=env)
        _wait_http(app_url + "/")
        _wait_http(receiver_url + "/")
        print(f"\nThe ClawBook demo is running.\n\n"
              f"  Dashboard       {dashboard}   (sign in as demo or acme)\n"
              f"  Home            {app_url}/\n"
              f"  API             {app_url}/api/v1/   (API keys: {app_url}/demo/sign-in)\n"
              f"  Demo receiver   {receiver_url}/   (the events it verified)\n"
              f"  Redis           {redis_url}{' (embedded)' if embedded else ''}\n\n"
              f"Commands reach this demo while it runs ({settings_file} says where):\n"
              f"  flask --app {shlex.quote(app_spec)} clawhooks emit system.health "
              "'{\"status\": \"ok\"}' --owner demo\n\n"
              "Ctrl-C stops everything.\n", flush=True)
        simulator = threading.Thread(target=_simulate, args=(app_url, stop, args.interval),
                                     daemon=True)
        simulator.start()
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while deadline is None or time.monotonic() < deadline:
            gone = children.exited()
            if gone:
                print(f"The demo's {gone} exited; stopping.", file=sys.stderr)
                code = 1
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the stop short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print(STOPPING, file=sys.stderr, flush=True)
        stop.set()
        if simulator is not None:
            simulator.join(6)
        children.stop(["worker"], WORKER_STOP_TIMEOUT)
        children.stop(["app", "receiver"], STOP_TIMEOUT)
        children.stop(["redis"], STOP_TIMEOUT)
        if settings_file is not None:
            settings_file.unlink(missing_ok=True)  # its Redis is gone
        workdir.cleanup()
        print(STOPPED, file=sys.stderr, flush=True)
    return code
