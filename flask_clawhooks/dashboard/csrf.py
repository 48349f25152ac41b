"""CSRF tokens for the dashboard's forms.

A token is an itsdangerous signature (keyed on ``app.secret_key``, salt
``clawhooks-csrf``) over a random value kept in the visitor's session and the owner the
page was rendered for. A POST is accepted only with a token that is younger than
:data:`MAX_AGE`, matches this session's value and names the same owner, so a form from
another site, another browser, or another account signed in on the same browser is
refused.
"""

from __future__ import annotations

import hmac
import secrets

from flask import current_app, session
from itsdangerous import BadData, URLSafeTimedSerializer

from ..errors import ConfigurationError

SALT = "clawhooks-csrf"
#: The form field (and the ``X-CSRF-Token`` header) that carries the token.
FIELD = "csrf_token"
#: Seconds a rendered form stays usable.
MAX_AGE = 12 * 3600
#: The session key of the random value tokens are bound to.
_SESSION_KEY = "_clawhooks_csrf"


def _serializer() -> URLSafeTimedSerializer:
    key = current_app.secret_key
    if not key:
        raise ConfigurationError(
            "The ClawHooks dashboard needs app.secret_key (SECRET_KEY) for its sessions "
            "and CSRF tokens; set it to a long random value."
        )
    return URLSafeTimedSerializer(key, salt=SALT)


def generate_token(owner: str) -> str:
    """A token for the forms of a page rendered for ``owner`` in this session."""
    nonce = session.get(_SESSION_KEY)
    if not isinstance(nonce, str):
        nonce = session[_SESSION_KEY] = secrets.token_urlsafe(16)
    return _serializer().dumps([nonce, owner])


def token_is_valid(token: str | None, owner: str) -> bool:
    """Whether ``token`` was made by :func:`generate_token` for ``owner`` in this session."""
    nonce = session.get(_SESSION_KEY)
    if not token or not isinstance(nonce, str):
        return False
    try:
        data = _serializer().loads(token, max_age=MAX_AGE)
    except BadData:
        return False
    if not isinstance(data, list) or len(data) != 2 or not all(isinstance(v, str) for v in data):
        return False
    return hmac.compare_digest(data[0].encode(), nonce.encode()) and hmac.compare_digest(
        data[1].encode(), owner.encode()
    )
