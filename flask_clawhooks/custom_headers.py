"""Headers an owner adds to every request of a webhook, such as an ``Authorization``
token or a routing key their gateway wants.

A webhook keeps them in :attr:`Webhook.custom_headers <flask_clawhooks.models.Webhook>`
as ``[{"name", "value", "secret"}]``. A *secret* value is written once and never shown
again: the API, the dashboard and the attempt log show :data:`MASK` in its place, and a
receiver that echoes it back has it masked in everything recorded of its answer
(:mod:`flask_clawhooks.disclosure`). Only the request
itself carries the real value.

Names and values are checked here, for the API, the dashboard and the CLI alike:

* a name is an RFC 7230 token of at most :data:`NAME_MAX` characters, and not one the
  sender sets itself or that belongs to the connection (:func:`reserved`);
* a value is printable ASCII of 1 to :data:`VALUE_MAX` characters, with no CR, LF, NUL
  or other control character and no space at either end, so it can never split a header
  or smuggle one in.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .api.errors import InvalidField
from .disclosure import MASK as MASK
from .disclosure import SECRET_MAX

NAME_MAX = 100
VALUE_MAX = SECRET_MAX
#: The ``pattern`` of a name: an RFC 7230 token.
NAME_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
#: The ``pattern`` of a value: visible ASCII, inner spaces and tabs allowed.
VALUE_PATTERN = "^[!-~]([ -~\\t]*[!-~])?$"

_NAME = re.compile(NAME_PATTERN.strip("^$"))
_VALUE = re.compile(VALUE_PATTERN.strip("^$"))

#: Names the sender sets itself, or that describe the body or the connection.
RESERVED_NAMES = {
    "content-type": "the sender sets it (application/json)",
    "content-length": "the sender sets it from the body",
    "content-encoding": "it would change how the signed body is read",
    "host": "it comes from the webhook's URL",
    "user-agent": "the sender sets it (ClawBook-Webhooks/<version>)",
    "expect": "it changes how the request is sent",
    "connection": "it is a hop-by-hop header",
    "keep-alive": "it is a hop-by-hop header",
    "transfer-encoding": "it is a hop-by-hop header",
    "te": "it is a hop-by-hop header",
    "trailer": "it is a hop-by-hop header",
    "upgrade": "it is a hop-by-hop header",
}
#: Name prefixes that are reserved, and why.
RESERVED_PREFIXES = {
    "x-clawbook-": "X-ClawBook-* headers carry the event and its signature",
    "webhook-": "webhook-* headers carry the Standard Webhooks id and signature",
    "proxy-": "Proxy-* headers are hop-by-hop",
}
_FIELDS = ("name", "value", "secret")


def normal(name: str) -> str:
    """``name`` as reserved names are compared: lower case, ``_`` read as ``-`` (many
    servers and proxies, CGI and WSGI among them, treat the two alike, so
    ``X_ClawBook_Signature`` could stand in for the real signature)."""
    return name.lower().replace("_", "-")


def reserved(name: str) -> str | None:
    """Why ``name`` may not be set by an owner, or None if it may (compared after
    :func:`normal`)."""
    lower = normal(name)
    if lower in RESERVED_NAMES:
        return RESERVED_NAMES[lower]
    for prefix, reason in RESERVED_PREFIXES.items():
        if lower.startswith(prefix):
            return reason
    return None


def parse(value: Any, *, max_count: int, current: Sequence[Mapping[str, Any]] | None = None,
          field: str = "headers") -> list[dict[str, Any]]:
    """The checked list of headers ``value`` asks for, replacing ``current``.

    ``value`` is a list of ``{"name", "value", "secret"}`` objects. A secret header that
    is already saved may leave its value out (or send :data:`MASK`, as a GET shows it) to
    keep the saved one, so the owner never needs to know it again.

    :param max_count: ``CLAWHOOKS_MAX_CUSTOM_HEADERS``.
    :raises InvalidField: naming the header and what is wrong with it.
    """
    if not isinstance(value, list):
        raise InvalidField(field, 'must be a list of headers such as [{"name": '
                                  '"Authorization", "value": "Bearer …", "secret": true}].')
    if len(value) > max_count:
        raise InvalidField(field, f"at most {max_count} headers are allowed, got {len(value)}.")
    saved = {str(h["name"]).lower(): str(h["value"]) for h in current or ()
             if h.get("secret")}
    seen: set[str] = set()
    clean: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(item, dict):
            raise InvalidField(where, 'must be an object with "name" and "value".')
        unknown = [key for key in item if key not in _FIELDS]
        if unknown:
            raise InvalidField(where, f"unknown field {_show(unknown[0])}; the fields are "
                                      "name, value and secret.")
        name = check_name(item.get("name"), f"{where}.name")
        lower = name.lower()
        if normal(name) in seen:
            raise InvalidField(f"{where}.name", f"{name!r} is listed twice (names are "
                                                "case-insensitive, and _ counts as -).")
        seen.add(normal(name))
        secret = item.get("secret", False)
        if not isinstance(secret, bool):
            raise InvalidField(f"{where}.secret", "must be true or false.")
        raw = item.get("value")
        if secret and lower in saved and (raw is None or raw == MASK):
            if "value" in item and raw is None:
                raise InvalidField(f"{where}.value", "must be a string; leave it out to "
                                                     "keep the saved secret value.")
            header_value = saved[lower]
        elif "value" not in item:
            raise InvalidField(f"{where}.value", "is required (only a secret header that "
                                                 "is already saved may leave it out, to "
                                                 "keep its value).")
        else:
            header_value = check_value(raw, f"{where}.value")
            if header_value == MASK:
                raise InvalidField(f"{where}.value", f"{MASK} is how secret values are "
                                                     "shown; send the real value.")
        clean.append({"name": name, "value": header_value, "secret": secret})
    return clean


def check_name(name: Any, field: str) -> str:
    """A header name an owner may set (see :func:`reserved`)."""
    if not isinstance(name, str) or not name:
        raise InvalidField(field, "must be a header name such as 'Authorization'.")
    if len(name) > NAME_MAX:
        raise InvalidField(field, f"must be at most {NAME_MAX} characters long.")
    if not _NAME.fullmatch(name):
        raise InvalidField(field, f"{_show(name)} is not a valid header name (letters, "
                                  "digits and !#$%&'*+-.^_`|~ only; no spaces or colons).")
    reason = reserved(name)
    if reason:
        raise InvalidField(field, f"{name!r} is reserved: {reason}.")
    return name


def check_value(value: Any, field: str) -> str:
    """A header value that cannot split or smuggle a header."""
    if not isinstance(value, str):
        raise InvalidField(field, "must be a string.")
    if not value:
        raise InvalidField(field, "must not be empty.")
    if len(value) > VALUE_MAX:
        raise InvalidField(field, f"must be at most {VALUE_MAX} characters long.")
    if not _VALUE.fullmatch(value):
        if any(c in value for c in "\r\n\x00"):
            raise InvalidField(field, "must not contain CR, LF or NUL characters.")
        if value != value.strip(" \t"):
            raise InvalidField(field, "must not start or end with spaces.")
        raise InvalidField(field, "must be printable ASCII (no control or non-ASCII "
                                  "characters).")
    return value


def public(custom: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The headers as the API and the dashboard show them: secret values masked."""
    return [{"name": h["name"], "value": MASK if h.get("secret") else h["value"],
             "secret": bool(h.get("secret"))} for h in custom or ()]


# -- on the delivery path (flask_clawhooks.ledger) -------------------------------------


def apply(headers: Mapping[str, str], custom: Sequence[Mapping[str, Any]]
          ) -> tuple[dict[str, str], dict[str, str], tuple[str, ...]]:
    """``headers`` with the custom ones added: what is sent, what is logged, and the
    secret values to mask in whatever the receiver answers.

    Reserved names, and entries that are not a name and a value, are skipped even here:
    a row written by other means (or before a name became reserved) must neither replace
    a signature header nor stop the delivery.
    """
    sent, logged = dict(headers), dict(headers)
    secrets: list[str] = []
    for header in custom:
        name, value = header.get("name"), header.get("value")
        if not isinstance(name, str) or not isinstance(value, str) or reserved(name):
            continue
        sent[name] = value
        if header.get("secret"):
            logged[name] = MASK
            secrets.append(value)
        else:
            logged[name] = value
    return sent, logged, tuple(secrets)


def _show(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")
