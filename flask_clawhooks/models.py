"""Database tables: webhooks, events, deliveries (one per event x webhook) and attempts.

The models use their own declarative base and metadata rather than the host's
``db.Model``, so the package has no import-time dependency on the host; they are used
through the host's ``db.session`` like any other model, and ``flask clawhooks init-db``
creates the tables with the host's engine. Times are naive UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    scoped_session,
    validates,
)

from .encryption import SealedHeaders, SealedText
from .ids import new_id
from .timeutil import utcnow

ID = String(40)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class WebhookStatus(enum.StrEnum):
    """``Webhook.status``: the seed's ``active``, ``disabled`` and ``failed``."""

    ACTIVE = "active"
    DISABLED = "disabled"
    #: A delivery used its last retry; the next success makes it ``active`` again.
    FAILED = "failed"


class DeliveryStatus(enum.StrEnum):
    """``Delivery.status``: ``pending`` until it succeeds or fails for good."""

    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"


class AttemptOutcome(enum.StrEnum):
    """``Attempt.outcome``: what became of one POST."""

    #: Claimed by a worker, the POST under way (or the worker died: see INTERRUPTED).
    SENDING = "sending"
    #: The receiver answered 2xx.
    SUCCESS = "success"
    #: It failed and a retry is scheduled.
    RETRY = "retry"
    #: It failed and no retry follows (4xx, 410, refused, or the last retry).
    FAILED = "failed"
    #: The worker died mid-POST; the sweeper closed the attempt and queued the delivery.
    INTERRUPTED = "interrupted"

    @classmethod
    def finished(cls) -> tuple[AttemptOutcome, ...]:
        """The outcomes of a POST that got an answer or gave up: not sending, not cut."""
        return (cls.SUCCESS, cls.RETRY, cls.FAILED)

    @classmethod
    def failures(cls) -> tuple[AttemptOutcome, ...]:
        return (cls.RETRY, cls.FAILED)


class Ordering(enum.StrEnum):
    """``Webhook.ordering``: how a webhook's deliveries are sequenced."""

    #: As many at once as the workers and limits allow; order not kept.
    NONE = "none"
    #: One at a time, in emit order (:mod:`flask_clawhooks.ordering`).
    FIFO = "fifo"


class Webhook(Base):
    """An endpoint URL of one owner and the event types it subscribes to.

    ``status`` is ``active`` or ``failed`` (its last delivery exhausted its retries);
    ``enabled`` is the owner's switch. The API reports ``disabled`` while it is off.
    """

    __tablename__ = "clawhooks_webhook"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=lambda: new_id("wh"))
    owner: Mapped[str] = mapped_column(String(255), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)
    #: Stored encrypted with ``CLAWHOOKS_ENCRYPTION_KEYS`` (:mod:`.encryption`); the
    #: attribute holds the plain value.
    secret: Mapped[str] = mapped_column(SealedText)
    #: After a rotation, the old secret stays valid for Standard Webhooks signatures
    #: until ``previous_secret_expires_at`` (``CLAWHOOKS_SECRET_ROTATION_GRACE``).
    previous_secret: Mapped[str | None] = mapped_column(SealedText)
    previous_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default=WebhookStatus.ACTIVE)
    #: When the owner was last e-mailed about a failure (rate limit of that e-mail).
    last_failure_email_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: When the owner last switched the webhook on: failures before it are forgiven by
    #: the health check (:mod:`flask_clawhooks.health`), so a webhook switched back on is
    #: not switched off again at once.
    enabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: The start of the run of failures the owner was last warned about (the health
    #: check warns once per run). A run, not a clock time: workers' clocks may differ.
    warned_failing_since: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: Why the health check switched the webhook off; cleared when it is switched on.
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    #: Headers the owner added to every request: ``[{"name", "value", "secret"}]``, or
    #: None. Checked and masked by :mod:`flask_clawhooks.custom_headers`; secret values
    #: are stored encrypted (:mod:`.encryption`).
    custom_headers: Mapped[list[dict[str, Any]] | None] = mapped_column(SealedHeaders)
    #: Delivery control (:mod:`flask_clawhooks.control`): ``fifo`` sends one delivery at
    #: a time in emit order, ``none`` (the default) as many as the workers can.
    ordering: Mapped[str] = mapped_column(String(8), default=Ordering.NONE,
                                          server_default=Ordering.NONE)
    #: Most requests a second, counted across every worker, or None for no limit.
    max_per_second: Mapped[float | None] = mapped_column(Float)
    #: Most requests open at once, counted across every worker, or None for no limit.
    max_in_flight: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="webhook", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def public_status(self) -> str:
        return self.status if self.enabled else WebhookStatus.DISABLED

    @validates("enabled")
    def _switch(self, key: str, value: bool) -> bool:
        # Every way of switching a webhook back on (API, dashboard, Python) sets the
        # attribute, so the health check's fresh start is recorded here, once.
        if value and self.enabled is False:
            self.enabled_at = utcnow()
            self.disabled_reason = None
        return value

    def rotate_secret(self, new_secret: str, grace_seconds: float) -> None:
        """Make ``new_secret`` current; the old one keeps signing for ``grace_seconds``."""
        if new_secret == self.secret:
            return
        self.previous_secret = self.secret if grace_seconds > 0 else None
        self.previous_secret_expires_at = (
            utcnow() + dt.timedelta(seconds=grace_seconds) if grace_seconds > 0 else None
        )
        self.secret = new_secret


class Event(Base):
    """One emitted event. ``body`` holds the envelope's frozen bytes, sent as they are,
    until the payload expires (``CLAWHOOKS_PAYLOAD_RETENTION``): then NULL."""

    __tablename__ = "clawhooks_event"
    __table_args__ = (Index("ix_clawhooks_event_owner_id", "owner", "id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)


#: The conditions of the partial delivery indexes, written as literals (a bound
#: parameter would keep SQLite from seeing that a query implies them).
NOT_PENDING = text("status <> 'pending'")
ANSWERED = text("response_code IS NOT NULL")
PENDING = text("status = 'pending'")


class Delivery(Base):
    """One event on its way to one webhook.

    A worker claims it by writing ``lease_token`` and ``lease_until``; the sweeper hands
    pending deliveries that are due and not leased (or whose lease ran out) back to RQ.
    """

    __tablename__ = "clawhooks_delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "webhook_id", name="uq_clawhooks_delivery_event_webhook"),
        # The sweeper, the lease expiry and the queue gauges: pending deliveries by when
        # they are due. Partial, so a delivery leaves it once finished and the index stays
        # the size of the backlog (and recording an outcome writes one entry fewer).
        Index("ix_clawhooks_delivery_pending_due", "next_attempt_at",
              sqlite_where=PENDING, postgresql_where=PENDING),
        # A webhook's log in id order (flask_clawhooks.search, the API's and the
        # dashboard's lists) is two partial indexes: its pending deliveries, and its
        # finished ones. emit(), which inserts pending deliveries, writes only the
        # first: one index keyed by webhook instead of three, and on SQLite each is a
        # page per webhook written by the emitting commit. search.page_ids reads both.
        # The pending one is also the head of a FIFO webhook's queue and how many wait
        # behind it (flask_clawhooks.ordering).
        Index("ix_clawhooks_delivery_webhook_pending", "webhook_id", "id",
              sqlite_where=PENDING, postgresql_where=PENDING),
        Index("ix_clawhooks_delivery_webhook_finished", "webhook_id", "id",
              sqlite_where=NOT_PENDING, postgresql_where=NOT_PENDING),
        # Searching the log (flask_clawhooks.search) and recovering a range
        # (flask_clawhooks.recovery): per webhook, a filter, then newest or oldest first.
        # The status, type and class indexes are partial too: a delivery enters them
        # once it is finished or answered. Queries repeat the index's condition
        # (NOT_PENDING, PENDING, ANSWERED) to use them.
        Index("ix_clawhooks_delivery_webhook_status", "webhook_id", "status", "id",
              sqlite_where=NOT_PENDING, postgresql_where=NOT_PENDING),
        Index("ix_clawhooks_delivery_webhook_finished_type", "webhook_id", "event_type", "id",
              sqlite_where=NOT_PENDING, postgresql_where=NOT_PENDING),
        # The class of the HTTP status (2 for 2xx): a search for 5xx is then an equality,
        # read newest first; exact codes use it too. Keep the expression as
        # flask_clawhooks.search.RESPONSE_CLASS writes it, or the index is not used.
        Index("ix_clawhooks_delivery_webhook_class", "webhook_id",
              text("(response_code / 100)"), "id",
              sqlite_where=ANSWERED, postgresql_where=ANSWERED),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=lambda: new_id("del"))
    event_id: Mapped[str] = mapped_column(ForeignKey("clawhooks_event.id", ondelete="CASCADE"))
    webhook_id: Mapped[str] = mapped_column(
        ForeignKey("clawhooks_webhook.id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    lease_token: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    response_code: Mapped[int | None] = mapped_column(Integer)
    response_time_ms: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    webhook: Mapped[Webhook] = relationship(back_populates="deliveries")
    event: Mapped[Event] = relationship()
    attempts: Mapped[list[Attempt]] = relationship(
        back_populates="delivery",
        order_by="Attempt.number",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Attempt(Base):
    """One HTTP try of a delivery, successful or not."""

    __tablename__ = "clawhooks_attempt"
    __table_args__ = (
        Index("ix_clawhooks_attempt_delivery", "delivery_id", "number"),
        # Per-webhook health (flask_clawhooks.stats, .health): a range of one webhook's
        # attempts by time, covering the columns the statistics read, so they are
        # answered from the index alone however many rows the table holds.
        Index("ix_clawhooks_attempt_webhook_time", "webhook_id", "created_at", "outcome",
              "response_code", "response_time_ms"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=lambda: new_id("att"))
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("clawhooks_delivery.id", ondelete="CASCADE")
    )
    #: The delivery's webhook, copied so that a webhook's attempts can be found by time
    #: without a join (per-webhook statistics). No foreign key: deleting a webhook
    #: deletes its deliveries, and their attempts with them.
    webhook_id: Mapped[str | None] = mapped_column(ID)
    number: Mapped[int] = mapped_column(Integer)
    #: One of :class:`AttemptOutcome`.
    outcome: Mapped[str] = mapped_column(String(16))
    response_code: Mapped[int | None] = mapped_column(Integer)
    response_time_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    request_headers: Mapped[dict[str, Any]] = mapped_column(JSON)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    delivery: Mapped[Delivery] = relationship(back_populates="attempts")


class IdempotencyKey(Base):
    """An ``emit(..., idempotency_key=...)`` key of one owner, until ``expires_at``.

    The primary key is the unique constraint that makes a second emit with the same key
    a no-op even when two race in separate transactions (:mod:`flask_clawhooks.idempotency`).
    A key whose window has passed is taken over by the next emit that uses it, and
    ``flask clawhooks prune`` deletes the expired ones.
    """

    __tablename__ = "clawhooks_idempotency_key"
    __table_args__ = (Index("ix_clawhooks_idempotency_key_expires", "expires_at"),)

    owner: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_id: Mapped[str] = mapped_column(ID)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


#: Upper bounds, in milliseconds, of the response-time buckets of the roll-ups; one
#: more, open bucket counts slower answers. Changing them needs a revision.
LATENCY_BOUNDS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700,
                  1000, 1500, 2000, 3000, 5000, 7000, 10000, 15000, 20000, 30000)


def latency_column(bound: int | None) -> str:
    """The roll-up column counting answers up to ``bound`` ms (None: the open bucket)."""
    return "ms_over" if bound is None else f"ms_le_{bound}"


#: Per webhook and clock hour, its finished attempts summed up: what statistics and the
#: health check read (:mod:`flask_clawhooks.rollups`). No foreign key, like
#: ``Attempt.webhook_id``: the rows of a deleted webhook are deleted with it.
rollup_table = Table(
    "clawhooks_rollup", Base.metadata,
    Column("webhook_id", ID, nullable=False),
    #: The start of the hour (naive UTC).
    Column("hour", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("successes", Integer, nullable=False),
    #: Attempts that ended their delivery ``failed`` (no retry follows).
    Column("failed", Integer, nullable=False),
    *[Column(latency_column(bound), Integer, nullable=False)
      for bound in (*LATENCY_BOUNDS, None)],
    Column("last_success_at", DateTime),
    Column("last_failure_at", DateTime),
    Column("first_failure_at", DateTime),
    #: The slowest answer in the hour, in ms: caps the percentiles read from the buckets.
    Column("max_ms", Integer),
    PrimaryKeyConstraint("webhook_id", "hour"),
)

#: A session as hosts hand it over: a plain one, or Flask-SQLAlchemy's ``db.session``.
AnySession = Session | scoped_session[Any]

#: The tables of the models, for core statements (bulk inserts and updates).
webhook_table = cast(Table, Webhook.__table__)
event_table = cast(Table, Event.__table__)
delivery_table = cast(Table, Delivery.__table__)
attempt_table = cast(Table, Attempt.__table__)
idempotency_key_table = cast(Table, IdempotencyKey.__table__)
