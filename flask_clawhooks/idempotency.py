"""``emit(..., idempotency_key=...)``: the same key, the same owner, one event.

A host that may call ``emit()`` twice for one thing (a retried request, a job run twice)
passes a key; every emit with that key within ``CLAWHOOKS_IDEMPOTENCY_WINDOW`` of the
first one creates nothing and returns the first event.

The database enforces it, not a read before the write. The key is a row of
``clawhooks_idempotency_key`` whose primary key is ``(owner, key)``, written *before* the
event, in the host's transaction, by one statement::

    INSERT … ON CONFLICT (owner, key)
        DO UPDATE SET event_id = …, expires_at = … WHERE expires_at <= now
        RETURNING event_id

A row comes back when the key was free, or its window had passed and this emit took it
over; then this emit records its event under the id it wrote. No row means another
emit holds the key: its event is returned instead. Two emits racing in separate
transactions meet on the unique key: in PostgreSQL the second ``INSERT`` waits for the
first transaction and, once that commits, does nothing (it goes on as the first if that
rolls back); in SQLite the second waits for the write lock. Neither raises, so the
host's transaction is never left in a failed state. On other databases the ``INSERT``
runs inside a SAVEPOINT (``session.begin_nested()``) and a unique violation rolls back
only that.

Expired keys stay until the next emit with the same key takes them over or
``flask clawhooks prune`` deletes them (:func:`prune_expired`).

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from .models import AnySession, Event, event_table, idempotency_key_table
from .timeutil import utcnow

#: Longest key accepted, in characters (the column's size).
KEY_MAX = 255

_keys = idempotency_key_table


def check_key(key: Any) -> str:
    """:raises ValueError: unless ``key`` is a non-empty string of at most 255 characters
        that every database can store: no NUL (PostgreSQL text cannot hold one) and no
        lone surrogate (it has no UTF-8 form)."""
    if not isinstance(key, str) or not key or len(key) > KEY_MAX:
        raise ValueError(f"idempotency_key must be a non-empty string of at most {KEY_MAX} "
                         f"characters, got {key!r:.80}.")
    if "\x00" in key:
        raise ValueError(f"idempotency_key must not contain NUL characters, got {key!r:.80}; "
                         "use printable text such as an order id.")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"idempotency_key must be valid Unicode text, got {key!r:.80}.") from None
    return key


def claim(session: AnySession, owner: str, key: str, event_id: str, window: float,
          *, upsert: bool | None = None) -> str | None:
    """Take ``key`` for ``event_id`` in ``session``'s transaction.

    :returns: None if this emit now holds the key (and must record ``event_id``), else the
        id of the event that already holds it.
    :param upsert: use ``INSERT … ON CONFLICT`` (default on PostgreSQL and SQLite) rather
        than a SAVEPOINT.
    """
    now = utcnow()
    row = {"owner": owner, "key": key, "event_id": event_id, "created_at": now,
           "expires_at": now + dt.timedelta(seconds=window)}
    dialect = session.get_bind().dialect.name
    if upsert is None:
        upsert = dialect in ("postgresql", "sqlite")
    for _ in range(2):  # the second round only after dropping a key whose event is gone
        if upsert:
            taken = _upsert(session, dialect, row, now)
        else:
            taken = _insert_in_savepoint(session, row, now)
        if taken:
            return None
        holder = session.scalar(select(_keys.c.event_id)
                                .where(_keys.c.owner == owner, _keys.c.key == key))
        if holder is not None and session.scalar(
                select(event_table.c.id).where(event_table.c.id == holder)) is not None:
            return str(holder)
        # The event was pruned while its key lived on: the key is free again.
        session.execute(delete(_keys).where(_keys.c.owner == owner, _keys.c.key == key,
                                            _keys.c.event_id == holder))
    raise RuntimeError(f"Could not take idempotency key {key!r} of owner {owner!r}.")


def _upsert(session: AnySession, dialect: str, row: dict[str, Any], now: dt.datetime) -> bool:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = insert(_keys).values(row)
    upsert = stmt.on_conflict_do_update(
        index_elements=[_keys.c.owner, _keys.c.key],
        set_={"event_id": stmt.excluded.event_id, "created_at": stmt.excluded.created_at,
              "expires_at": stmt.excluded.expires_at},
        where=_keys.c.expires_at <= now,
    ).returning(_keys.c.event_id)
    return session.execute(upsert).first() is not None


def _insert_in_savepoint(session: AnySession, row: dict[str, Any], now: dt.datetime) -> bool:
    try:
        with session.begin_nested():
            session.execute(_keys.insert().values(row))
        return True
    except IntegrityError:
        pass
    taken = session.execute(
        update(_keys)
        .where(_keys.c.owner == row["owner"], _keys.c.key == row["key"],
               _keys.c.expires_at <= now)
        .values(event_id=row["event_id"], created_at=row["created_at"],
                expires_at=row["expires_at"])
    )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def first_event(session: AnySession, event_id: str) -> Event:
    """The event holding a key, detached like the one ``emit()`` returns."""
    found = session.execute(
        select(event_table.c.id, event_table.c.owner, event_table.c.type,
               event_table.c.created_at, event_table.c.body)
        .where(event_table.c.id == event_id)
    ).one()
    return Event(id=found.id, owner=found.owner, type=found.type,
                 created_at=found.created_at, body=found.body)


def prune_expired(session: AnySession, now: dt.datetime | None = None) -> int:
    """Delete keys whose window has passed; commit. Returns how many."""
    result = session.execute(delete(_keys).where(_keys.c.expires_at <= (now or utcnow())))
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
