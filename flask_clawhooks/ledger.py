"""The database side of delivering: claiming deliveries and recording what happened.

Claiming writes a lease (a random token and an expiry) on each delivery and an attempt
row in the state ``sending``, in one transaction, *before* anything is sent. A worker
killed in the middle of a POST therefore leaves an attempt row behind, and once its lease
has run out the sweeper marks that attempt ``interrupted`` and hands the delivery to
another worker. Every request a receiver sees has an attempt row.

Recording writes a batch of finished attempts and their deliveries in one transaction and
returns the follow-ups (retries to schedule, signals, e-mails) to run after the commit.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import or_, select, update

from . import custom_headers, disclosure, jsontext, rollups
from .config import Settings
from .control import Candidate, Screen
from .encryption import Cipher
from .ids import new_id, new_ids
from .models import (
    PENDING,
    AnySession,
    Delivery,
    DeliveryStatus,
    Event,
    Ordering,
    Webhook,
    WebhookStatus,
    attempt_table,
    delivery_table,
    webhook_table,
)
from .outcome import decide
from .signing import Signer, signer
from .state import get_state
from .timeutil import utcnow
from .transport import HttpResult

_attempts = attempt_table
_deliveries = delivery_table
_webhooks = webhook_table


@dataclass(slots=True)
class Work:
    """A claimed delivery, with everything needed to send it without the database."""

    delivery_id: str
    attempt_id: str
    attempt_number: int
    lease_token: str
    webhook_id: str
    owner: str
    url: str
    event_id: str
    event_type: str
    body: bytes
    headers: dict[str, str]
    #: What the attempt log stores when it differs from ``headers``: secret custom
    #: header values masked (:mod:`flask_clawhooks.custom_headers`).
    log_headers: dict[str, str] | None = None
    #: Secret custom header values, masked in the receiver's logged answer.
    secret_values: tuple[str, ...] = ()
    #: The webhook sends one delivery at a time (:mod:`flask_clawhooks.ordering`): the
    #: worker that records this one wakes the next.
    fifo: bool = False
    #: Held back until its rate-limit slot; does not hold a claim slot meanwhile.
    paced: bool = False


@dataclass(slots=True)
class Outcome:
    """A finished POST. ``started_at`` becomes the attempt's time: the claim wrote a
    provisional one, but a claimed delivery may wait for a free sender first."""

    work: Work
    result: HttpResult
    started_at: dt.datetime
    finished_at: dt.datetime


@dataclass
class Failure:
    """A delivery that ended without success, for signals and e-mail."""

    delivery_id: str
    webhook_id: str
    owner: str
    url: str
    event_id: str
    event_type: str
    reason: str
    attempts: int
    exhausted: bool


@dataclass
class Followups:
    """What to do once a recording transaction has committed."""

    retries: list[tuple[str, dt.datetime]] = field(default_factory=list)
    succeeded: list[Outcome] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    recovered_webhooks: list[str] = field(default_factory=list)


# -- set-based statements ---------------------------------------------------------------
#
# A few statements per batch, whatever the batch's size, with the same SQL text every
# time, so the database can keep them prepared (see _BatchWrite for how a batch of rows
# reaches the database). Statements that differ between the two databases are keyed by
# ``postgres`` (True on PostgreSQL, False on SQLite). They go to the driver as they are
# (exec_driver_sql, see _driver_sql; times as _timestamp writes them on SQLite):
# SQLAlchemy's compiling and result processing cost the worker more CPU than the
# driver's own work for each of them.


def _rows(columns: str) -> str:
    """A derived table ``v`` of the JSON rows bound as ``:rows`` (PostgreSQL);
    ``columns`` are ``name type`` pairs."""
    return f"json_to_recordset(CAST(:rows AS json)) AS v({columns})"


def _driver_sql(sql: str, postgres: bool) -> str:
    """``sql`` with its ``:name`` parameters in the driver's style (psycopg: ``%(name)s``)."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql) if postgres else sql


def _timestamp(moment: dt.datetime) -> str:
    """A naive UTC time as JSON rows carry it: the text SQLAlchemy stores in SQLite."""
    return moment.isoformat(" ", "microseconds")


# What a claim reads per delivery; what it reads of their webhooks (_WEBHOOKS_SQL) comes
# once per webhook, not with every row.
_CLAIMED_COLUMNS = "d.id, d.attempt_count, d.webhook_id, e.id, e.type, e.body"
# Pending, due and not leased. An expired lease is released only by interrupt_expired
# (the sweeper), which closes its "sending" attempt first; taking it over here would
# leave that attempt "sending" for ever.
_CLAIMABLE = """status = 'pending'
      AND (next_attempt_at IS NULL OR next_attempt_at <= :now)
      AND lease_until IS NULL"""
_LEASE = """lease_token = :token, lease_until = :until,
    attempt_count = attempt_count + 1, updated_at = :now"""

# The rows are locked by primary key alone, skipping those another transaction holds
# (the ids come as one text, split by the server: psycopg's dumping of a list of
# strings cost the claim about 2 µs of CPU per delivery);
# those still claimable are then leased through their physical address (ctid: a locked
# row cannot move). No plan can walk the backlog of pending deliveries through their
# due index (ix_clawhooks_delivery_pending_due), whatever the table's statistics say.
_CLAIM_POSTGRES = _driver_sql(f"""
WITH todo AS MATERIALIZED (
    SELECT ctid, status, next_attempt_at, lease_until FROM clawhooks_delivery
    WHERE id = ANY(string_to_array(:ids, ',')) FOR UPDATE SKIP LOCKED),
d AS (
    UPDATE clawhooks_delivery SET {_LEASE}
    WHERE ctid = ANY(ARRAY(SELECT ctid FROM todo WHERE {_CLAIMABLE}))
    RETURNING id, attempt_count, webhook_id, event_id)
SELECT {_CLAIMED_COLUMNS}
FROM d JOIN clawhooks_event AS e ON e.id = d.event_id""", True)
# The unary + keeps SQLite from walking the pending deliveries' due index through every
# one of them: the rows are found by primary key.
_LEASE_SQLITE = f"""
UPDATE clawhooks_delivery SET {_LEASE}
WHERE id IN (SELECT value FROM json_each(:ids))
  AND {_CLAIMABLE.replace("status =", "+status =", 1)}"""
_LEASED_SQLITE = f"""
SELECT {_CLAIMED_COLUMNS}
FROM clawhooks_delivery AS d JOIN clawhooks_event AS e ON e.id = d.event_id
WHERE d.id IN (SELECT value FROM json_each(:ids)) AND d.lease_token = :token"""
_WEBHOOKS_SQL = """
SELECT id, owner, url, secret,
       CASE WHEN previous_secret_expires_at > :now THEN previous_secret END,
       enabled, custom_headers, ordering, max_per_second, max_in_flight
FROM clawhooks_webhook WHERE id {}"""
_WEBHOOKS_POSTGRES = _driver_sql(_WEBHOOKS_SQL.format("= ANY(:webhook_ids)"), True)
_WEBHOOKS_SQLITE = _WEBHOOKS_SQL.format("IN (SELECT value FROM json_each(:webhook_ids))")


@dataclass(slots=True)
class _Sending:
    """What the claimed deliveries of one webhook share, worked out once per claim."""

    owner: str
    url: str
    enabled: bool
    fifo: bool
    #: Its delivery-control settings, for :class:`~flask_clawhooks.control.Screen`
    #: (a candidate with a blank delivery id); None when it has none.
    control: Candidate | None
    #: As stored: encrypted at rest (read with plain SQL), opened by :meth:`open`.
    sealed: tuple[str, str | None, Any]
    signer: Signer | None = None
    #: The custom headers, secret values opened; None without any.
    custom: list[dict[str, Any]] | None = None

    @classmethod
    def from_row(cls, row: Any) -> _Sending:
        (webhook_id, owner, url, secret, previous, enabled, custom, ordering, per_second,
         in_flight) = row
        control = Candidate("", webhook_id, ordering, per_second, in_flight)
        return cls(owner, url, bool(enabled), ordering == Ordering.FIFO,
                   control if control.controlled else None, (secret, previous, custom))

    def open(self, cipher: Cipher) -> Signer:
        """Open the secrets, on the first delivery sent (of a disabled webhook, none)."""
        if self.signer is None:
            secret, previous, custom = self.sealed
            secret = cipher.open(secret)
            self.signer = signer((secret, cipher.open(previous)) if previous else (secret,))
            if isinstance(custom, str):  # JSON: parsed by psycopg, text from SQLite
                custom = None if custom == "null" else json.loads(custom)
            self.custom = cipher.open_headers(custom) if custom else None
        return self.signer


@dataclass(frozen=True)
class _BatchWrite:
    """A statement run once for each row of a batch.

    PostgreSQL gets the batch as one JSON parameter unpacked by ``json_to_recordset``:
    one round trip, whatever the batch's size. SQLite runs in this process, where there
    is no round trip to save: the statement with plain parameters, through the DBAPI
    cursor's ``executemany``, costs half as much CPU per row as unpacking JSON there
    (``json_extract`` parses each row's object once per column).
    """

    #: In the driver's parameter style (:func:`_driver_sql`).
    postgres: str
    #: Run one after the other, each for every row.
    sqlite: tuple[str, ...]
    #: Columns holding JSON, which SQLite is given as text.
    json_columns: tuple[str, ...] = ()

    def run(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        """Write ``rows`` in ``conn``'s transaction (on SQLite their JSON columns are
        replaced by the text stored)."""
        if not rows:
            return
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(self.postgres, {"rows": jsontext.dumps(rows)})
        else:
            _executemany(conn, self.sqlite, rows, self.json_columns)


def _executemany(conn: Any, statements: Sequence[str], rows: list[dict[str, Any]],
                 json_columns: Sequence[str]) -> None:
    """Run each of ``statements`` for every row of ``rows`` through the SQLite cursor
    (their JSON columns replaced by the text stored)."""
    for name in json_columns:
        for row in rows:
            if row[name] is not None:
                row[name] = jsontext.dumps(row[name])
    cursor = conn.connection.cursor()
    try:
        for statement in statements:
            cursor.executemany(statement, rows)
    finally:
        cursor.close()


def _batch_write(postgres_sql: str, columns: str, *sqlite_sql: str,
                 json_columns: tuple[str, ...] = ()) -> _BatchWrite:
    """``postgres_sql`` reads the rows from ``{rows}``, a derived table ``v`` of
    ``columns`` (``name type`` pairs); each of ``sqlite_sql`` names a row's values
    ``:name``."""
    return _BatchWrite(_driver_sql(postgres_sql.format(rows=_rows(columns)), True),
                       sqlite_sql, json_columns)


_INSERT_ATTEMPTS = _batch_write("""
INSERT INTO clawhooks_attempt
    (id, delivery_id, webhook_id, number, outcome, response_time_ms, request_headers,
     created_at)
SELECT id, delivery_id, webhook_id, number, 'sending', 0, request_headers, created_at
FROM {rows}""", "id text, delivery_id text, webhook_id text, number int, "
                "request_headers json, created_at timestamp", """
INSERT INTO clawhooks_attempt
    (id, delivery_id, webhook_id, number, outcome, response_time_ms, request_headers,
     created_at)
VALUES (:id, :delivery_id, :webhook_id, :number, 'sending', 0, :request_headers,
        :created_at)""", json_columns=("request_headers",))

# A batch of outcomes: each row is one attempt and its delivery. On PostgreSQL one
# statement writes the attempts, the deliveries and the roll-ups, and makes the webhooks
# that had failed and now succeeded active again, returning them (an UPDATE or INSERT in
# a WITH runs whether or not it is read). As three statements through SQLAlchemy they
# cost the recorder about a third more CPU per delivery.
_RECORD_POSTGRES = _driver_sql(f"""
WITH v AS MATERIALIZED (SELECT * FROM {_rows(
    "id text, lease_token text, status text, next_attempt_at timestamp, attempt_id text, "
    "outcome text, response_code int, response_time_ms int, error text, "
    "response_headers json, response_excerpt text, created_at timestamp, "
    "updated_at timestamp")}),
attempts AS (
    UPDATE clawhooks_attempt AS a SET
        outcome = v.outcome, response_code = v.response_code,
        response_time_ms = v.response_time_ms, error = v.error,
        response_headers = v.response_headers, response_excerpt = v.response_excerpt,
        created_at = v.created_at
    FROM v WHERE a.id = v.attempt_id),
deliveries AS (
    UPDATE clawhooks_delivery AS d SET
        status = v.status, next_attempt_at = v.next_attempt_at,
        lease_token = NULL, lease_until = NULL,
        response_code = v.response_code, response_time_ms = v.response_time_ms,
        last_error = v.error, updated_at = v.updated_at
    FROM v WHERE d.id = v.id AND d.lease_token = v.lease_token),
rollups AS ({rollups.upsert_sql(True, ":rollups")})
UPDATE clawhooks_webhook SET status = '{WebhookStatus.ACTIVE}'
WHERE id = ANY(:succeeded) AND status = '{WebhookStatus.FAILED}'
RETURNING id""", True)
# SQLite: the attempts and deliveries by executemany (see _BatchWrite), then the
# roll-ups (rollups.add) and the recovered webhooks.
_RECOVERED_SQLITE = f"""
UPDATE clawhooks_webhook SET status = '{WebhookStatus.ACTIVE}'
WHERE id IN (SELECT value FROM json_each(:webhook_ids)) AND status = '{WebhookStatus.FAILED}'
RETURNING id"""
_RECORD_SQLITE = ("""
UPDATE clawhooks_attempt SET
    outcome = :outcome, response_code = :response_code,
    response_time_ms = :response_time_ms, error = :error,
    response_headers = :response_headers, response_excerpt = :response_excerpt,
    created_at = :created_at
WHERE id = :attempt_id""", """
UPDATE clawhooks_delivery SET
    status = :status, next_attempt_at = :next_attempt_at,
    lease_token = NULL, lease_until = NULL,
    response_code = :response_code, response_time_ms = :response_time_ms,
    last_error = :error, updated_at = :updated_at
WHERE id = :id AND lease_token = :lease_token""")


_INSERT_EVENT = """
INSERT INTO clawhooks_event (id, owner, type, created_at, body)
VALUES (:event_id, :owner, :type, :now, :body)"""
_SUBSCRIBED = {
    True: "w.owner = :owner AND w.enabled AND CAST(w.events AS jsonb) ? :type",
    False: "w.owner = :owner AND w.enabled "
           "AND EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = :type)",
}


# emit()'s statements skip SQLAlchemy's compiling and type processing (exec_driver_sql on
# PostgreSQL, the DBAPI cursor on SQLite): the host's request pays for every microsecond.
#
# PostgreSQL: one statement. The event is inserted in a data-modifying WITH, and a
# delivery for each chosen webhook, with no round trip to read the subscribed webhooks
# first. The delivery ids are made there: the first 22 characters of a new id (``:base``,
# which ids.new_id makes grow from one emit to the next), then the webhook's row number
# in 4 base32 digits (up to 2**20 webhooks of one owner).
_DIGIT = "substr('0123456789abcdefghjkmnpqrstvwxyz', CAST(((n >> {}) & 31) + 1 AS integer), 1)"
_EMIT_POSTGRES = {chosen: _driver_sql(f"""
WITH event AS ({_INSERT_EVENT})
INSERT INTO clawhooks_delivery (id, event_id, webhook_id, event_type, status, attempt_count,
                                next_attempt_at, created_at, updated_at)
SELECT :base || {" || ".join(_DIGIT.format(shift) for shift in (15, 10, 5, 0))},
       :event_id, webhook_id, :type, 'pending', 0, :now, :now, :now
FROM (SELECT w.id AS webhook_id, row_number() OVER () - 1 AS n
      FROM clawhooks_webhook AS w
      WHERE {"w.id = ANY(:webhook_ids)" if chosen else _SUBSCRIBED[True]}) AS chosen
RETURNING id""", True) for chosen in (True, False)}
_EMIT_EVENT_POSTGRES = _driver_sql(_INSERT_EVENT, True)
# SQLite: no round trips to save; reading the subscribed webhooks and inserting the
# deliveries with executemany is cheaper there than one INSERT … SELECT … RETURNING.
_SUBSCRIBED_SQLITE = f"SELECT w.id FROM clawhooks_webhook AS w WHERE {_SUBSCRIBED[False]}"
_INSERT_DELIVERY_SQLITE = """
INSERT INTO clawhooks_delivery (id, event_id, webhook_id, event_type, status, attempt_count,
                                next_attempt_at, created_at, updated_at)
VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)"""


def insert_event(session: AnySession, event: Event,
                 webhook_ids: Sequence[str] | None = None) -> list[str]:
    """Insert ``event`` and a delivery, due now, for each of ``webhook_ids`` or, if None,
    for each enabled webhook of the event's owner subscribed to its type; in
    ``session``'s transaction. Returns the ids of the deliveries.

    This runs inside the host's request: one statement on PostgreSQL, three quick ones on
    SQLite. They go to the database without SQLAlchemy's compiling (and, on SQLite,
    without its engine events), on the session's own connection and transaction.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        params: dict[str, Any] = {
            "event_id": event.id, "owner": event.owner, "type": event.type,
            "body": event.body, "now": event.created_at, "base": new_id("del")[:26],
        }
        if webhook_ids is not None and not webhook_ids:
            conn.exec_driver_sql(_EMIT_EVENT_POSTGRES, params)
            return []
        params["webhook_ids"] = list(webhook_ids or ())
        rows = conn.exec_driver_sql(_EMIT_POSTGRES[webhook_ids is not None], params)
        return [delivery_id for delivery_id, in rows]
    now = _timestamp(event.created_at)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(_INSERT_EVENT, {"event_id": event.id, "owner": event.owner,
                                       "type": event.type, "now": now, "body": event.body})
        if webhook_ids is None:
            webhook_ids = [webhook_id for webhook_id, in cursor.execute(
                _SUBSCRIBED_SQLITE, {"owner": event.owner, "type": event.type})]
        delivery_ids = new_ids("del", len(webhook_ids))
        if delivery_ids:
            cursor.executemany(_INSERT_DELIVERY_SQLITE, [
                (delivery_id, event.id, webhook_id, event.type, now, now, now)
                for delivery_id, webhook_id in zip(delivery_ids, webhook_ids, strict=True)
            ])
    finally:
        cursor.close()
    return delivery_ids


def claim(
    session: AnySession,
    delivery_ids: Sequence[str],
    settings: Settings,
    admit: Callable[[str], bool] | None = None,
    screen: Screen | None = None,
) -> tuple[list[Work], list[str]]:
    """Lease those of ``delivery_ids`` that are pending, due and not leased; commit.

    Deliveries of a disabled webhook are failed instead of sent. With ``admit``, each
    claimable delivery's URL is offered to it first, and those it turns down are left
    unclaimed and returned as the second item, to be tried again a little later. With
    ``screen``, the leased deliveries of webhooks with delivery control are screened in
    the same transaction (:mod:`flask_clawhooks.control`); those it gives back are not
    claimed and have no attempt.

    On PostgreSQL the lease is one statement (``UPDATE … RETURNING`` joined to the
    webhook and the event) that skips rows another transaction holds, so workers never
    queue behind each other; on SQLite it is an ``UPDATE`` and a ``SELECT``. The attempt
    rows follow in one ``INSERT``, and one commit ends the round.
    """
    if not delivery_ids:
        return [], []
    now = utcnow()
    deferred: list[str] = []
    if admit is not None:
        claimable = (
            _deliveries.c.status == DeliveryStatus.PENDING,
            or_(_deliveries.c.next_attempt_at.is_(None), _deliveries.c.next_attempt_at <= now),
            _deliveries.c.lease_until.is_(None),
        )
        candidates = session.execute(
            select(_deliveries.c.id, Webhook.url)
            .join(Webhook, _deliveries.c.webhook_id == Webhook.id)
            .where(_deliveries.c.id.in_(delivery_ids), *claimable)
        ).all()
        delivery_ids = []
        for delivery_id, url in candidates:
            (delivery_ids if admit(url) else deferred).append(delivery_id)
        if not delivery_ids:
            session.rollback()
            return [], deferred
    token = secrets.token_hex(16)
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    until = now + dt.timedelta(seconds=settings.lease_seconds)
    if postgres:
        rows = conn.exec_driver_sql(_CLAIM_POSTGRES, {
            "token": token, "now": now, "until": until, "ids": ",".join(delivery_ids)}).all()
    else:
        params = {"token": token, "now": _timestamp(now), "until": _timestamp(until),
                  "ids": jsontext.dumps(list(delivery_ids))}
        conn.exec_driver_sql(_LEASE_SQLITE, params)
        rows = conn.exec_driver_sql(_LEASED_SQLITE, params).all()

    webhook_ids = sorted({row[2] for row in rows})
    webhooks: dict[str, _Sending] = {}
    if webhook_ids:
        if postgres:
            found = conn.exec_driver_sql(_WEBHOOKS_POSTGRES,
                                         {"now": now, "webhook_ids": webhook_ids})
        else:
            found = conn.exec_driver_sql(_WEBHOOKS_SQLITE, {
                "now": _timestamp(now), "webhook_ids": jsontext.dumps(webhook_ids)})
        webhooks = {row[0]: _Sending.from_row(row) for row in found}

    if screen is not None:
        controlled = [replace(control, delivery_id=row[0]) for row in rows
                      if (control := webhooks[row[2]].control) is not None
                      and webhooks[row[2]].enabled]
        if controlled:
            held = screen(conn, controlled, now)
            rows = [row for row in rows if row[0] not in held]

    works: list[Work] = []
    disabled: list[str] = []
    expired: list[str] = []  # retried after the payload expired (pruning.expire_payloads)
    timestamp = int(time.time())
    pace = screen.pace if screen is not None else {}
    cipher = get_state().cipher
    # One call for the batch's attempt ids: a sixth of the CPU of one new_id() each.
    attempt_ids = iter(new_ids("att", len(rows)))
    for delivery_id, count, webhook_id, event_id, event_type, body in rows:
        attempt_id = next(attempt_ids)
        webhook = webhooks[webhook_id]
        if not webhook.enabled:
            disabled.append(delivery_id)
            continue
        if body is None:
            expired.append(delivery_id)
            continue
        work = Work(
            delivery_id, attempt_id, count, token, webhook_id, webhook.owner, webhook.url,
            event_id, event_type, body,
            webhook.open(cipher).headers(body, event_id, event_type, delivery_id, timestamp),
            fifo=webhook.fifo, paced=delivery_id in pace,
        )
        if webhook.custom:
            work.headers, work.log_headers, work.secret_values = custom_headers.apply(
                work.headers, webhook.custom)
        works.append(work)
    _fail_unsent(conn, disabled, "webhook was disabled before this delivery was sent", now)
    _fail_unsent(conn, expired, "the event's payload expired before this delivery was sent",
                 now)
    created_at = _timestamp(now)
    _INSERT_ATTEMPTS.run(conn, [
        {"id": w.attempt_id, "delivery_id": w.delivery_id, "webhook_id": w.webhook_id,
         "number": w.attempt_number, "created_at": created_at,
         "request_headers": w.headers if w.log_headers is None else w.log_headers}
        for w in works
    ])
    session.commit()
    return works, deferred


def _fail_unsent(conn: Any, delivery_ids: list[str], reason: str, now: dt.datetime) -> None:
    """End claimed ``delivery_ids`` as failed without an attempt: the claim counted one."""
    if delivery_ids:
        conn.execute(
            update(_deliveries).where(_deliveries.c.id.in_(delivery_ids)).values(
                status=DeliveryStatus.FAILED, lease_token=None, lease_until=None,
                attempt_count=_deliveries.c.attempt_count - 1, last_error=reason,
                updated_at=now,
            )
        )


def record(session: AnySession, outcomes: Sequence[Outcome], settings: Settings) -> Followups:
    """Write the attempts and delivery states of ``outcomes`` in one transaction; commit.

    On PostgreSQL the batch goes to the database in one statement
    (:data:`_RECORD_POSTGRES`), so its cost hardly grows with its size.
    """
    follow = Followups()
    rows: list[dict[str, Any]] = []
    succeeded: set[str] = set()  # webhooks with a success in the batch
    gone: set[str] = set()
    exhausted: set[str] = set()

    for outcome in outcomes:
        work, result = outcome.work, outcome.result
        decision = decide(result, work.attempt_number, outcome.finished_at,
                          settings.retry_delays, work.secret_values)
        status, next_at, error = decision.status, decision.next_attempt_at, decision.error
        if status == DeliveryStatus.SUCCESS:
            follow.succeeded.append(outcome)
        elif next_at is not None:
            follow.retries.append((work.delivery_id, next_at))
        if decision.exhausted:
            exhausted.add(work.webhook_id)
        if decision.gone:
            gone.add(work.webhook_id)
        # Everything recorded of the answer, and all that is later shown of it (API,
        # dashboard, CLI, e-mail, signals, logs), is what disclosure lets out.
        shown = disclosure.disclose(result, work.secret_values,
                                    settings.response_excerpt_bytes)
        if status == DeliveryStatus.FAILED:
            failure = Failure(
                delivery_id=work.delivery_id, webhook_id=work.webhook_id, owner=work.owner,
                url=work.url, event_id=work.event_id, event_type=work.event_type,
                reason=error or "failed", attempts=work.attempt_number,
                exhausted=decision.exhausted,
            )
            follow.failures.append(failure)
        elif status == DeliveryStatus.SUCCESS:
            succeeded.add(work.webhook_id)
        rows.append({
            "id": work.delivery_id, "lease_token": work.lease_token, "status": status,
            "next_attempt_at": next_at,
            "attempt_id": work.attempt_id, "outcome": decision.outcome,
            "response_code": result.status, "response_time_ms": result.elapsed_ms,
            "error": error, "response_headers": shown.headers,
            "response_excerpt": shown.excerpt,
            "created_at": outcome.started_at, "updated_at": outcome.finished_at,
        })

    attempts = [(o.work.webhook_id, o.started_at, str(row["outcome"]), o.result.status,
                 o.result.elapsed_ms) for o, row in zip(outcomes, rows, strict=True)]
    conn = session.connection()
    # Each webhook once (a batch holds hundreds of deliveries to a few webhooks): those
    # that were failed and are active again.
    if conn.dialect.name == "postgresql":
        recovered = conn.exec_driver_sql(_RECORD_POSTGRES, {
            "rows": jsontext.dumps(rows), "rollups": jsontext.dumps(rollups.summarise(attempts)),
            "succeeded": sorted(succeeded)}).scalars().all()
    else:
        for row in rows:  # times as SQLAlchemy stores them (jsontext writes them for PG)
            row["created_at"] = _timestamp(row["created_at"])
            row["updated_at"] = _timestamp(row["updated_at"])
            if row["next_attempt_at"] is not None:
                row["next_attempt_at"] = _timestamp(row["next_attempt_at"])
        _executemany(conn, _RECORD_SQLITE, rows, ("response_headers",))
        rollups.add(conn, attempts)
        recovered = conn.exec_driver_sql(_RECOVERED_SQLITE, {
            "webhook_ids": jsontext.dumps(sorted(succeeded))}).scalars().all() if succeeded else []
    follow.recovered_webhooks.extend(recovered)
    _end_webhooks(session, exhausted, gone)
    session.commit()
    return follow


def _end_webhooks(session: AnySession, exhausted: set[str], gone: set[str]) -> None:
    """Webhooks whose delivery failed for good after a batch: failed; those whose
    receiver answered 410 Gone: disabled. (A recovered webhook is made active by the
    batch's record statements, after which these run.)

    Switching off a webhook that keeps failing is not done here but by the periodic
    health check (:mod:`flask_clawhooks.health`), which reads the attempts: nothing on
    this path counts failures on the webhook row.
    """
    if exhausted:
        session.execute(update(_webhooks).where(_webhooks.c.id.in_(sorted(exhausted)))
                        .values(status=WebhookStatus.FAILED))
    if gone:
        session.execute(update(_webhooks).where(_webhooks.c.id.in_(sorted(gone)))
                        .values(enabled=False))


def interrupt_expired(session: AnySession, now: dt.datetime) -> list[str]:
    """Close the ``sending`` attempts of deliveries whose lease ran out; commit.

    Returns the ids of those deliveries. A receiver may or may not have seen such an
    attempt: the worker died before it could tell.
    """
    expired = session.scalars(
        select(Delivery.id).where(
            PENDING,  # as a literal: the condition of the partial index it reads
            Delivery.lease_until.is_not(None),
            Delivery.lease_until < now,
        )
    ).all()
    if not expired:
        return []
    session.execute(
        update(_attempts)
        .where(_attempts.c.delivery_id.in_(expired), _attempts.c.outcome == "sending")
        .values(outcome="interrupted",
                error="interrupted: the worker stopped before the outcome was recorded")
    )
    session.execute(
        update(_deliveries)
        .where(_deliveries.c.id.in_(expired), _deliveries.c.lease_until < now)
        .values(lease_token=None, lease_until=None, next_attempt_at=now)
    )
    session.commit()
    return list(expired)


def due(session: AnySession, now: dt.datetime, grace: float, limit: int) -> list[str]:
    """Ids of pending, unleased deliveries that were due at least ``grace`` seconds ago."""
    cutoff = now - dt.timedelta(seconds=grace)
    return list(session.scalars(
        select(Delivery.id)
        .where(
            PENDING,  # as a literal: the condition of the partial index it reads
            Delivery.lease_until.is_(None),
            or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= cutoff),
        )
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    ).all())
