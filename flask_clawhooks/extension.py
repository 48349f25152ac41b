"""The :class:`ClawHooks` extension object and the per-app state it keeps."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from rq import Queue
from sqlalchemy import event, select

from . import ledger, signals
from .catalog import CATALOG, TEST_EVENT, EventType
from .config import DEFAULTS, Settings, load_settings
from .enqueue import after_commit, push_ready
from .errors import ConfigurationError, NotInitialized, UnknownEventType
from .ids import new_id
from .models import (
    AnySession,
    Base,
    Delivery,
    DeliveryStatus,
    Event,
    Webhook,
)
from .signing import envelope_bytes
from .timeutil import isoformat, utcnow

EXTENSION_KEY = "clawhooks"


class State:
    """What :class:`ClawHooks` keeps for one app, in ``app.extensions["clawhooks"]``."""

    def __init__(self, extension: ClawHooks, app: Flask, db: SQLAlchemy, settings: Settings):
        self.extension = extension
        self.db = db
        self.settings = settings
        self._redis: redis.Redis | None = None
        self._queue: Queue | None = None
        self._dispatcher: Any = None
        self._lock = threading.Lock()
        #: True inside ``flask clawhooks worker``: jobs hand deliveries over and return.
        self.worker_mode = False

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(
                self.settings.redis_url, socket_connect_timeout=2, health_check_interval=30
            )
        return self._redis

    @property
    def queue(self) -> Queue:
        if self._queue is None:
            self._queue = Queue(self.settings.queue, connection=self.redis)
        return self._queue

    def dispatcher(self, app: Flask) -> Any:
        """This process's :class:`~flask_clawhooks.dispatch.Dispatcher`, made on first use."""
        from .dispatch import Dispatcher

        with self._lock:
            if self._dispatcher is None:
                self._dispatcher = Dispatcher(app, self)
            return self._dispatcher

    def close_dispatcher(self) -> None:
        with self._lock:
            dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is not None:
            dispatcher.close()

    def owner_email(self, owner: str) -> str | None:
        loader = self.extension._owner_email_loader
        return loader(owner) if loader is not None else None

    def enqueue(self, delivery_ids: list[str]) -> None:
        push_ready(self.queue, delivery_ids)


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
        self._owner_email_loader: Callable[[str], str | None] | None = None
        self._api_key_loader: Callable[[str], str | None] | None = None
        self._dashboard_owner_loader: Callable[[], str | None] | None = None
        self.event_types: dict[str, EventType] = {t.name: t for t in CATALOG}
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register on ``app``: read and check ``CLAWHOOKS_*`` config, add the CLI group.

        :raises RuntimeError: if the extension is already registered on ``app``.
        :raises ConfigurationError: for a missing database or a bad setting.
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
        app.extensions[EXTENSION_KEY] = State(self, app, db, settings)
        if settings.sqlite_wal and "sqlalchemy" in app.extensions:
            _use_sqlite_wal(app, db)

        from . import api
        from .cli import cli

        api.register(app, settings.api_prefix)
        app.cli.add_command(cli)

        from .dashboard import create_blueprint as create_dashboard

        app.register_blueprint(create_dashboard(), url_prefix=settings.dashboard_prefix)

    # -- configuration by the host ---------------------------------------------------

    def owner_email_loader(
        self, loader: Callable[[str], str | None]
    ) -> Callable[[str], str | None]:
        """Decorator: ``loader(owner)`` returns the address failure e-mails go to, or None."""
        self._owner_email_loader = loader
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
        self._dashboard_owner_loader = loader
        return loader

    def api_key_loader(
        self, loader: Callable[[str], str | None]
    ) -> Callable[[str], str | None]:
        """Decorator: ``loader(token)`` returns the owner of an API key, or None to refuse it.

        For hosts with API keys of their own; it replaces the ``clawhooks_api_key`` table
        (:mod:`flask_clawhooks.apikeys`) for the JSON API. ``token`` is what followed
        ``Authorization: Bearer``.
        """
        self._api_key_loader = loader
        return loader

    def register_event_type(self, name: str, description: str, group: str = "Custom") -> None:
        """Allow :meth:`emit` of another event type, such as ``invoice.paid``."""
        if not name or "." not in name or name == TEST_EVENT:
            raise ValueError(f"Event types look like 'group.action', got {name!r}.")
        self.event_types[name] = EventType(name, description, group)

    # -- use ---------------------------------------------------------------------------

    def state(self, app: Flask | None = None) -> State:
        """The state of ``app`` (default: the current app).

        :raises NotInitialized: if this extension was not registered on that app.
        """
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]
        state = app.extensions.get(EXTENSION_KEY)
        if state is None or state.extension is not self:
            raise NotInitialized(
                "ClawHooks is not registered on this app: call clawhooks.init_app(app) first."
            )
        return state  # type: ignore[no-any-return]

    def create_all(self) -> None:
        """Create the webhook tables with the host's engine (``flask clawhooks init-db``)."""
        state = self.state()
        Base.metadata.create_all(state.db.engine)

    def emit(
        self,
        event_type: str,
        data: Any,
        *,
        owner: str,
        session: AnySession | None = None,
    ) -> Event:
        """Record an event and one delivery per subscribed webhook of ``owner``.

        The rows join ``session`` (default: ``db.session``) and are sent once that
        transaction commits; a rollback sends nothing. No network I/O to receivers
        happens here.

        :param event_type: a catalog type such as ``message.received``.
        :param data: the event's ``data`` object; anything :func:`json.dumps` accepts.
        :param owner: whose webhooks receive it.
        :raises UnknownEventType: for a type not in the catalog.
        :raises TypeError: if ``data`` cannot be serialized as JSON.
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
        session = session if session is not None else state.db.session
        return self._record_event(state, session, event_type, data, owner, None)

    def send_test(self, webhook: Webhook, session: AnySession | None = None) -> Delivery:
        """Send a ``webhook.test`` event to ``webhook`` now and return its delivery.

        Commits ``session``; the attempt is recorded like any other delivery.
        """
        state = self.state()
        session = session if session is not None else state.db.session
        data = {"webhook_id": webhook.id, "message": "This is a test event from ClawBook."}
        event = self._record_event(state, session, TEST_EVENT, data, webhook.owner,
                                   [webhook.id], enqueue=False)
        session.commit()
        delivery = session.scalars(select(Delivery).where(Delivery.event_id == event.id)).one()
        self.redeliver_now([delivery.id])
        session.refresh(delivery)
        return delivery

    def redeliver_now(self, delivery_ids: list[str]) -> int:
        """Send these deliveries from this process now, waiting for their outcomes."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        return int(self.state().dispatcher(app).dispatch(delivery_ids, wait=True))

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
        ledger.interrupt_expired(session, now)
        ids = ledger.due(session, now, state.settings.sweep_grace if grace is None else grace,
                         limit)
        session.rollback()
        push_ready(state.queue, ids, force=True)
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
        event_id = new_id("evt")
        body = envelope_bytes(event_id, event_type, isoformat(now) or "", data)
        event = Event(id=event_id, owner=owner, type=event_type, created_at=now, body=body)
        delivery_ids = ledger.insert_event(session, event, webhook_ids)
        if delivery_ids and enqueue:
            after_commit(session, delivery_ids, state.enqueue)
        if signals.event_emitted.receivers:
            signals.event_emitted.send(
                current_app._get_current_object(),  # type: ignore[attr-defined]
                event=event, deliveries=len(delivery_ids),
            )
        return event
