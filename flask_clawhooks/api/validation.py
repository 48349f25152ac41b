"""Checks of what a person sends, shared by the API and the CLI.

Each check returns the clean value or raises :class:`~.errors.InvalidField` naming the
field; the API answers it with ``422``, the CLI with a :class:`click.BadParameter`.
Strings are refused when they hold NUL characters or lone surrogates, which no database
column can store.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import idna

from .. import custom_headers
from ..config import Settings
from ..destinations import literal_address, url_refusal
from .errors import InvalidField, InvalidJson, raise_all

URL_MAX = 2048
SECRET_MIN, SECRET_MAX = 16, 255
DESCRIPTION_MAX = 500
OWNER_MAX = 255
NAME_MAX = 255
EVENT_TYPE_MAX = 100
PAGE_DEFAULT, PAGE_MAX = 20, 100

#: Delivery control (:mod:`flask_clawhooks.control`): the bounds of each setting.
ORDERINGS = ("none", "fifo")
PER_SECOND_MIN, PER_SECOND_MAX = 0.01, 10_000.0
IN_FLIGHT_MIN, IN_FLIGHT_MAX = 1, 1000
CONTROL_FIELDS = ("ordering", "max_per_second", "max_in_flight")

CREATE_FIELDS = ("url", "events", "secret", "description", "headers", *CONTROL_FIELDS)
UPDATE_FIELDS = ("url", "events", "enabled", "secret", "description", "headers",
                 *CONTROL_FIELDS)

_ASCII_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?", re.IGNORECASE)

#: Id prefixes of the API's resources; an id is the prefix, ``_`` and 26 base32 characters.
ID_PATTERN = "^{prefix}_[0-9a-z]{{26}}$"


def is_id(value: str, prefix: str) -> bool:
    """Whether ``value`` has the shape of an id made by :func:`flask_clawhooks.ids.new_id`."""
    return re.fullmatch(ID_PATTERN.format(prefix=prefix), value) is not None


def text(field: str, value: Any, *, max_length: int, min_length: int = 0) -> str:
    """A string that a database can store, within the length limits (in characters)."""
    if not isinstance(value, str):
        raise InvalidField(field, f"must be a string, got {_kind(value)}.")
    if "\x00" in value:
        raise InvalidField(field, "must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidField(field, "must be valid Unicode (no lone surrogates).") from None
    if len(value) < min_length:
        raise InvalidField(field, f"must be at least {min_length} characters long.")
    if len(value) > max_length:
        raise InvalidField(field, f"must be at most {max_length} characters long.")
    return value


def url(raw: Any, settings: Settings, field: str = "url") -> str:
    """An absolute ``http(s)://`` URL with a host, that the SSRF guard does not refuse.

    ``https://`` only with ``CLAWHOOKS_REQUIRE_HTTPS``. Host names are checked again at
    every delivery, on the address they resolve to then.
    """
    value: str = text(field, raw, max_length=URL_MAX, min_length=1)
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidField(field, "must not contain spaces or control characters.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise InvalidField(field, f"is not a valid URL ({exc}).") from None
    schemes = ("https",) if settings.require_https else ("http", "https")
    if parts.scheme.lower() not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise InvalidField(field, f"must be an absolute URL starting with {wanted}.")
    host = parts.hostname
    if not host:
        raise InvalidField(field, "must name a host, as in https://your-server.com/webhook.")
    if parts.username is not None or parts.password is not None:
        raise InvalidField(field, "must not carry a user name or password; the webhook "
                                  "secret authenticates deliveries.")
    problem = host_problem(host)
    if problem:
        raise InvalidField(field, f"has a host name that is not valid: {host!r} ({problem}).")
    refusal = url_refusal(value, settings.destinations)
    if refusal:
        raise InvalidField(field, f"deliveries may not go to {refusal}.")
    return value


def host_problem(host: str) -> str | None:
    """What makes ``host`` (as :func:`urllib.parse.urlsplit` gives it: lower case, no
    brackets) no valid host name or address, or None.

    Addresses are left to the SSRF guard. A name is split in labels at dots (one
    trailing dot allowed): each 1 to 63 characters; an ASCII label of letters, digits,
    hyphens (not first or last) and underscores (DNS has them, browsers accept them); a
    label starting ``xn--`` must be valid Punycode of a valid IDNA label (``xn--`` alone
    is not); a label in another script must be valid IDNA 2008 (UTS 46 mapping), which
    the :mod:`idna` package checks. The whole name is at most 253 characters once
    encoded. A last label of digits only makes the host an IPv4 address, so it must be
    a valid one.
    """
    if ":" in host or literal_address(host) is not None:
        return None  # an address
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if labels[-1].isdigit():
        return "it looks like an IPv4 address but is not a valid one"
    encoded: list[str] = []
    for label in labels:
        if not label:
            return "a label is empty (two dots in a row, or a leading dot)"
        if label.isascii() and label.startswith("xn--"):
            try:
                idna.encode(idna.decode(label))
            except (idna.IDNAError, UnicodeError) as exc:
                return f"the label {label!r} is not valid Punycode (IDNA): {exc}"
            encoded.append(label)
        elif label.isascii():
            if not _ASCII_LABEL.fullmatch(label):
                return (f"the label {label!r} may hold only letters, digits, '-' and '_', "
                        "and not start or end with '-'")
            encoded.append(label)
        else:
            try:
                encoded.append(idna.encode(label, uts46=True).decode("ascii"))
            except (idna.IDNAError, UnicodeError) as exc:
                return f"the label {label!r} is not a valid internationalized name ({exc})"
        if len(encoded[-1]) > 63:
            return f"the label {label!r} is longer than 63 characters once encoded"
    if len(".".join(encoded)) > 253:
        return "it is longer than 253 characters once encoded"
    return None


def events(value: Any, known: Collection[str], field: str = "events") -> list[str]:
    """A non-empty list of distinct event types from ``known``."""
    if not isinstance(value, list) or not value:
        raise InvalidField(field, "must be a non-empty list of event types, such as "
                                  '["message.received"].')
    seen: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise InvalidField(field, f"must hold strings, got {_kind(item)}.")
        if item not in known:
            raise InvalidField(field, f"unknown event type {_show(item)}. Known types: "
                                      f"{', '.join(sorted(known))}.")
        if item in seen:
            raise InvalidField(field, f"lists {item!r} twice.")
        seen.append(item)
    return seen


def secret(value: Any, field: str = "secret") -> str:
    """A signing secret of 16 to 255 characters."""
    return text(field, value, min_length=SECRET_MIN, max_length=SECRET_MAX)


def description(value: Any, field: str = "description") -> str | None:
    """Free text of at most 500 characters, or None."""
    if value is None:
        return None
    return text(field, value, max_length=DESCRIPTION_MAX)


def ordering(value: Any, field: str = "ordering") -> str:
    """``"fifo"`` (one at a time, in emit order) or ``"none"``."""
    if value not in ORDERINGS or not isinstance(value, str):
        shown = _show(value) if isinstance(value, str) else _kind(value)
        raise InvalidField(field, f"must be \"fifo\" or \"none\", got {shown}.")
    return value


def max_per_second(value: Any, field: str = "max_per_second") -> float | None:
    """Requests a second, from one per 100 seconds to 10,000, or None for no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidField(field, f"must be a number or null, got {_kind(value)}.")
    if not PER_SECOND_MIN <= value <= PER_SECOND_MAX:
        raise InvalidField(field, f"must be from {PER_SECOND_MIN:g} to {PER_SECOND_MAX:g} "
                                  f"requests a second, or null for no limit; got {value!r}.")
    return float(value)


def max_in_flight(value: Any, field: str = "max_in_flight") -> int | None:
    """Requests open at once, 1 to 1000, or None for no limit."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField(field, f"must be a whole number or null, got {_kind(value)}.")
    if not IN_FLIGHT_MIN <= value <= IN_FLIGHT_MAX:
        raise InvalidField(field, f"must be from {IN_FLIGHT_MIN} to {IN_FLIGHT_MAX} "
                                  f"requests, or null for no limit; got {value}.")
    return value


def owner(value: Any, field: str = "owner") -> str:
    return text(field, value, min_length=1, max_length=OWNER_MAX)


def flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidField(field, f"must be true or false, got {_kind(value)}.")
    return value


def webhook_fields(body: Mapping[str, Any], settings: Settings, known: Collection[str],
                   *, creating: bool,
                   current_headers: Sequence[Mapping[str, Any]] | None = None
                   ) -> dict[str, Any]:
    """The checked fields of a create (``creating``) or update body.

    Unknown fields are refused by name, so a typo such as ``"event"`` is not ignored.
    ``current_headers`` are the webhook's saved custom headers, whose secret values an
    update may keep without sending them again (:func:`.custom_headers.parse`).
    """
    allowed = CREATE_FIELDS if creating else UPDATE_FIELDS
    errors: list[InvalidField] = []
    unknown = [name for name in body if name not in allowed]
    if unknown:
        errors.append(InvalidField(", ".join(_show(name) for name in unknown),
                                   f"unknown field; the fields are {', '.join(allowed)}."))
    if creating:
        missing = [name for name in ("url", "events") if name not in body]
        if missing:
            errors.append(InvalidField(", ".join(missing), "is required."))
    checks: dict[str, Callable[[Any], Any]] = {
        "url": lambda v: url(v, settings),
        "events": lambda v: events(v, known),
        "secret": secret,
        "description": description,
        "enabled": lambda v: flag(v, "enabled"),
        "headers": lambda v: custom_headers.parse(
            v, max_count=settings.max_custom_headers, current=current_headers),
        "ordering": ordering,
        "max_per_second": max_per_second,
        "max_in_flight": max_in_flight,
    }
    clean: dict[str, Any] = {}
    for name in allowed:
        if name in body:
            try:
                clean[name] = checks[name](body[name])
            except InvalidField as exc:
                errors.append(exc)
    raise_all(errors)  # every problem at once, so one correction fixes the request
    return clean


def json_object(data: bytes) -> dict[str, Any]:
    """Parse a request body that must be one JSON object."""
    try:
        value = json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else "not valid JSON"
        raise InvalidJson(f"The body is not valid JSON: {message}.") from None
    if not isinstance(value, dict):
        raise InvalidJson(f"The body must be a JSON object, got {_kind(value)}.")
    return value


def query(args: Mapping[str, Any], allowed: Collection[str]) -> None:
    """Refuse query parameters an endpoint does not know, so a typo is not ignored."""
    unknown = [name for name in args if name not in allowed]
    if unknown:
        raise InvalidField(", ".join(_show(name) for name in unknown),
                           "unknown query parameter; this endpoint takes "
                           f"{', '.join(allowed) if allowed else 'none'}.")


def page_limit(value: str | None) -> int:
    if value is None:
        return PAGE_DEFAULT
    if not re.fullmatch(r"[0-9]{1,4}", value) or not 1 <= int(value) <= PAGE_MAX:
        raise InvalidField("limit", f"must be a whole number from 1 to {PAGE_MAX}.")
    return int(value)


def cursor(value: str | None, prefix: str) -> str | None:
    if value is None:
        return None
    if not is_id(value, prefix):
        raise InvalidField("after", f"must be an id starting with {prefix}_ (a next_cursor).")
    return value


def choice(field: str, value: str | None, allowed: Collection[str]) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise InvalidField(field, f"must be one of {', '.join(sorted(allowed))}.")
    return value


#: RFC 3339 date-time, as OpenAPI's ``format: date-time`` means it.
_DATE_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)")


def timestamp(field: str, value: Any) -> dt.datetime:
    """An RFC 3339 date-time with its offset (``2026-01-30T14:30:00Z``), as naive UTC."""
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise InvalidField(field, "must be a date-time with its offset, such as "
                                  "2026-01-30T14:30:00Z.")
    text = value.replace("z", "Z").replace("t", "T")
    fraction = re.search(r"\.(\d+)", text)
    if fraction:  # fromisoformat takes at most 6 digits
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:6].ljust(6, "0"))
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise InvalidField(field, f"{_show(value)} is not a valid date-time, or is out "
                                  "of range.") from None


def time_range(since: dt.datetime | None, until: dt.datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        raise InvalidField("until", "must be later than since.")


RECOVER_FIELDS = ("since", "until", "deliveries")


def recovery_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """The checked body of ``POST /webhooks/{id}/recover``: ``since`` (required),
    ``until`` and ``deliveries`` (``failed``, the default, or ``all``)."""
    unknown = [name for name in body if name not in RECOVER_FIELDS]
    if unknown:
        raise InvalidField(", ".join(_show(name) for name in unknown),
                           f"unknown field; the fields are {', '.join(RECOVER_FIELDS)}.")
    if "since" not in body:
        raise InvalidField("since", "is required: the time to recover deliveries from, "
                                    "such as 2026-01-30T14:30:00Z.")
    since = timestamp("since", body["since"])
    until = None if body.get("until") is None else timestamp("until", body["until"])
    time_range(since, until)
    include = body.get("deliveries", "failed")
    if include not in ("failed", "all"):
        raise InvalidField("deliveries", "must be 'failed' (the default) or 'all'.")
    return {"since": since, "until": until, "deliveries": include}


#: The query parameters of ``GET /deliveries`` besides ``limit`` and ``after``.
SEARCH_PARAMETERS = ("event_id", "event_type", "status", "response_code", "since", "until",
                     "webhook_id")
#: ``response_code`` of a search: a code (``404``) or a class (``4xx``).
RESPONSE_CODE_PATTERN = "^[1-5]([0-9][0-9]|xx)$"


def delivery_query(args: Mapping[str, str], statuses: Collection[str]) -> Any:
    """The :class:`~flask_clawhooks.search.DeliveryQuery` of ``GET /deliveries``."""
    from ..search import DeliveryQuery

    event_id = args.get("event_id")
    if event_id is not None and not is_id(event_id, "evt"):
        raise InvalidField("event_id", "must be an event id such as "
                                       "evt_01jkq8m3z5v6w7x8y9a0b1c2d3.")
    webhook_id = args.get("webhook_id")
    if webhook_id is not None and not is_id(webhook_id, "wh"):
        raise InvalidField("webhook_id", "must be a webhook id such as "
                                         "wh_01jkq8m3z5v6w7x8y9a0b1c2d3.")
    event_type = args.get("event_type")
    if event_type is not None:
        event_type = text("event_type", event_type, max_length=EVENT_TYPE_MAX)
    code = args.get("response_code")
    exact = klass = None
    if code is not None:
        if not re.fullmatch(RESPONSE_CODE_PATTERN.strip("^$"), code):
            raise InvalidField("response_code", "must be an HTTP status code such as 404, "
                                                "or a class: 2xx, 4xx, 5xx.")
        exact, klass = (None, int(code[0])) if code.endswith("xx") else (int(code), None)
    since = timestamp("since", args["since"]) if "since" in args else None
    until = timestamp("until", args["until"]) if "until" in args else None
    time_range(since, until)
    return DeliveryQuery(
        event_id=event_id, event_type=event_type,
        status=choice("status", args.get("status"), statuses),
        response_code=exact, response_class=klass, since=since, until=until,
        webhook_id=webhook_id,
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _show(value: str) -> str:
    """``repr`` of a name from a request, cut short."""
    return repr(value if len(value) <= 60 else value[:57] + "...")
