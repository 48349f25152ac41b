"""Receivers built with receiver_kit's adapters, each run by the interop tests in a server
process of its own (Django's runserver, uvicorn), configured from the environment:

``RECEIVER_SECRET``
    the webhook secret;
``RECEIVER_HANDLED``
    a file the handler appends each event id it ran for to, one per line, so the test
    can count runs across the process boundary;
``RECEIVER_TOLERANCE``
    the Standard Webhooks tolerance in seconds.

Each app has two protected paths: ``/webhook`` allows loopback (where our worker delivers
from) and requires the Standard Webhooks headers; ``/webhook/clawbook-networks`` keeps the
default allowlist (ClawBook's networks), so a delivery over loopback is outside it.
``GET /count`` answers ``{"count": N}``, the number of handler runs so far.
"""

from __future__ import annotations

import os

#: The allowlist of ``/webhook``: the worker's deliveries come from loopback.
LOOPBACK = ["127.0.0.0/8", "::1"]
#: The path protected by the default allowlist.
DEFAULT_ALLOWLIST_PATH = "/webhook/clawbook-networks"


def secret() -> str:
    return os.environ["RECEIVER_SECRET"]


def tolerance() -> float:
    return float(os.environ["RECEIVER_TOLERANCE"])


def handled_count() -> int:
    """How many times the handlers ran: the probe ``GET /count`` answers with it, for
    ``receiver_kit.check --probe`` (tests/interop/test_receiver_check.py)."""
    try:
        with open(os.environ["RECEIVER_HANDLED"], encoding="utf-8") as handled:
            return len(handled.read().split())
    except FileNotFoundError:
        return 0


def record(event_id: str) -> None:
    """Append one handled event id; one small ``O_APPEND`` write, whole under concurrency."""
    fd = os.open(os.environ["RECEIVER_HANDLED"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{event_id}\n".encode())
    finally:
        os.close(fd)
