"""``python -m bench.dashboard``: rendering the delivery log's first page with a long log.

One webhook gets ``n`` deliveries (each with its event and one attempt, bulk inserted);
the first page of its delivery log is rendered with Flask's test client and timed
against the same page of a webhook with an empty log. The log is paged on the
``(webhook_id, id)`` index, so the ratio should stay near 1 however large ``n`` is
(what remains is rendering one page of rows).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time

import sqlalchemy as sa
from flask import session

from flask_clawhooks.ids import new_id
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


def _page_ms(client: object, path: str, rounds: int) -> float:
    for _ in range(3):  # warm the template cache and the connection pool
        assert client.get(path).status_code == 200  # type: ignore[attr-defined]
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path)  # type: ignore[attr-defined]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="deliveries in the long log")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if args.database == "postgresql" and not harness.postgres_available():
        parser.error(f"PostgreSQL unreachable at {harness.POSTGRES_URL}")
    dashboard_log_timing(args.n, args.database, args.rounds)


if __name__ == "__main__":
    main()
