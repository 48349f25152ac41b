"""The schemas of released versions, frozen as they were: never edit one.

A revision describes a change; these describe a state. They are what
:func:`flask_clawhooks.migrations.schema.recognise` compares a database that has tables
but no version table with (one made by an ``init-db`` before the schema was versioned),
to know which revision it is at; revision ``0001`` creates the 0.1.0 tables from
:func:`schema_0_1`, so what it creates and what is recognised as 0.1.0 cannot drift.

They are copies of the models of that release written as plain :class:`~sqlalchemy.Table`
objects (with the same naming convention), not imports of today's models, which change.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
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

#: The naming convention of ``flask_clawhooks.models.Base`` since 0.1.0.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(40)


def _webhook(metadata: MetaData, *columns: Column[object]) -> Table:
    return Table(
        "clawhooks_webhook", metadata,
        Column("id", ID, primary_key=True),
        Column("owner", String(255), nullable=False, index=True),
        Column("url", Text, nullable=False),
        Column("events", JSON, nullable=False),
        Column("secret", String(255), nullable=False),
        Column("previous_secret", String(255)),
        Column("previous_secret_expires_at", DateTime),
        Column("description", Text),
        Column("enabled", Boolean, nullable=False),
        Column("status", String(16), nullable=False),
        *columns,
        Column("last_failure_email_at", DateTime),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
    )


def _event(metadata: MetaData) -> Table:
    return Table(
        "clawhooks_event", metadata,
        Column("id", ID, primary_key=True),
        Column("owner", String(255), nullable=False),
        Column("type", String(100), nullable=False),
        Column("created_at", DateTime, nullable=False),
        Column("body", LargeBinary, nullable=False),
        Index("ix_clawhooks_event_owner_id", "owner", "id"),
    )


def _delivery(metadata: MetaData, *indexes: Index) -> Table:
    return Table(
        "clawhooks_delivery", metadata,
        Column("id", ID, primary_key=True),
        Column("event_id", ID, ForeignKey("clawhooks_event.id", ondelete="CASCADE"),
               nullable=False),
        Column("webhook_id", ID, ForeignKey("clawhooks_webhook.id", ondelete="CASCADE"),
               nullable=False),
        Column("event_type", String(100), nullable=False),
        Column("status", String(16), nullable=False),
        Column("attempt_count", Integer, nullable=False),
        Column("next_attempt_at", DateTime),
        Column("lease_token", String(40)),
        Column("lease_until", DateTime),
        Column("response_code", Integer),
        Column("response_time_ms", Integer),
        Column("last_error", Text),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
        UniqueConstraint("event_id", "webhook_id", name="uq_clawhooks_delivery_event_webhook"),
        Index("ix_clawhooks_delivery_webhook_id", "webhook_id", "id"),
        Index("ix_clawhooks_delivery_due", "status", "next_attempt_at"),
        *indexes,
    )


def _attempt(metadata: MetaData, *extra: Column[object] | Index) -> Table:
    return Table(
        "clawhooks_attempt", metadata,
        Column("id", ID, primary_key=True),
        Column("delivery_id", ID, ForeignKey("clawhooks_delivery.id", ondelete="CASCADE"),
               nullable=False),
        Column("number", Integer, nullable=False),
        Column("outcome", String(16), nullable=False),
        Column("response_code", Integer),
        Column("response_time_ms", Integer, nullable=False),
        Column("error", Text),
        Column("request_headers", JSON, nullable=False),
        Column("response_headers", JSON),
        Column("response_excerpt", Text),
        Column("created_at", DateTime, nullable=False),
        Index("ix_clawhooks_attempt_delivery", "delivery_id", "number"),
        *extra,
    )


def _api_key(metadata: MetaData) -> Table:
    return Table(
        "clawhooks_api_key", metadata,
        Column("id", ID, primary_key=True),
        Column("owner", String(255), nullable=False, index=True),
        Column("name", String(255)),
        Column("prefix", String(12), nullable=False),
        Column("key_hash", String(64), nullable=False, unique=True),
        Column("created_at", DateTime, nullable=False),
        Column("last_used_at", DateTime),
        Column("revoked_at", DateTime),
    )


def schema_0_1() -> MetaData:
    """The tables ``init-db`` of 0.1.0 (commit 056dcc3) created."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    _webhook(metadata, Column("consecutive_failures", Integer, nullable=False))
    _event(metadata)
    _delivery(metadata)
    _attempt(metadata)
    _api_key(metadata)
    return metadata


def schema_0_2() -> MetaData:
    """The tables ``init-db`` of 0.2.0 created: revision ``0004``."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    _webhook(
        metadata,
        Column("enabled_at", DateTime),
        Column("warned_failing_since", DateTime),
        Column("disabled_reason", Text),
        Column("custom_headers", JSON),
    )
    _event(metadata)
    not_pending = text("status <> 'pending'")
    answered = text("response_code IS NOT NULL")
    _delivery(
        metadata,
        Index("ix_clawhooks_delivery_webhook_status", "webhook_id", "status", "id",
              sqlite_where=not_pending, postgresql_where=not_pending),
        Index("ix_clawhooks_delivery_webhook_type", "webhook_id", "event_type", "id"),
        Index("ix_clawhooks_delivery_webhook_class", "webhook_id",
              text("(response_code / 100)"), "id",
              sqlite_where=answered, postgresql_where=answered),
    )
    _attempt(
        metadata,
        Column("webhook_id", ID),
        Index("ix_clawhooks_attempt_webhook_time", "webhook_id", "created_at", "outcome",
              "response_code", "response_time_ms"),
    )
    _api_key(metadata)
    Table(
        "clawhooks_idempotency_key", metadata,
        Column("owner", String(255), nullable=False),
        Column("key", String(255), nullable=False),
        Column("event_id", ID, nullable=False),
        Column("created_at", DateTime, nullable=False),
        Column("expires_at", DateTime, nullable=False),
        PrimaryKeyConstraint("owner", "key", name="pk_clawhooks_idempotency_key"),
        Index("ix_clawhooks_idempotency_key_expires", "expires_at"),
    )
    return metadata
