"""API keys: the ``Authorization: Bearer cbk_…`` tokens of the JSON API.

A key belongs to one owner. Only the SHA-256 of a key is stored, so a copy of the
database does not hand out working keys; the key itself is shown once, when it is made
(``flask clawhooks api-key create``). Keys are high-entropy random strings, so an unsalted
hash is enough, and a request is authenticated by looking up the hash of what it sent:
no comparison of secrets happens in Python, hence nothing to time.

A host with API keys of its own plugs them in with
:meth:`flask_clawhooks.ClawHooks.api_key_loader` instead; this table is then unused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from sqlalchemy import DateTime, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, scoped_session

from .ids import new_id
from .models import Base
from .timeutil import utcnow

#: What every key starts with, so a leaked one is easy to recognise (secret scanners).
KEY_PREFIX = "cbk_"
#: Characters of a key kept in clear, to tell keys apart in listings.
DISPLAY_CHARS = 12
#: ``last_used_at`` is written at most this often per key (seconds), not on every request.
LAST_USED_PRECISION = 60.0


def hash_key(token: str) -> str:
    """The hex SHA-256 of ``token``, as stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class ApiKey(Base):
    """One owner's API key. ``prefix`` is the start of the key, for display only."""

    __tablename__ = "clawhooks_api_key"

    id: Mapped[str] = mapped_column(String(40), primary_key=True,
                                    default=lambda: new_id("key"))
    owner: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(DISPLAY_CHARS))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def create_key(session: Session | scoped_session[Any], owner: str,
               name: str | None = None) -> tuple[ApiKey, str]:
    """Add a new key of ``owner`` to ``session`` (not committed); return it and the token.

    The token is not stored anywhere: show it to the person now or never.
    """
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(id=new_id("key"), owner=owner, name=name, prefix=token[:DISPLAY_CHARS],
                 key_hash=hash_key(token), created_at=utcnow())
    session.add(key)
    return key, token


def resolve(session: Session | scoped_session[Any], token: str) -> ApiKey | None:
    """The live (not revoked) key whose token is ``token``, or None.

    Notes the time of use, at most once a minute per key; the caller commits.
    """
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(token))).first()
    if key is None or key.revoked:
        return None
    now = utcnow()
    if key.last_used_at is None or (
        (now - key.last_used_at).total_seconds() >= LAST_USED_PRECISION
    ):
        key.last_used_at = now
    return key


def revoke(session: Session | scoped_session[Any], key_id: str) -> ApiKey | None:
    """Revoke key ``key_id`` (not committed); None if there is no such key.

    Revoking twice keeps the first time.
    """
    key = session.get(ApiKey, key_id)
    if key is not None and key.revoked_at is None:
        key.revoked_at = utcnow()
    return key
