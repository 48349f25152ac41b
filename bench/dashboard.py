"""``python -m bench.dashboard``: the dashboard's queries against long histories.

1. The first page of a delivery log: one webhook gets ``n`` deliveries (each with its
   event and one attempt, bulk inserted); the first page of its delivery log is rendered
   with Flask's test client and timed against the same page of a webhook with an empty
   log. The log is paged on the ``(webhook_id, id)`` index, so the ratio should stay
   near 1 however large ``n`` is (what remains is rendering one page of rows).
2. A webhook's statistics (:func:`flask_clawhooks.stats.webhook_stats`, what
   ``GET /webhooks/{id}/stats`` and the dashboard's health card show) with 10⁴, 10⁵ and
   10⁶ attempts in the table: for a *busy* webhook that made every one of them over the
   last 8 days (the worst case: its 7-day window holds 7/8 of the table) and for a
   *quiet* webhook with 100 attempts in the same table, which shows that the cost
   follows a webhook's own attempts, not the table's size.
3. Searching (:func:`search_timing`): the log of one owner's four webhooks gets
   ``--search-n`` deliveries (a million by default) and ``GET /api/v1/deliveries``
   searches (:mod:`flask_clawhooks.search`) are timed against the same searches by an
   owner with an empty log.
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

from flask_clawhooks import rollups
from flask_clawhooks.apikeys import create_key
from flask_clawhooks.ids import _base32, new_id
from flask_clawhooks.models import Attempt, Delivery, Event
from flask_clawhooks.signing import envelope_bytes, request_headers
from flask_clawhooks.stats import webhook_stats
from flask_clawhooks.timeutil import utcnow
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
                    "id": new_id("att"), "delivery_id": delivery_id, "webhook_id": webhook_id,
                    "number": 1,
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


# -- statistics --------------------------------------------------------------------------

STATS_SIZES = (10_000, 100_000, 1_000_000)
_ATTEMPT_COLUMNS = ("id", "delivery_id", "webhook_id", "number", "outcome", "response_code",
                    "response_time_ms", "request_headers", "created_at")


def _attempt_rows(rng: random.Random, webhook_id: str, delivery_ids: list[str], count: int,
                  now: dt.datetime, days: float) -> list[tuple[object, ...]]:
    """``count`` finished attempts spread over the last ``days``, oldest first: 90 %
    answered 2xx, 8 % 5xx (retried), 2 % timeouts; answer times log-normal around 40 ms."""
    rows = []
    for i in range(count):
        at = now - dt.timedelta(seconds=rng.random() * days * 86400)
        roll = rng.random()
        if roll < 0.90:
            outcome, code, ms = "success", 200, int(rng.lognormvariate(3.7, 0.8))
        elif roll < 0.98:
            outcome, code, ms = "retry", 500, int(rng.lognormvariate(3.0, 0.5))
        else:
            outcome, code, ms = "retry", None, 30_000
        rows.append((new_id("att"), delivery_ids[i % len(delivery_ids)], webhook_id, 1,
                     outcome, code, ms, "{}", at))
    rows.sort(key=lambda row: row[-1])  # type: ignore[arg-type,return-value]
    return rows


def _insert_attempts(host: Host, rows: list[tuple[object, ...]]) -> None:
    """Bulk load: COPY on PostgreSQL, one executemany on SQLite; then the roll-ups
    the statistics read are made again from all the attempts."""
    with host.app.app_context():
        engine = host.db.engine
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                with cursor.copy(f"COPY clawhooks_attempt ({', '.join(_ATTEMPT_COLUMNS)}) "
                                 "FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(_ATTEMPT_COLUMNS))
                conn.exec_driver_sql(
                    f"INSERT INTO clawhooks_attempt ({', '.join(_ATTEMPT_COLUMNS)}) "
                    f"VALUES ({marks})",
                    [(*row[:-1], f"{row[-1]:%Y-%m-%d %H:%M:%S.%f}") for row in rows])
            # Loaded around the worker, so rolled up as the upgrade's backfill does.
            rollups.rebuild(conn)
        # Fresh statistics and visibility map, as autovacuum keeps them in production.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE clawhooks_attempt"
                                 if engine.dialect.name == "postgresql" else "ANALYZE")


def _hanger_deliveries(host: Host, webhook_id: str, count: int) -> list[str]:
    """Deliveries for the attempts to belong to (their number does not matter here)."""
    now = utcnow()
    with host.app.app_context():
        session = host.db.session
        events = [new_id("evt") for _ in range(count)]
        session.execute(sa.insert(Event.__table__), [{
            "id": e, "owner": "acme", "type": "message.received", "created_at": now,
            "body": b"{}"} for e in events])
        ids = [new_id("del") for _ in range(count)]
        session.execute(sa.insert(Delivery.__table__), [{
            "id": d, "event_id": e, "webhook_id": webhook_id,
            "event_type": "message.received", "status": "success", "attempt_count": 1,
            "created_at": now, "updated_at": now} for d, e in zip(ids, events, strict=True)])
        session.commit()
        return ids


def _stats_ms(host: Host, webhook_id: str, rounds: int) -> tuple[float, int]:
    """Median ms of one statistics computation, and the 7-day attempts it counted."""
    with host.app.app_context():
        session = host.db.session
        counted = webhook_stats(session, webhook_id).windows["7d"].attempts  # warm up
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            webhook_stats(session, webhook_id)
            times.append((time.perf_counter() - started) * 1000)
            session.rollback()
    return statistics.median(times), counted


def stats_timing(sizes: tuple[int, ...] = STATS_SIZES, database: str = "sqlite",
                 rounds: int = 5) -> list[tuple[int, float, float]]:
    """For each table size: median ms of the busy and of the quiet webhook's statistics.

    The table grows from one size to the next (rows are added, never reloaded).
    """
    results = []
    rng = random.Random(14)
    with harness.database(database) as url, tempfile.TemporaryDirectory() as instance:
        host = make_host(url, "redis://127.0.0.1:1/0", instance)
        busy = host.add_webhook("https://busy.example/hook")
        quiet = host.add_webhook("https://quiet.example/hook")
        busy_deliveries = _hanger_deliveries(host, busy.id, 1000)
        quiet_deliveries = _hanger_deliveries(host, quiet.id, 10)
        _insert_attempts(host, _attempt_rows(rng, quiet.id, quiet_deliveries, 100, utcnow(), 7))
        loaded = 0
        for size in sizes:
            started = time.perf_counter()
            rows = _attempt_rows(rng, busy.id, busy_deliveries, size - loaded, utcnow(), 8)
            _insert_attempts(host, rows)
            loaded = size
            load_s = time.perf_counter() - started
            busy_ms, counted = _stats_ms(host, busy.id, rounds)
            quiet_ms, _ = _stats_ms(host, quiet.id, rounds)
            print(f"stats, {database}, {size:>9,} attempts in the table (loaded in "
                  f"{load_s:5.1f} s): busy webhook ({counted:,} in 7 days) {busy_ms:8.1f} ms, "
                  f"quiet webhook (100) {quiet_ms:6.1f} ms", flush=True)
            results.append((size, busy_ms, quiet_ms))
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
    parser.add_argument("--stats-sizes", default=",".join(map(str, STATS_SIZES)),
                        help="attempts in the table when the statistics are timed")
    parser.add_argument("--search-n", type=int, default=1_000_000,
                        help="deliveries in the searched log (0: skip the search timing)")
    parser.add_argument("--only", choices=["log", "stats", "search"], default=None,
                        help="run one of the three measurements")
    args = parser.parse_args()
    harness.stop_on_sigterm()
    if args.database == "postgresql" and not harness.postgres_available():
        parser.error(f"PostgreSQL unreachable at {harness.POSTGRES_URL}")
    try:
        sizes = tuple(sorted(int(n) for n in args.stats_sizes.split(",")))
    except ValueError:
        parser.error("--stats-sizes takes numbers separated by commas, e.g. 10000,100000")
    if args.only in (None, "log"):
        dashboard_log_timing(args.n, args.database, args.rounds)
    if args.only in (None, "stats"):
        stats_timing(sizes, args.database, rounds=5)
    if args.only in (None, "search") and args.search_n:
        search_timing(args.search_n, args.database, args.rounds)


if __name__ == "__main__":
    main()
