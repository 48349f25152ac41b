"""Secrets at rest: webhook signing secrets and secret custom header values are stored
encrypted with the operator's keys.

``CLAWHOOKS_ENCRYPTION_KEYS`` is a list of Fernet keys (``cryptography``: AES-128-CBC
and HMAC-SHA256, 32 url-safe base64 bytes each). The first encrypts; any of them
decrypts, so a key is rotated by putting a new one first, running ``flask clawhooks
rotate-encryption-key`` (which re-encrypts every row with it), then dropping the old one.

A stored value is a versioned token, :data:`PREFIX` followed by the Fernet token, in the
same text columns that held the plain values. A value without the prefix is a plain one
(stored before encryption was configured, or by an install without keys): it is read
as it is and encrypted by the next ``rotate-encryption-key`` or the migration that
encrypts existing rows (:func:`reseal_rows`). Without keys nothing is encrypted and the
app says so at start-up: that is for development only.

The ORM does the work (:class:`SealedText`, :class:`SealedHeaders`), so every path that
writes a webhook (API, dashboard, CLI, Python) stores ciphertext and every path that
reads one sees the plain value; the worker, which reads webhooks with its own SQL,
opens them with :meth:`Cipher.open`.

.. versionadded:: 0.3.0
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.types import JSON, Text, TypeDecorator

from .errors import ConfigurationError

log = logging.getLogger("flask_clawhooks")

#: What every encrypted value starts with; ``v1`` is a Fernet token.
PREFIX = "clawhooks:v1:"
#: Webhook rows re-encrypted per transaction by :func:`reseal_rows`.
BATCH = 500


class SecretUnreadable(ConfigurationError):
    """A stored secret cannot be decrypted with the configured keys."""


def check_keys(value: Any) -> tuple[str, ...]:
    """``CLAWHOOKS_ENCRYPTION_KEYS`` as a tuple of keys: a list, or one string of keys
    separated by commas or spaces (as an environment variable gives it).

    :raises ConfigurationError: naming the position of a key that is not a Fernet key
        (never the key itself).
    """
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part for part in value.replace(",", " ").split() if part]
    if not isinstance(value, (list, tuple)) or not all(isinstance(k, str) for k in value):
        raise ConfigurationError(
            "CLAWHOOKS_ENCRYPTION_KEYS must be a list of Fernet keys (or one string of "
            "them separated by commas); make one with: python -c \"from "
            "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"")
    for index, key in enumerate(value):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ConfigurationError(
                f"CLAWHOOKS_ENCRYPTION_KEYS[{index}] is not a Fernet key (32 url-safe "
                "base64-encoded bytes); make one with: python -c \"from "
                "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\""
            ) from None
    return tuple(value)


class Cipher:
    """Encrypts with the first key, decrypts with any; without keys, stores plain text."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._fernet = MultiFernet([Fernet(k) for k in keys]) if keys else None
        # Opened values are kept (the worker opens a webhook's secret per delivery, and a
        # Fernet decryption costs more than the rest of preparing the request).
        self._open_cached = functools.lru_cache(maxsize=4096)(self._open_token)

    @property
    def enabled(self) -> bool:
        return self._fernet is not None

    def seal(self, plain: str) -> str:
        """``plain`` as stored: a token, or ``plain`` itself when no key is configured."""
        if self._fernet is None:
            return plain
        return PREFIX + self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        """The plain value of ``stored`` (a token, or a value stored plain).

        :raises SecretUnreadable: for a token no configured key opens.
        """
        if not stored.startswith(PREFIX):
            return stored
        return self._open_cached(stored)

    def _open_token(self, stored: str) -> str:
        if self._fernet is None:
            raise SecretUnreadable(
                "A webhook secret is stored encrypted but CLAWHOOKS_ENCRYPTION_KEYS is not "
                "set: configure the keys it was encrypted with.")
        try:
            return self._fernet.decrypt(stored[len(PREFIX):].encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError, UnicodeError):
            raise SecretUnreadable(
                "A webhook secret is encrypted with a key that is not in "
                "CLAWHOOKS_ENCRYPTION_KEYS: add that key (any position after the first) "
                "and run `flask clawhooks rotate-encryption-key`.") from None

    def reseal(self, stored: str) -> str:
        """``stored`` encrypted afresh with the first key (plain values encrypted)."""
        plain = self.open(stored)
        if self._fernet is None:
            return plain
        return PREFIX + self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def seal_headers(self, headers: Sequence[Mapping[str, Any]] | None,
                     seal: Callable[[str], str] | None = None) -> list[dict[str, Any]] | None:
        """Custom headers with each secret value sealed (``seal``: :meth:`seal`)."""
        if headers is None:
            return None
        seal = seal or self.seal
        return [{**h, "value": seal(h["value"])}
                if h.get("secret") and isinstance(h.get("value"), str) else dict(h)
                for h in headers]

    def open_headers(self, headers: Sequence[Mapping[str, Any]] | None
                     ) -> list[dict[str, Any]] | None:
        """Custom headers with each secret value opened."""
        if headers is None:
            return None
        return [{**h, "value": self.open(h["value"])}
                if h.get("secret") and isinstance(h.get("value"), str) else dict(h)
                for h in headers]


#: Finds the current app's :class:`Cipher`; :mod:`flask_clawhooks.state` sets it when it
#: is imported (it imports this module, so this one cannot import it).
_lookup: Callable[[], Cipher] | None = None


def find_cipher_with(lookup: Callable[[], Cipher]) -> None:
    global _lookup
    _lookup = lookup


def current() -> Cipher:
    """The :class:`Cipher` of the current app."""
    if _lookup is None:
        raise RuntimeError("No app's encryption keys are known: register ClawHooks on the "
                           "app first (ClawHooks(app) or clawhooks.init_app(app)).")
    return _lookup()


class SealedText(TypeDecorator[str]):
    """A text column whose values are stored sealed by the current app's :class:`Cipher`."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current().seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current().open(value)


class SealedHeaders(TypeDecorator[Any]):
    """A JSON list of custom headers whose secret values are stored sealed."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else current().seal_headers(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else current().open_headers(value)


#: The webhook table as :func:`reseal_rows` sees it: plain columns, no ORM, so that a
#: migration can call it whatever the models look like later.
_webhooks = sa.table(
    "clawhooks_webhook",
    sa.column("id", sa.String),
    sa.column("secret", sa.Text),
    sa.column("previous_secret", sa.Text),
    sa.column("custom_headers", sa.JSON),
)


def reseal_rows(connection: Connection, cipher: Cipher, *, batch_size: int | None = None,
                after_batch: Callable[[int], None] | None = None) -> int:
    """Encrypt every webhook's secrets afresh with the first key: the signing secret, the
    previous one and secret custom header values; values stored plain get encrypted.

    Works in batches of ``batch_size`` rows (default :data:`BATCH`) in id order;
    ``after_batch(rows)`` runs after each (the CLI commits there and moves its progress
    bar). Returns the rows rewritten.
    For an Alembic revision: ``reseal_rows(op.get_bind(), Cipher(keys))``.

    :raises SecretUnreadable: for a value no configured key opens (nothing of that batch
        is written).
    """
    size = batch_size or BATCH
    done = 0
    after = ""
    while True:
        rows = connection.execute(
            sa.select(_webhooks.c.id, _webhooks.c.secret, _webhooks.c.previous_secret,
                      _webhooks.c.custom_headers)
            .where(_webhooks.c.id > after).order_by(_webhooks.c.id).limit(size)
        ).all()
        if not rows:
            return done
        updates = [{
            "row_id": row.id,
            "new_secret": cipher.reseal(row.secret) if row.secret is not None else None,
            "new_previous": (cipher.reseal(row.previous_secret)
                             if row.previous_secret is not None else None),
            "new_headers": cipher.seal_headers(_headers(row.custom_headers), cipher.reseal),
        } for row in rows]
        connection.execute(
            _webhooks.update().where(_webhooks.c.id == sa.bindparam("row_id")).values(
                secret=sa.bindparam("new_secret"),
                previous_secret=sa.bindparam("new_previous"),
                custom_headers=sa.bindparam("new_headers", type_=sa.JSON)),
            updates,
        )
        done += len(rows)
        after = rows[-1].id
        if after_batch is not None:
            after_batch(len(rows))


def _headers(value: Any) -> list[dict[str, Any]] | None:
    """The custom headers as a list, whichever way the driver returned the JSON."""
    if isinstance(value, str):
        import json

        value = json.loads(value)
    return value if isinstance(value, list) else None
