"""One webhook request through the kit: verify, claim the event id, then finish the claim.

Every adapter runs the same three steps, so they live here once:

1. :func:`receive` checks the request (:meth:`~.options.ReceiverOptions.check`) and claims
   its event id in the idempotency store;
2. when :attr:`Reception.answer` is set the adapter sends it and does not run the handler:
   a rejection (401, 403, 400, or 503 while another request holds the event) or a
   duplicate's ``200 {"status": "duplicate", "id": ...}`` with ``Webhook-Duplicate: true``;
3. otherwise the handler runs with :attr:`Reception.event`, and the adapter calls
   :meth:`Reception.finish` with whether it succeeded: only then is the event marked
   processed; a failure releases the claim, so the sender's retry runs the handler again.
"""

from __future__ import annotations

from typing import Any

from .errors import Answer, EventInProgress, WebhookRejected
from .headers import DUPLICATE_HEADER, Headers
from .idempotency import Claim, IdempotencyStore, retry_after
from .options import ReceiverOptions


def duplicate_answer(event_id: str) -> Answer:
    """The ``200`` answer to an event processed before, with ``Webhook-Duplicate: true``;
    the handler does not run."""
    return Answer(200, {"status": "duplicate", "id": event_id}, ((DUPLICATE_HEADER, "true"),))


class Reception:
    """The state of one request: its event, the kit's own answer if any, and its claim."""

    def __init__(
        self,
        event: dict[str, Any] | None = None,
        answer: Answer | None = None,
        store: IdempotencyStore | None = None,
    ) -> None:
        #: The verified event; ``None`` when the request was rejected.
        self.event = event
        #: Send this instead of running the handler, when set.
        self.answer = answer
        self._store = store
        self._finished = store is None

    @property
    def event_id(self) -> str:
        if self.event is None:
            raise RuntimeError("The request was rejected: there is no event.")
        return str(self.event["id"])

    def finish(self, ok: bool) -> None:
        """Mark the event processed (``ok``) or free it for a retry; later calls do nothing.

        :param ok: the handler answered ``2xx`` and nothing failed.
        """
        if self._finished or self._store is None:
            return
        self._finished = True
        if ok:
            self._store.complete(self.event_id)
        else:
            self._store.release(self.event_id)


def receive(
    options: ReceiverOptions, body: bytes, headers: Headers, remote_addr: str | None
) -> Reception:
    """Verify one request and claim its event; see the module docs for what comes next.

    :raises ~receiver_kit.ConfigurationError: for unusable options. Rejections are not raised:
        they are the returned :attr:`Reception.answer`.
    """
    try:
        event = options.check(body, headers, remote_addr)
    except WebhookRejected as exc:
        return Reception(answer=exc.answer)
    store = options.store
    if store is None:
        return Reception(event)
    event_id: str = event["id"]
    claim = store.claim(event_id)
    if claim is Claim.DONE:
        return Reception(event, duplicate_answer(event_id))
    if claim is Claim.IN_PROGRESS:
        return Reception(event, EventInProgress(retry_after=retry_after(store)).answer)
    return Reception(event, store=store)
