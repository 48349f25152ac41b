"""Serve the demo app or the demo receiver: ``python -m example_app.serve app|receiver``.

What ``python -m example_app`` runs for its two web processes, instead of ``flask run``:
Werkzeug's threaded server on loopback, without a line per request (the dashboard's log
shows the traffic) or the development-server banner, and stopping quietly on SIGTERM as
on Ctrl-C, so the demo stops each process in turn and nothing is printed but its own
shutdown lines.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any, NoReturn

from werkzeug.serving import WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    """Logs errors, not every request."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def _stop(signum: int, frame: Any) -> NoReturn:
    # Werkzeug's serve_forever returns on KeyboardInterrupt and closes the socket.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_app.serve", description=__doc__)
    parser.add_argument("which", choices=["app", "receiver"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--instance-path", default=None)
    args = parser.parse_args(argv)
    if args.which == "app":
        from . import create_app

        app = create_app(instance_path=args.instance_path)
    else:
        from .receiver import create_receiver

        secret = os.environ.get("CLAWBOOK_WEBHOOK_SECRET")
        if not secret:
            parser.error("set CLAWBOOK_WEBHOOK_SECRET to the webhook's secret")
        app = create_receiver(secret)
    server = make_server("127.0.0.1", args.port, app, threaded=True,
                         request_handler=QuietHandler)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
