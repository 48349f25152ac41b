"""The :class:`ClawHooks` extension object and the per-app state it keeps."""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event, func, select
from sqlalchemy import inspect as sa_inspect

from . import ledger, metrics, signals
from .catalog import CATALOG, TEST_EVENT, TEST_EVENT_TYPE, EventType
from .config import DEFAULTS, load_settings
from .dispatch import process_dispatcher
from .enqueue import after_commit, push_ready
from .errors import (
    ConfigurationError,
    InvalidEventData,
    NotInitialized,
    TooManyTestSends,
    UnknownEventType,
)
from .ids import new_id
from .migrations.host import alembic_include_name
from .models import (
    AnySession,
    Base,
    Delivery,
    DeliveryStatus,
    Event,
    Webhook,
)
from .ratelimit import LimitReached
from .samples import SAMPLES, sample_data
from .schemas import check_schema, data_errors
from .signing import envelope_bytes
from .state import EXTENSION_KEY, Loaders, State, get_state
from .timeutil import isoformat, utcnow

log = logging.getLogger("flask_clawhooks")


def _use_sqlite_wal(app: Flask, db: SQLAlchemy) -> None:
    """Put the app's SQLite database files in WAL mode on first connection
    (``CLAWHOOKS_SQLITE_WAL``); in-memory databases and other databases are left alone."""
    with app.app_context():
        engines = list(db.engines.values())
    for engine in engines:
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            event.listen(engine, "connect", _journal_mode_wal)


def _journal_mode_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:  # locked by another process: its next connection tries
        pass
    finally:
        cursor.close()


class ClawHooks:
    """Signed, retried webhooks for a Flask app.

    ::

        db = SQLAlchemy(app)
        clawhooks = ClawHooks(app, db=db)

        @app.post("/messages")
        def receive_message():
            ...
            clawhooks.emit("message.received", data, owner=current_user.id)
            db.session.commit()   # deliveries are queued only now

    :param app: the app to register on now; or call :meth:`init_app` later.
    :param db: the host's Flask-SQLAlchemy object; found in ``app.extensions`` if omitted.
    """

    def __init__(self, app: Flask | None = None, *, db: SQLAlchemy | None = None) -> None:
        self._db = db
        #: The callbacks the decorators below register; every app of this object uses them.
        self.loaders = Loaders()
        self.event_types: dict[str, EventType] = {t.name: t for t in CATALOG}
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register on ``app``: read and check ``CLAWHOOKS_*`` config, add the CLI group.

        :raises RuntimeError: if the extension is already registered on ``app``.
        :raises ~flask_clawhooks.ConfigurationError: for a missing database or a bad setting.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "ClawHooks is already registered on this app; create one ClawHooks per app "
                "or call init_app once."
            )
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        db = self._db or app.extensions.get("sqlalchemy")
        if db is None:
            raise ConfigurationError(
                "ClawHooks needs Flask-SQLAlchemy: create SQLAlchemy(app) first, or pass "
                "ClawHooks(app, db=db)."
            )
        settings = load_settings(app.config)
        app.extensions[EXTENSION_KEY] = State(self, db, settings)
        if not settings.encryption_keys:
            log.warning("CLAWHOOKS_ENCRYPTION_KEYS is not set: webhook signing secrets and "
                        "secret header values are stored unencrypted. Fine for development "
                        "only; see the CLAWHOOKS_ENCRYPTION_KEYS documentation.")
        if settings.sqlite_wal and "sqlalchemy" in app.extensions:
            _use_sqlite_wal(app, db)

        from . import api
        from .cli import cli

        api.register(app, settings.api_prefix)
        app.cli.add_command(cli)
        if settings.metrics_view is not None:
            metrics.register_view(app, settings.metrics_view)

        from .dashboard import NAME as DASHBOARD
        from .dashboard import create_blueprint as create_dashboard

        app.register_blueprint(create_dashboard(), url_prefix=settings.dashboard_prefix)

        from .migrations import gate, host

        gate.install(app, db, {"clawhooks_api": "api", DASHBOARD: "dashboard"})
        host.watch_for_flask_migrate(app)

    # -- configuration by the host ---------------------------------------------------

    def owner_email_loader(
        self, loader: Callable[[str], str | None]
    ) -> Callable[[str], str | None]:
        """Decorator: ``loader(owner)`` returns the address failure e-mails go to, or None."""
        self.loaders.owner_email = loader
        return loader

    def dashboard_owner_loader(
        self, loader: Callable[[], str | None]
    ) -> Callable[[], str | None]:
        """Decorator: ``loader()`` returns the owner viewing the dashboard, or None.

        It runs in each dashboard request, so it can read the host's session::

            @clawhooks.dashboard_owner_loader
            def dashboard_owner():
                return current_user.id if current_user.is_authenticated else None

        None gets a 401 page, or a redirect to ``CLAWHOOKS_DASHBOARD_LOGIN_ENDPOINT``.
        Without a loader nobody may see the dashboard.
        """
        self.loaders.dashboard_owner = loader
        return loader

    def api_key_loader(
        self, loader: Callable[[str], str | None]
    ) -> Callable[[str], str | None]:
        """Decorator: ``loader(token)`` returns the owner of an API key, or None to refuse it.

        For hosts with API keys of their own; it replaces the ``clawhooks_api_key`` table
        (:mod:`flask_clawhooks.apikeys`) for the JSON API. ``token`` is what followed
        ``Authorization: Bearer``.
        """
        self.loaders.api_key = loader
        return loader

    def register_event_type(self, name: str, description: str, group: str = "Custom", *,
                            schema: dict[str, Any] | None = None) -> None:
        """Allow :meth:`emit` of another event type, such as ``invoice.paid``.

        :param schema: the JSON Schema (draft 2020-12) of the event's ``data``: served by
            the API (``/event-types``, the OpenAPI ``webhooks``), shown in the dashboard,
            and checked by :meth:`emit` as ``CLAWHOOKS_VALIDATE_PAYLOADS`` says. Without
            one, receivers learn nothing of the shape and ``data`` is not checked.
        :raises ValueError: for a malformed name or a schema that is not valid.

        .. versionchanged:: 0.3.0 ``schema``.
        """
        if not name or "." not in name or name == TEST_EVENT:
            raise ValueError(f"Event types look like 'group.action', got {name!r}.")
        checked = check_schema(schema) if schema is not None else None
        self.event_types[name] = EventType(name, description, group, checked)

    def event_type(self, name: str) -> EventType | None:
        """The catalog entry of ``name`` (``webhook.test`` included), or ``None``."""
        if name == TEST_EVENT:
            return TEST_EVENT_TYPE
        return self.event_types.get(name)

    # -- use ---------------------------------------------------------------------------

    def state(self, app: Flask | None = None) -> State:
        """The state of ``app`` (default: the current app).

        :func:`~flask_clawhooks.state.get_state` with a check that the app's extension
        is this object.

        :raises NotInitialized: if this extension was not registered on that app.
        """
        state = get_state(app)
        if state.extension is not self:
            raise NotInitialized(
                "This ClawHooks object is not the one registered on this app: call "
                "clawhooks.init_app(app) first."
            )
        return state

    def create_all(self) -> None:
        """Create the webhook tables with the host's engine and record their schema
        revision (``flask clawhooks init-db``). Tables already at that revision are kept.

        :raises ~flask_clawhooks.migrations.schema.SchemaNotCurrent: when the tables were
            made by an older version: nothing is changed, ``flask clawhooks db upgrade``
            brings them up to date.

        .. versionchanged:: 0.3.0
            Records the schema revision; refuses tables of an older version.
        """
        from .migrations import schema

        state = self.state()
        schema.create_all(state.db.engine, Base.metadata)

    #: An Alembic ``include_name`` filter for a host's own migrations that leaves the
    #: ``clawhooks_*`` tables out (set for Flask-Migrate automatically); see
    #: :func:`flask_clawhooks.migrations.host.alembic_include_name`.
    alembic_include_name = staticmethod(alembic_include_name)

    def emit(
        self,
        event_type: str,
        data: Any,
        *,
        owner: str,
        session: AnySession | None = None,
        idempotency_key: str | None = None,
    ) -> Event:
        """Record an event and one delivery per subscribed webhook of ``owner``.

        The rows join ``session`` (default: ``db.session``) and are sent once that
        transaction commits; a rollback sends nothing. No network I/O to receivers
        happens here.

        :param event_type: a catalog type such as ``message.received``.
        :param data: the event's ``data`` object; anything :func:`json.dumps` accepts.
        :param owner: whose webhooks receive it.
        :param idempotency_key: another emit with this key for ``owner`` within
            ``CLAWHOOKS_IDEMPOTENCY_WINDOW`` creates nothing and returns this event, even
            when the two race in separate transactions (:mod:`.idempotency`).
        :raises UnknownEventType: for a type not in the catalog.
        :raises InvalidEventData: when ``CLAWHOOKS_VALIDATE_PAYLOADS`` is ``"strict"`` and
            ``data`` does not match the type's schema; ``"warn"`` logs the mismatch once
            per call (logger ``flask_clawhooks``) and sends anyway.
        :raises TypeError: if ``data`` cannot be serialized as JSON.

        .. versionchanged:: 0.2.0
            ``idempotency_key``.
        .. versionchanged:: 0.3.0
            ``data`` is checked against the type's schema (``CLAWHOOKS_VALIDATE_PAYLOADS``).
        """
        if event_type not in self.event_types and event_type != TEST_EVENT:
            known = ", ".join(sorted(self.event_types))
            raise UnknownEventType(
                f"Unknown event type {event_type!r}. Known types: {known}. "
                "Register others with clawhooks.register_event_type()."
            )
        if not isinstance(owner, str) or not owner:
            raise ValueError(
                "emit() needs owner=, a non-empty string naming whose webhooks get it."
            )
        state = self.state()
        self._check_data(state, event_type, data)
        session = session if session is not None else state.db.session
        if idempotency_key is not None:
            return self._emit_once(state, session, event_type, data, owner, idempotency_key)
        return self._record_event(state, session, event_type, data, owner, None)

    def _check_data(self, state: State, event_type: str, data: Any) -> None:
        """Check ``data`` against the type's schema as ``CLAWHOOKS_VALIDATE_PAYLOADS``
        says: nothing (``off``, or a type without a schema), one log record, or
        :class:`InvalidEventData`."""
        mode = state.settings.validate_payloads
        if mode == "off":
            return
        known = self.event_type(event_type)
        if known is None or known.schema is None:
            return
        errors = data_errors(known.schema, data)
        if not errors:
            return
        listed = "; ".join(errors)
        if mode == "strict":
            raise InvalidEventData(
                f"emit({event_type!r}): data does not match the event type's schema: "
                f"{listed}. Send the fields the schema requires (GET /event-types of the "
                "API, or docs/events.rst), or set CLAWHOOKS_VALIDATE_PAYLOADS to 'warn'.",
                event_type=event_type, errors=errors)
        log.warning("emit(%r): data does not match the event type's schema: %s. It is "
                    "sent anyway (CLAWHOOKS_VALIDATE_PAYLOADS = 'warn').", event_type, listed)

    def _emit_once(self, state: State, session: AnySession, event_type: str, data: Any,
                   owner: str, key: str) -> Event:
        """:meth:`emit` with an idempotency key: the first emit's event, or a new one."""
        from . import idempotency

        idempotency.check_key(key)
        event_id = new_id("evt")
        holder = idempotency.claim(session, owner, key, event_id,
                                   state.settings.idempotency_window)
        if holder is not None:
            return idempotency.first_event(session, holder)
        return self._record_event(state, session, event_type, data, owner, None,
                                  event_id=event_id)

    def send_test(self, webhook: Webhook, session: AnySession | None = None, *,
                  event_type: str = TEST_EVENT, data: Any = None) -> Delivery:
        """Send a test event to ``webhook`` now and return its delivery.

        Commits ``session``; the attempt is recorded like any other delivery. The caller
        waits for the receiver (up to ``CLAWHOOKS_TIMEOUT``), so this process makes at
        most ``CLAWHOOKS_TEST_SEND_LIMIT_PER_OWNER`` test sends of one owner at once and
        ``CLAWHOOKS_TEST_SEND_LIMIT`` in all; beyond, it refuses at once, recording
        nothing, and no owner waits for another's.

        :param event_type: ``webhook.test`` (the default), or a catalog type to show the
            receiver what such an event looks like; it goes to this webhook only, whatever
            it subscribes to.
        :param data: the event's ``data``; by default that of ``webhook.test``, which names
            the webhook, or the documented sample of ``event_type``
            (:mod:`flask_clawhooks.samples`; ``{}`` for a type without one).
        :raises UnknownEventType: for a type not in the catalog.
        :raises TooManyTestSends: when the owner's limit or the process's is reached.

        .. versionchanged:: 0.2.0 ``event_type`` and ``data``, for the dashboard's choice
           of sample events; the limits on test sends in flight.
        """
        state = self.state()
        session = session if session is not None else state.db.session
        if event_type not in self.event_types and event_type != TEST_EVENT:
            raise UnknownEventType(f"Unknown event type {event_type!r}.")
        if data is None and event_type == TEST_EVENT:
            data = {"webhook_id": webhook.id, "message": "This is a test event from ClawBook."}
        elif data is None:
            data = sample_data(event_type) if event_type in SAMPLES else {}
        try:
            with state.test_sends.slot(webhook.owner):
                return self._send_test(state, session, webhook, event_type, data)
        except LimitReached as exc:
            wait = max(1, math.ceil(state.settings.timeout))
            raise TooManyTestSends(
                f"Not sent: {exc}. Try again in {wait} s, when they have been answered or "
                "have timed out.", retry_after=wait, per_owner=exc.per_owner,
            ) from None

    def _send_test(self, state: State, session: AnySession, webhook: Webhook,
                   event_type: str, data: Any) -> Delivery:
        event = self._record_event(state, session, event_type, data, webhook.owner,
                                   [webhook.id], enqueue=False)
        session.commit()
        delivery = session.scalars(select(Delivery).where(Delivery.event_id == event.id)).one()
        self.redeliver_now([delivery.id])
        session.refresh(delivery)
        return delivery

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the deliveries this process committed so far are queued in Redis.

        After the commit, their ids are pushed to Redis from a thread of the process, so
        that the request does not wait for Redis (:mod:`flask_clawhooks.handoff`); a
        process that exits pushes them first. Tests and scripts that look at the queue,
        or start another worker right away, call this first (a worker run in the same
        process does it itself).

        :returns: False if ``timeout`` seconds passed first.

        .. versionadded:: 0.3.0
        """
        return self.state().handoff.flush(timeout)

    def redeliver_now(self, delivery_ids: list[str]) -> int:
        """Send these deliveries from this process now, waiting for their outcomes.

        It waits for these deliveries only: their leases are released when their
        outcomes are recorded (the dispatcher's own wait is for everything this process
        has in flight, so one owner's test sends to a slow receiver would hold up every
        other's). Unbounded: callers in a web request go through :meth:`send_test`,
        which bounds how many wait at once.

        :returns: how many were claimed (the others were not due, or are being sent).
        """
        state = self.state()
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        claimed = int(process_dispatcher(app).dispatch(delivery_ids, wait=False))
        if claimed:
            self._wait_for_outcomes(state, delivery_ids)
        return claimed

    @staticmethod
    def _wait_for_outcomes(state: State, delivery_ids: list[str]) -> None:
        """Poll until none of ``delivery_ids`` is leased, for at most a lease's length.

        On a connection of its own, so that the caller's transaction is left alone.
        """
        engine = state.db.session.get_bind(mapper=sa_inspect(Delivery)).engine
        leased = (select(func.count()).select_from(Delivery)
                  .where(Delivery.id.in_(delivery_ids), Delivery.lease_token.is_not(None)))
        deadline = time.monotonic() + state.settings.lease_seconds
        pause = 0.005
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if not conn.scalar(leased):
                    return
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    def retry(self, delivery_id: str, session: AnySession | None = None) -> Delivery | None:
        """Make a finished or waiting delivery pending and due now, and queue it; commits.

        Attempt numbers go on from where they were, so a delivery that already used all
        its retries gets exactly one more try.
        """
        state = self.state()
        session = session if session is not None else state.db.session
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            return None
        if delivery.lease_until is not None and delivery.lease_until > utcnow():
            return delivery  # being sent right now
        delivery.status = DeliveryStatus.PENDING
        delivery.next_attempt_at = utcnow()
        after_commit(session, [delivery.id], state.enqueue)
        session.commit()
        return delivery

    def sweep(self, *, grace: float | None = None, limit: int = 10_000) -> int:
        """Queue every delivery that is due but not in flight; return how many.

        Deliveries whose worker died (lease expired) have their open attempt marked
        ``interrupted`` first. Safe to run anywhere, any time: claiming is atomic, so a
        delivery queued twice is still sent once.
        """
        state = self.state()
        session = state.db.session
        now = utcnow()
        interrupted = ledger.interrupt_expired(session, now)
        ids = ledger.due(session, now, state.settings.sweep_grace if grace is None else grace,
                         limit)
        session.rollback()
        push_ready(state.queue, ids, force=True)
        metrics.swept(len(ids), len(interrupted))
        return len(ids)

    def _record_event(
        self,
        state: State,
        session: AnySession,
        event_type: str,
        data: Any,
        owner: str,
        webhook_ids: list[str] | None,
        *,
        enqueue: bool = True,
        event_id: str | None = None,
    ) -> Event:
        """Insert the event and a delivery for each of ``webhook_ids`` (None: each
        enabled webhook of ``owner`` subscribed to ``event_type``) in ``session``'s
        transaction.

        One statement on PostgreSQL (:func:`~flask_clawhooks.ledger.insert_event`)
        rather than ORM objects: this runs inside the host's request, where each
        database round trip counts. The returned :class:`Event` is not attached to the
        session.
        """
        now = utcnow().replace(microsecond=0)
        event_id = event_id or new_id("evt")
        body = envelope_bytes(event_id, event_type, isoformat(now) or "", data)
        event = Event(id=event_id, owner=owner, type=event_type, created_at=now, body=body)
        delivery_ids = ledger.insert_event(session, event, webhook_ids)
        if delivery_ids and enqueue:
            after_commit(session, delivery_ids, state.enqueue)
        metrics.emitted(len(delivery_ids))
        if signals.event_emitted.receivers:
            signals.event_emitted.send(
                current_app._get_current_object(),  # type: ignore[attr-defined]
                event=event, deliveries=len(delivery_ids),
            )
        return event
