"""Make the 0.1.0 database dumps the upgrade tests load (run by hand, output committed).

It runs flask-clawhooks 0.1.0 itself, so the tables are what 0.1.0's ``init-db`` made
and the rows are what its code wrote::

    git worktree add /tmp/clawhooks-0.1.0 056dcc3
    PYTHONPATH=/tmp/clawhooks-0.1.0 python tests/upgrade/data/make_dumps.py \\
        postgresql+psycopg://postgres@127.0.0.1:5432/test

It writes ``clawhooks-0.1.0.sqlite.sql`` (``sqlite3``'s ``iterdump``) and
``clawhooks-0.1.0.postgresql.sql`` (``pg_dump --inserts`` of a scratch schema, with the
schema's name taken out so that it loads into any ``search_path``) next to itself.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import re
import sqlite3
import subprocess
import sys
import tempfile

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

import flask_clawhooks
from flask_clawhooks import ClawHooks, apikeys
from flask_clawhooks.ids import new_id
from flask_clawhooks.models import Attempt, Delivery, Webhook

HERE = pathlib.Path(__file__).parent
SCHEMA = "clawhooks_dump_0_1_0"
#: A fixed clock for the rows written here (ids are 0.1.0's own, made afresh each run).
T0 = dt.datetime(2026, 11, 20, 9, 0, 0)


def populate(url: str) -> None:
    """0.1.0's init-db, then webhooks, an API key, events with pending, succeeded and
    failed deliveries, and their attempts."""
    app = Flask("clawbook_0_1_0")
    app.config.update(SQLALCHEMY_DATABASE_URI=url,
                      CLAWHOOKS_REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens
    db = SQLAlchemy(app)
    clawhooks = ClawHooks(app, db=db)
    with app.app_context():
        clawhooks.create_all()
        session = db.session
        hooks = [
            Webhook(id=new_id("wh"), owner="acme", url="http://127.0.0.1:9/hooks",
                    events=["message.received"], secret="whsec-active", enabled=True,
                    status="active", consecutive_failures=0, created_at=T0, updated_at=T0),
            Webhook(id=new_id("wh"), owner="acme", url="http://127.0.0.1:9/failing",
                    events=["message.received", "conversation.started"],
                    secret="whsec-failing", enabled=True, status="failed",
                    consecutive_failures=1, description="fails", created_at=T0,
                    updated_at=T0, last_failure_email_at=T0),
            Webhook(id=new_id("wh"), owner="globex", url="http://127.0.0.1:9/off",
                    events=["message.received"], secret="whsec-off", enabled=False,
                    status="active", consecutive_failures=0, created_at=T0, updated_at=T0),
        ]
        session.add_all(hooks)
        key, _token = apikeys.create_key(session, "acme", name="ci")
        key.prefix, key.key_hash = "cbk_0.1.0-ap", apikeys.hash_key(
            "cbk_0.1.0-api-key-for-the-upgrade-tests")
        key.created_at = T0
        session.commit()
        for n in range(6):
            clawhooks.emit("message.received", {"message_id": f"msg_{n}", "n": n},
                           owner="acme")
            session.commit()
        clawhooks.emit("message.received", {"message_id": "msg_off"}, owner="globex")
        session.commit()
        deliveries = session.scalars(sa.select(Delivery).order_by(Delivery.id)).all()
        acme = [d for d in deliveries if d.webhook_id == hooks[0].id]
        failing = [d for d in deliveries if d.webhook_id == hooks[1].id]
        number = 0
        # Four deliveries to the active webhook succeeded (one after a retry); the
        # others stay pending. One to the failing webhook failed for good.
        for i, delivery in enumerate(acme[:4]):
            tries = [(503, "retry"), (200, "success")] if i == 0 else [(200, "success")]
            for n, (code, outcome) in enumerate(tries, start=1):
                number += 1
                session.add(Attempt(
                    id=new_id("att"), delivery_id=delivery.id, number=n,
                    outcome=outcome, response_code=code, response_time_ms=40 + number,
                    error=None if code == 200 else "HTTP 503",
                    request_headers={"Content-Type": "application/json"},
                    response_headers={"Content-Type": "text/plain"}, response_excerpt="OK",
                    created_at=T0 + dt.timedelta(minutes=number)))
            delivery.status, delivery.attempt_count = "success", len(tries)
            delivery.response_code, delivery.response_time_ms = 200, 41
        for delivery in failing[:1]:
            number += 1
            session.add(Attempt(
                id=new_id("att"), delivery_id=delivery.id, number=1,
                outcome="failed", response_code=410, response_time_ms=12, error="HTTP 410",
                request_headers={"Content-Type": "application/json"}, response_headers=None,
                response_excerpt="Gone", created_at=T0 + dt.timedelta(minutes=number)))
            delivery.status, delivery.attempt_count, delivery.response_code = "failed", 1, 410
        for delivery in deliveries:
            if delivery.status == "pending":
                delivery.next_attempt_at = T0
        session.commit()
    with app.app_context():
        db.engine.dispose()


def dump_sqlite() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "clawbook.sqlite"
        populate(f"sqlite:///{path}")
        conn = sqlite3.connect(path)
        lines = list(conn.iterdump())
        conn.close()
    (HERE / "clawhooks-0.1.0.sqlite.sql").write_text("\n".join(lines) + "\n")


def dump_postgresql(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    try:
        populate(f"{url}?options=-csearch_path%3D{SCHEMA}")
        plain = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        dump = subprocess.run(
            ["pg_dump", "--inserts", "--no-owner", "--no-privileges", "--no-comments",
             f"--schema={SCHEMA}", plain],
            check=True, capture_output=True, text=True).stdout
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    kept = []
    for line in dump.splitlines():
        if line.startswith(("SET ", "SELECT pg_catalog.set_config", "CREATE SCHEMA",
                            "\\restrict", "\\unrestrict", "--")):
            continue
        kept.append(re.sub(rf"\b{SCHEMA}\.", "", line))
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip() + "\n"
    (HERE / "clawhooks-0.1.0.postgresql.sql").write_text(text)


if __name__ == "__main__":
    assert "consecutive_failures" in Webhook.__table__.c, (
        f"run with 0.1.0 first on PYTHONPATH, not {flask_clawhooks.__file__}")
    dump_sqlite()
    dump_postgresql(sys.argv[1])
