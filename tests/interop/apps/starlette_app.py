"""A Starlette app behind ``receiver_kit.asgi.WebhookMiddleware``, one per protected path.

The handler reads the body again, as an app would: the middleware replays it.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from receiver_kit.asgi import WebhookMiddleware, current_event

from . import DEFAULT_ALLOWLIST_PATH, LOOPBACK, record, secret, tolerance


async def webhook(request: Request) -> Response:
    event = current_event(request.scope)
    assert json.loads(await request.body()) == event, "the body was not replayed intact"
    record(event["id"])
    return JSONResponse({"handled": event["id"], "framework": "starlette"})


async def clawbook_networks_only(request: Request) -> Response:
    record(current_event(request.scope)["id"])
    return PlainTextResponse("OK")


app = Starlette(
    routes=[
        Route("/webhook", webhook, methods=["POST"]),
        Route(DEFAULT_ALLOWLIST_PATH, clawbook_networks_only, methods=["POST"]),
    ],
    middleware=[
        Middleware(WebhookMiddleware, secret=secret(), path="/webhook", allowlist=LOOPBACK,
                   tolerance=tolerance(), require_standard=True),
        Middleware(WebhookMiddleware, secret=secret(), path=DEFAULT_ALLOWLIST_PATH),
    ],
)
