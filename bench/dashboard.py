"""``python -m bench.dashboard``: rendering the delivery log's first page with a long log,
and searching a log of a million deliveries.

One webhook gets ``n`` deliveries (each with its event and one attempt, bulk inserted);
the first page of its delivery log is rendered with Flask's test client and timed
against the same page of a webhook with an empty log. The log is paged on the
``(webhook_id, id)`` index, so the ratio should stay near 1 however large ``n`` is
(what remains is rendering one page of rows).

:func:`search_timing` fills the log of one owner's four webhooks with ``--search-n``
deliveries (a million by default) and times ``GET /api/v1/deliveries`` searches
(:mod:`flask_clawhooks.search`) against the same searches by an owner with an empty log.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time

import sqlalchemy as sa
from flask import session

from flask_clawhooks.apikeys import create_key
from flask_clawhooks.ids import _base32, new_id
from flask_clawhooks.ledger import request_headers
from flask_clawhooks.models import Attempt, Delivery, Event
from flask_clawhooks.signing import envelope_bytes
from tests.fixtures import Host, make_host

from . import harness

BATCH = 2000


def _bulk_deliveries(host: Host, webhook_id: str, n: int) -> None:
    start = dt.datetime(2026, 1, 30, 14, 30)
    with host.app.app_context():
        db = host.db.session
        for first in range(0, n, BATCH):
            events, deliveries, attempts = [], [], []
            for i in range(first, min(first + BATCH, n)):
                at = start + dt.timedelta(seconds=i)
                event_id, delivery_id = new_id("evt"), new_id("del")
                body = envelope_bytes(event_id, "message.received", at.isoformat() + "Z",
                                      {"message_id": f"msg_{i}", "content": "Hello"})
                events.append({"id": event_id, "owner": "acme", "type": "message.received",
                               "created_at": at, "body": body})
                deliveries.append({
                    "id": delivery_id, "event_id": event_id, "webhook_id": webhook_id,
                    "event_type": "message.received",
                    "status": "success" if i % 10 else "failed", "attempt_count": 1,
                    "response_code": 200 if i % 10 else 500, "response_time_ms": 20,
                    "created_at": at, "updated_at": at,
                })
                attempts.append({
                    "id": new_id("att"), "delivery_id": delivery_id, "number": 1,
                    "outcome": "success" if i % 10 else "failed",
                    "response_code": 200 if i % 10 else 500, "response_time_ms": 20,
                    "request_headers": request_headers(["bench-secret"], body, event_id,
                                                       "message.received", delivery_id,
                                                       int(at.timestamp())),
                    "response_headers": {"Content-Length": "2"}, "response_excerpt": "OK",
                    "created_at": at,
                })
            db.execute(sa.insert(Event.__table__), events)
            db.execute(sa.insert(Delivery.__table__), deliveries)
            db.execute(sa.insert(Attempt.__table__), attempts)
            db.commit()


def _page_ms(client: object, path: str, rounds: int, api_key: str | None = None) -> float:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    for _ in range(3):  # warm the template cache and the connection pool
        response = client.get(path, headers=headers)  # type: ignore[attr-defined]
        assert response.status_code == 200, response.get_data(as_text=True)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path, headers=headers)  # type: ignore[attr-defined]
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(times)


def dashboard_log_timing(n: int = 10_000, database: str = "sqlite",
                         rounds: int = 20) -> tuple[float, float]:
    """Median ms to render the first delivery-log page with ``n`` deliveries and with
    none; prints both and their ratio."""
    with harness.database(database) as url, tempfile.TemporaryDirectory() as instance:
        # The pages never touch Redis; the URL only has to be well formed.
        host = make_host(url, "redis://127.0.0.1:1/0", instance)
        host.app.secret_key = "bench"
        host.clawhooks.dashboard_owner_loader(lambda: session.get("user"))
        full = host.add_webhook("https://full.example/hook")
        empty = host.add_webhook("https://empty.example/hook")
        started = time.perf_counter()
        _bulk_deliveries(host, full.id, n)
        print(f"inserted {n} deliveries in {time.perf_counter() - started:.1f} s ({database})")
        client = host.app.test_client()
        with client.session_transaction() as sess:
            sess["user"] = "acme"
        prefix = host.app.config["CLAWHOOKS_DASHBOARD_PREFIX"]
        full_ms = _page_ms(client, f"{prefix}/{full.id}", rounds)
        empty_ms = _page_ms(client, f"{prefix}/{empty.id}", rounds)
        with host.app.app_context():
            from flask_clawhooks.models import Base

            Base.metadata.drop_all(host.db.engine)
            host.db.engine.dispose()
    print(f"first page, {n} deliveries: {full_ms:8.2f} ms")
    print(f"first page, empty log:      {empty_ms:8.2f} ms")
    print(f"ratio:                      {full_ms / empty_ms:8.2f}x")
    return full_ms, empty_ms


#: The searches :func:`search_timing` runs: a label and the query string. ``{event}``,
#: ``{since}``, ``{until}`` and ``{after}`` are filled from the data.
SEARCHES = [
    ("event id", "event_id={event}"),
    ("status=failed", "status=failed"),
    ("response_code=5xx", "response_code=5xx"),
    ("response_code=404", "response_code=404"),
    ("event_type (1 %)", "event_type=ai.error"),
    ("one minute", "since={since}&until={until}"),
    ("failed, one hour", "status=failed&since={since}&until={hour}"),
    ("failed, page deep", "status=failed&after={after}"),
    ("no filter", ""),
]


def _timed_id(prefix: str, millis: int, rng: random.Random) -> str:
    """An id made at ``millis`` (ids sort by time; the search's time bounds rely on it)."""
    return f"{prefix}_{_base32(millis, 10)}{_base32(rng.getrandbits(80), 16)}"


def _bulk_search_log(host: Host, webhook_ids: list[str], n: int, start: dt.datetime,
                     step_ms: int) -> list[str]:
    """``n`` deliveries (with their events) spread over ``webhook_ids``, one every
    ``step_ms``: 97 % success (200), 2 % failed 500, 1 % failed 404; 1 % ``ai.error``
    events. Returns the event ids."""
    rng = random.Random(15)
    base = int(start.replace(tzinfo=dt.UTC).timestamp() * 1000)
    event_ids = []
    with host.app.app_context():
        db = host.db.session
        for first in range(0, n, BATCH * 5):
            events, deliveries = [], []
            for i in range(first, min(first + BATCH * 5, n)):
                millis = base + i * step_ms
                at = start + dt.timedelta(milliseconds=i * step_ms)
                event_id = _timed_id("evt", millis, rng)
                kind = "ai.error" if i % 100 == 7 else "message.received"
                code = 500 if i % 50 == 3 else 404 if i % 100 == 11 else 200
                events.append({"id": event_id, "owner": "acme", "type": kind,
                               "created_at": at, "body": b"{}"})
                deliveries.append({
                    "id": _timed_id("del", millis, rng), "event_id": event_id,
                    "webhook_id": webhook_ids[i % len(webhook_ids)], "event_type": kind,
                    "status": "success" if code == 200 else "failed", "attempt_count": 1,
                    "response_code": code, "response_time_ms": 20, "created_at": at,
                    "updated_at": at,
                })
                event_ids.append(event_id)
            db.execute(sa.insert(Event.__table__), events)
            db.execute(sa.insert(Delivery.__table__), deliveries)
            db.commit()
        if host.db.engine.dialect.name == "postgresql":
            db.execute(sa.text("ANALYZE"))  # what autovacuum does on a live database
            db.commit()
    return event_ids


def search_timing(n: int = 1_000_000, database: str = "sqlite",
                  rounds: int = 20) -> dict[str, tuple[float, float]]:
    """Median ms of each of :data:`SEARCHES` over ``n`` deliveries of one owner, and of
    the same search by an owner with an empty log; prints both and their ratio."""
    results: dict[str, tuple[float, float]] = {}
    with harness.database(database) as url, tempfile.TemporaryDirectory() as instance:
        host = make_host(url, "redis://127.0.0.1:1/0", instance)
        hooks = [host.add_webhook(f"https://crm{i}.example/hook").id for i in range(4)]
        host.add_webhook("https://empty.example/hook", owner="initech")
        start = dt.datetime(2026, 1, 30, 14, 30)
        step_ms = 10
        started = time.perf_counter()
        event_ids = _bulk_search_log(host, hooks, n, start, step_ms)
        print(f"inserted {n} deliveries for search in {time.perf_counter() - started:.1f} s "
              f"({database})")
        with host.app.app_context():
            keys = {}
            for owner in ("acme", "initech"):
                keys[owner] = create_key(host.db.session, owner, "bench")[1]
            host.db.session.commit()
        middle = start + dt.timedelta(milliseconds=n // 2 * step_ms)

        def iso(moment: dt.datetime) -> str:
            return moment.isoformat(timespec="milliseconds") + "Z"

        values = {
            "event": event_ids[n // 2], "since": iso(middle),
            "until": iso(middle + dt.timedelta(minutes=1)),
            "hour": iso(middle + dt.timedelta(hours=1)),
            "after": _timed_id("del", int(middle.replace(tzinfo=dt.UTC).timestamp() * 1000),
                               random.Random(0)),
        }
        client = host.app.test_client()
        prefix = host.app.config["CLAWHOOKS_API_PREFIX"]
        for label, query in SEARCHES:
            path = f"{prefix}/deliveries?{query.format(**values)}"
            full = _page_ms(client, path, rounds, keys["acme"])
            empty = _page_ms(client, path, rounds, keys["initech"])
            results[label] = (full, empty)
        with host.app.app_context():
            from flask_clawhooks.models import Base

            Base.metadata.drop_all(host.db.engine)
            host.db.engine.dispose()
    print(f"search over {n} deliveries ({database}), median of {rounds}:")
    for label, (full, empty) in results.items():
        print(f"  {label:22} {full:8.2f} ms   empty log {empty:6.2f} ms   "
              f"ratio {full / empty:6.2f}x")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="deliveries in the long log")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--search-n", type=int, default=1_000_000,
                        help="deliveries in the searched log (0: skip the search timing)")
    args = parser.parse_args()
    if args.database == "postgresql" and not harness.postgres_available():
        parser.error(f"PostgreSQL unreachable at {harness.POSTGRES_URL}")
    dashboard_log_timing(args.n, args.database, args.rounds)
    if args.search_n:
        search_timing(args.search_n, args.database, args.rounds)


if __name__ == "__main__":
    main()
