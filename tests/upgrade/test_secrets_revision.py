"""Revision 0005 on a real 0.1.0 install: the secret columns become text and every
webhook's secret is encrypted with the app's first key, in batches; nothing else
changes, and the worker still signs with the same secrets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from flask_clawhooks import encryption
from flask_clawhooks.encryption import PREFIX, Cipher
from flask_clawhooks.state import get_state
from receiver_kit import verify_signature

from ..fixtures import Host, make_host
from .databases import drop_ours, ids, load_0_1_0

KEY = Fernet.generate_key().decode()


def stored_secrets(database_url: str) -> dict[str, str]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return dict(conn.exec_driver_sql("SELECT id, secret FROM clawhooks_webhook").all())
    finally:
        engine.dispose()


@pytest.fixture
def old_install(database_url: str) -> Iterator[str]:
    drop_ours(database_url)
    load_0_1_0(database_url)
    yield database_url
    drop_ours(database_url)


@pytest.fixture
def keyed_host(old_install: str, redis_url: str, redis_conn: Any,
               tmp_path: Any) -> Iterator[Host]:
    host = make_host(old_install, redis_url, str(tmp_path / "instance"), create_tables=False,
                     CLAWHOOKS_ENCRYPTION_KEYS=[KEY])
    yield host
    with host.app.app_context():
        get_state(host.app).close_dispatcher()
        host.db.engine.dispose()


def test_upgrade_encrypts_every_secret_with_the_first_key_and_deliveries_verify(
    keyed_host, old_install, receiver, monkeypatch
):
    plain = stored_secrets(old_install)
    assert plain and not any(s.startswith(PREFIX) for s in plain.values())
    before = ids(old_install)
    # Batches of one, so that more than one batch runs; count them.
    batches: list[int] = []
    reseal = encryption.reseal_rows
    monkeypatch.setattr(encryption, "BATCH", 1)
    monkeypatch.setattr(encryption, "reseal_rows", lambda conn, cipher, **kw: reseal(
        conn, cipher, after_batch=batches.append, **kw))

    upgraded = keyed_host.app.test_cli_runner().invoke(args=["clawhooks", "db", "upgrade"])

    assert upgraded.exit_code == 0, upgraded.output
    assert batches == [1] * len(plain) and len(plain) > 1
    stored = stored_secrets(old_install)
    assert stored.keys() == plain.keys() and ids(old_install) == before
    cipher = Cipher([KEY])
    for webhook_id, token in stored.items():
        assert token.startswith(PREFIX) and plain[webhook_id] not in token
        assert cipher.open(token) == plain[webhook_id]

    # The worker opens them and signs with the same secrets as before.
    with keyed_host.app.app_context():
        session = keyed_host.db.session
        webhook_id = next(iter(plain))
        session.execute(sa.text("UPDATE clawhooks_webhook SET url = :url, enabled = :on, "
                                "events = :events WHERE id = :id"),
                        {"url": receiver.url, "on": True, "events": '["message.received"]',
                         "id": webhook_id})
        owner = session.execute(sa.text("SELECT owner FROM clawhooks_webhook WHERE id = :id"),
                                {"id": webhook_id}).scalar_one()
        session.commit()
    receiver.requests.clear()
    keyed_host.emit("message.received", {"n": 1}, owner=owner)
    keyed_host.work()  # (0.1.0 left deliveries to receivers long gone: not waited for)
    mine = [r for r in receiver.requests if b'"n":1' in r.body]
    assert mine and all(verify_signature(r.body, r.headers["X-ClawBook-Signature"],
                                         [plain[webhook_id]]) for r in mine)
