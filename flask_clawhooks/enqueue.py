"""Handing delivery ids to RQ, and doing it only once the emitting transaction commits.

``emit()`` records the new delivery ids in ``session.info``; a session listener sends
them to Redis after the commit and forgets them on rollback, so a rolled-back request
sends nothing (the ``COMMIT_MODE = "on_db_commit"`` of django-rq). If Redis cannot be
reached at that moment the request still succeeds: the rows are committed and the
sweeper enqueues them later.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis
from rq import Queue
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("flask_clawhooks")

#: How many delivery ids one RQ job carries at most.
JOB_BATCH = 100

_PENDING_KEY = "clawhooks.pending_enqueue"

JOB_FUNCTION = "flask_clawhooks.jobs.deliver"


def chunks(ids: Sequence[str], size: int = JOB_BATCH) -> Iterable[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def enqueue_now(queue: Queue, delivery_ids: Sequence[str]) -> None:
    """Put ``delivery_ids`` on ``queue`` as jobs of up to :data:`JOB_BATCH` ids, in one round trip."""
    if not delivery_ids:
        return
    jobs = [
        Queue.prepare_data(JOB_FUNCTION, args=(batch,), result_ttl=0, failure_ttl=86400)
        for batch in chunks(delivery_ids)
    ]
    with queue.connection.pipeline() as pipe:
        queue.enqueue_many(jobs, pipeline=pipe)
        pipe.execute()


def enqueue_at(queue: Queue, when: dt.datetime, delivery_ids: Sequence[str], pipe: Any) -> None:
    """Schedule a job for ``when`` (naive UTC) through RQ's scheduler.

    RQ keeps whole seconds, so the time is rounded up: a job never becomes runnable
    before its delivery is due.
    """
    whole = when.replace(microsecond=0)
    if whole < when:
        whole += dt.timedelta(seconds=1)
    whole = whole.replace(tzinfo=dt.UTC)
    for batch in chunks(delivery_ids):
        queue.enqueue_at(whole, JOB_FUNCTION, batch, result_ttl=0, failure_ttl=86400, pipeline=pipe)


def after_commit(session: Session, delivery_ids: list[str], send: Callable[[list[str]], None]) -> None:
    """Arrange for ``send(delivery_ids)`` to run once ``session`` commits."""
    pending: list[tuple[Callable[[list[str]], None], list[str]]]
    pending = session.info.setdefault(_PENDING_KEY, [])
    pending.append((send, delivery_ids))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    for send, ids in pending:
        try:
            send(ids)
        except (redis.RedisError, OSError):
            log.warning(
                "Could not enqueue %d deliveries; the sweeper will send them.",
                len(ids), exc_info=True,
            )


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)

