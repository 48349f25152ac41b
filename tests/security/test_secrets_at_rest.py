"""Signing secrets and secret header values are encrypted at rest: a dump of the database
holds none of them in clear, deliveries still verify, and rotating the key re-encrypts
every row."""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from flask_clawhooks.encryption import PREFIX, Cipher
from flask_clawhooks.errors import ConfigurationError
from flask_clawhooks.models import DeliveryStatus, Webhook
from flask_clawhooks.state import get_state
from receiver_kit import verify_signature

from ..api.conftest import make_api_client
from ..fixtures import make_host

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()

pytestmark = pytest.mark.clawhooks_config(CLAWHOOKS_ENCRYPTION_KEYS=[OLD_KEY],
                                          CLAWHOOKS_RETRY_DELAYS=[])

API_SECRET = "whsec_api-made-secret-0123456789abcdef"
PYTHON_SECRET = "whsec_python-made-secret-fedcba9876543210"
ROTATED_SECRET = "whsec_rotated-secret-aaaabbbbccccdddd"
HEADER_SECRET = "Bearer gw_header-secret-5f4e3d2c1b0a"


def dump(host: Any) -> bytes:
    """What a backup of the database holds: the SQLite file (and its write-ahead log), or
    ``pg_dump`` of this session's database."""
    with host.app.app_context():
        url = sa.make_url(host.db.engine.url)
        host.db.engine.dispose()
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    plain = url.set(drivername="postgresql", query={})
    return subprocess.run(
        ["pg_dump", "--data-only", plain.render_as_string(hide_password=False)],
        check=True, capture_output=True, timeout=60,
    ).stdout


def stored_tokens(host: Any) -> list[str]:
    with host.app.app_context():
        rows = host.db.session.execute(sa.text(
            "SELECT secret, previous_secret, custom_headers FROM clawhooks_webhook")).all()
    found = []
    for secret, previous, headers in rows:
        found += [secret] + ([previous] if previous else [])
        if headers:
            parsed = headers if isinstance(headers, list) else json.loads(headers)
            found += [h["value"] for h in parsed or () if h["secret"]]
    return found


def make_webhooks(host: Any, receiver: Any) -> None:
    acme = make_api_client(host, "acme")
    created = acme.post("/webhooks", json={
        "url": receiver.url, "events": ["message.received"], "secret": API_SECRET,
        "headers": [{"name": "Authorization", "value": HEADER_SECRET, "secret": True},
                    {"name": "X-Route", "value": "eu-1"}]})
    assert created.status_code == 201 and created.json["secret"] == API_SECRET
    rotated = acme.patch(f"/webhooks/{created.json['id']}", json={"secret": ROTATED_SECRET})
    assert rotated.status_code == 200
    host.add_webhook(receiver.url, owner="globex", secret=PYTHON_SECRET)


def deliver_and_verify(host: Any, receiver: Any) -> None:
    receiver.requests.clear()
    host.emit("message.received", {"n": 1})
    host.emit("message.received", {"n": 2}, owner="globex")
    deliveries = host.work_until_settled()
    assert {d.status for d in deliveries} == {DeliveryStatus.SUCCESS}
    by_owner = {}
    for request in receiver.requests:
        lowered = {k.lower(): v for k, v in request.headers.items()}
        by_owner[lowered.get("authorization")] = (request.body,
                                                  lowered["x-clawbook-signature"])
    body, signature = by_owner[HEADER_SECRET]
    assert verify_signature(body, signature, [ROTATED_SECRET])
    body, signature = by_owner[None]
    assert verify_signature(body, signature, [PYTHON_SECRET])


def test_a_database_dump_holds_no_secret_in_clear_and_deliveries_still_verify(
    host, receiver
):
    make_webhooks(host, receiver)

    deliver_and_verify(host, receiver)

    backup = dump(host)
    assert b"clawhooks_webhook" in backup or b"whsec" not in backup
    for secret in (API_SECRET, PYTHON_SECRET, ROTATED_SECRET, HEADER_SECRET):
        assert secret.encode() not in backup, secret
    assert b"eu-1" in backup  # what is not secret is stored as it is
    tokens = stored_tokens(host)
    assert len(tokens) == 4 and all(t.startswith(PREFIX) for t in tokens)


def test_rotating_the_key_re_encrypts_every_row_and_deliveries_still_verify(
    host, receiver
):
    make_webhooks(host, receiver)
    before = stored_tokens(host)
    state = get_state(host.app)
    # The operator puts a new key first and keeps the old one to read what is stored.
    state.settings = dataclasses.replace(state.settings, encryption_keys=(NEW_KEY, OLD_KEY))
    state.cipher = Cipher([NEW_KEY, OLD_KEY])

    result = host.app.test_cli_runner().invoke(args=["clawhooks", "rotate-encryption-key"])

    assert result.exit_code == 0, result.output
    assert result.output == ("Re-encrypted the secrets of 2 webhooks with the first key of "
                             "CLAWHOOKS_ENCRYPTION_KEYS.\n")
    after = stored_tokens(host)
    assert len(after) == 4 and not set(after) & set(before)
    new_only = Fernet(NEW_KEY.encode())
    for token in after:  # every row opens with the new key alone
        new_only.decrypt(token[len(PREFIX):].encode())
    # Then the old key is dropped: deliveries still sign and verify.
    state.cipher = Cipher([NEW_KEY])
    deliver_and_verify(host, receiver)


def test_rows_stored_before_keys_were_set_are_encrypted_by_rotate(host, receiver):
    state = get_state(host.app)
    state.cipher = Cipher([])  # as an install without keys wrote them
    make_webhooks(host, receiver)
    assert {ROTATED_SECRET, HEADER_SECRET} <= set(stored_tokens(host))  # in clear
    state.cipher = Cipher([OLD_KEY])
    deliver_and_verify(host, receiver)  # plain rows are still read

    result = host.app.test_cli_runner().invoke(args=["clawhooks", "rotate-encryption-key"])

    assert result.exit_code == 0, result.output
    assert all(t.startswith(PREFIX) for t in stored_tokens(host))
    deliver_and_verify(host, receiver)


@pytest.mark.clawhooks_config(CLAWHOOKS_ENCRYPTION_KEYS=None)
def test_without_keys_start_up_says_secrets_are_stored_unencrypted(
    database_url, redis_url, tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="flask_clawhooks")
    host = make_host(database_url, redis_url, str(tmp_path / "other"))
    try:
        assert any("CLAWHOOKS_ENCRYPTION_KEYS is not set: webhook signing secrets and "
                   "secret header values are stored unencrypted" in r.getMessage()
                   for r in caplog.records)
        result = host.app.test_cli_runner().invoke(args=["clawhooks",
                                                         "rotate-encryption-key"])
        assert result.exit_code == 1
        assert "CLAWHOOKS_ENCRYPTION_KEYS is not set: nothing to encrypt with" in result.output
    finally:
        with host.app.app_context():
            Webhook.metadata.drop_all(host.db.engine)
            host.db.engine.dispose()


@pytest.mark.parametrize("keys", [["not-a-key"], [OLD_KEY, "short"], 42])
def test_a_bad_key_is_a_configuration_error_naming_its_place_not_its_value(
    database_url, redis_url, tmp_path, keys
):
    with pytest.raises(ConfigurationError, match="CLAWHOOKS_ENCRYPTION_KEYS") as raised:
        make_host(database_url, redis_url, str(tmp_path / "bad"),
                  CLAWHOOKS_ENCRYPTION_KEYS=keys)
    assert "not-a-key" not in str(raised.value) and "short" not in str(raised.value)


def test_keys_from_the_environment_are_one_comma_separated_string(host):
    from flask_clawhooks.encryption import check_keys

    assert check_keys(f"{NEW_KEY}, {OLD_KEY}") == (NEW_KEY, OLD_KEY)
