"""A FastAPI app whose endpoints take the verified event from ``WebhookVerifier``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI

from receiver_kit.fastapi import WebhookVerifier

from . import DEFAULT_ALLOWLIST_PATH, LOOPBACK, handled_count, record, secret, tolerance

app = FastAPI()
verified = WebhookVerifier(secret=secret(), allowlist=LOOPBACK, tolerance=tolerance(),
                           require_standard=True)
from_clawbook = WebhookVerifier(secret=secret())  # the default allowlist

Event = Annotated[dict[str, Any], Depends(verified)]
ClawBookEvent = Annotated[dict[str, Any], Depends(from_clawbook)]


@app.post("/webhook")
async def webhook(event: Event) -> dict[str, str]:
    record(event["id"])
    return {"handled": event["id"], "framework": "fastapi"}


@app.post(DEFAULT_ALLOWLIST_PATH)
async def clawbook_networks_only(event: ClawBookEvent) -> str:
    record(event["id"])
    return "OK"


@app.get("/count")
async def count() -> dict[str, int]:
    return {"count": handled_count()}
