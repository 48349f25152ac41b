"""Handing delivery ids to Redis, and doing it only once the emitting transaction commits.

``emit()`` records the new delivery ids in ``session.info``; a session listener hands
them over after the commit and forgets them on rollback, so a rolled-back request sends
nothing (the ``COMMIT_MODE = "on_db_commit"`` of django-rq). If Redis cannot be reached
at that moment the request still succeeds: the rows are committed and the sweeper
queues them later.

Ids due now go to a Redis list, the *ready list*; an RQ job, :func:`flask_clawhooks.jobs.drain`,
is queued by the push that finds the list empty (``RPUSH`` answers the new length), so
whenever the list holds ids a drain job is on its way. A drain job takes
:data:`DRAIN_BATCH` ids at a time until the list is empty (for at most
:data:`DRAIN_SECONDS`) and, while more remain and no job waits in the queue, queues
another drain job for another worker. Under load one RQ job thus carries thousands of
deliveries, while a quiet app still gets one job per commit; an emit costs one Redis
command (and the job's round trips when it queues one). Retries go through RQ's
scheduler as ``deliver`` jobs carrying their ids.
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

from .models import AnySession

log = logging.getLogger("flask_clawhooks")

#: Most delivery ids a drain job takes from the ready list at a time.
DRAIN_BATCH = 500
#: How long one drain job keeps taking ids before it leaves the rest to the next job, so
#: that RQ's own upkeep (heartbeats, the job timeout) goes on under a steady load.
DRAIN_SECONDS = 5.0
#: Most delivery ids one scheduled ``deliver`` job carries.
JOB_BATCH = 500

DRAIN_FUNCTION = "flask_clawhooks.jobs.drain"
DELIVER_FUNCTION = "flask_clawhooks.jobs.deliver"

_PENDING_KEY = "clawhooks.pending_enqueue"


def ready_key(queue: Queue) -> str:
    return f"clawhooks:{queue.name}:ready"


def chunks(ids: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _queue_drain_job(queue: Queue) -> None:
    queue.enqueue(DRAIN_FUNCTION, result_ttl=0, failure_ttl=86400)


def push_ready(queue: Queue, delivery_ids: Sequence[str], *, force: bool = False) -> None:
    """Add ``delivery_ids`` to the ready list; queue a drain job if the list was empty.

    :param force: queue a drain job whatever the list held. The sweeper does, so ids
        left on the list by a drain job that was lost (a worker killed between taking
        the job and taking the ids) are not held up until the list empties.
    """
    if not delivery_ids:
        return
    length = queue.connection.rpush(ready_key(queue), *delivery_ids)
    if force or length == len(delivery_ids):
        _queue_drain_job(queue)


def take_ready(queue: Queue, count: int = DRAIN_BATCH) -> list[str]:
    """Take up to ``count`` ids off the ready list (run by the drain job).

    If ids remain after taking and no job is waiting in the queue, the next drain job
    is queued straight away so that other workers share the backlog; a job already
    waiting will do (it loops too, see :func:`flask_clawhooks.jobs.drain`), so a
    backlog costs a few RQ jobs, not one per batch.
    """
    with queue.connection.pipeline(transaction=False) as pipe:
        pipe.lpop(ready_key(queue), count)
        pipe.llen(ready_key(queue))
        pipe.llen(queue.key)
        taken, left, waiting = pipe.execute()
    if left and not waiting:
        _queue_drain_job(queue)
    return [raw.decode() for raw in taken or ()]


def hand_on(queue: Queue) -> None:
    """A drain job stops with ids left on the ready list: queue the next one.

    Whatever waits in the queue: it may be a scheduled ``deliver`` job, which would
    leave the ids on the list to the sweeper.
    """
    if queue.connection.llen(ready_key(queue)):
        _queue_drain_job(queue)


def whole_second_after(when: dt.datetime) -> dt.datetime:
    """``when`` rounded up to a whole second: RQ's scheduler keeps whole seconds, and a
    job must never become runnable before its deliveries are due."""
    whole = when.replace(microsecond=0)
    return whole + dt.timedelta(seconds=1) if whole < when else whole


def enqueue_at(queue: Queue, when: dt.datetime, delivery_ids: Sequence[str], pipe: Any) -> None:
    """Schedule ``deliver`` jobs through RQ's scheduler for ``when`` (naive UTC), rounded up."""
    whole = whole_second_after(when).replace(tzinfo=dt.UTC)
    for batch in chunks(delivery_ids, JOB_BATCH):
        queue.enqueue_at(whole, DELIVER_FUNCTION, batch, result_ttl=0, failure_ttl=86400,
                         pipeline=pipe)


def after_commit(
    session: AnySession, delivery_ids: list[str], send: Callable[[list[str]], None]
) -> None:
    """Arrange for ``send(delivery_ids)`` to run once ``session`` commits.

    Ids added by several calls in one transaction are sent together, in one call.
    """
    pending: dict[Callable[[list[str]], None], list[str]]
    pending = session.info.setdefault(_PENDING_KEY, {})
    pending.setdefault(send, []).extend(delivery_ids)


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    for send, ids in pending.items():
        try:
            send(ids)
        except (redis.RedisError, OSError) as exc:
            # One line, not a traceback: an unreachable Redis is an outage to report,
            # not a bug, and the sweeper makes up for it.
            log.warning("Could not queue %d deliveries (%s); the sweeper will send them.",
                        len(ids), exc)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
