"""Header names, and reading request headers given as a mapping or as ``(name, value)`` pairs.

Every header the kit reads is named here, once: ``X-ClawBook-Signature`` (the ClawBook
page's signature of the body), the three Standard Webhooks headers, and
``X-Forwarded-For``. Names are matched case-insensitively, so any capitalisation a server
or framework hands over works.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Headers = Mapping[str, str] | Iterable[tuple[str, str]]

#: The ClawBook page's signature header: ``sha256=<hex HMAC-SHA256 of the raw body>``.
SIGNATURE_HEADER = "X-ClawBook-Signature"

#: The Standard Webhooks headers, lowercase as the specification writes them.
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
STANDARD_HEADERS: tuple[str, str, str] = (ID_HEADER, TIMESTAMP_HEADER, STANDARD_SIGNATURE_HEADER)

#: Sent (``true``) on the kit's answer to a duplicate, so that a sender or a checker
#: (:mod:`receiver_kit.check`) can tell that the handler did not run again.
DUPLICATE_HEADER = "Webhook-Duplicate"

#: Read only when the direct peer is a trusted proxy, see :mod:`receiver_kit.allowlist`.
FORWARDED_FOR_HEADER = "X-Forwarded-For"


def header_values(headers: Headers, name: str) -> list[str]:
    """All values of header ``name``, matched case-insensitively, in the order received.

    Accepts any mapping (a ``dict``, Django's ``request.headers``, Starlette's
    ``Headers``), werkzeug's ``Headers`` (whose ``getlist`` keeps repeated headers apart),
    or a list of ``(name, value)`` pairs. For a WSGI ``environ`` use
    :func:`receiver_kit.wsgi.headers_from_environ` first: its keys are ``HTTP_*`` names,
    not header names.
    """
    getlist = getattr(headers, "getlist", None)
    if callable(getlist):
        return [str(value) for value in getlist(name)]
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    wanted = name.lower()
    return [value for key, value in pairs if key.lower() == wanted]


def single_value(headers: Headers, name: str) -> str | None:
    """The value of header ``name`` if it was sent exactly once, else ``None``.

    A header sent twice is treated as missing: which copy a proxy or framework keeps
    differs, and a signature must never depend on that choice.
    """
    values = header_values(headers, name)
    return values[0] if len(values) == 1 else None
