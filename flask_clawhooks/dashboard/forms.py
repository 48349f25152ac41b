"""The dashboard's form and query-string handling.

The checks themselves are the API's (:mod:`flask_clawhooks.api.validation`), so a URL
or an event list is accepted or refused the same way in both; this module turns form
fields into their input and their :class:`~flask_clawhooks.api.errors.InvalidField`
into a message shown next to the field.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from .. import delivery_state
from ..api import validation
from ..api.errors import InvalidField
from ..catalog import TEST_EVENT, EventType
from ..config import Settings
from ..models import Webhook

LABELS = {"url": "URL", "events": "Events", "secret": "Secret", "description": "Description",
          "ordering": "Ordering", "max_per_second": "Requests a second",
          "max_in_flight": "Requests at once"}
#: Deliveries per page of the delivery log.
PAGE_SIZE = validation.PAGE_DEFAULT
#: The status filter's words: the one vocabulary of :mod:`flask_clawhooks.delivery_state`.
STATUSES = delivery_state.STATUSES


def _message(error: InvalidField) -> str:
    label = LABELS.get(error.field, error.field)
    if error.reason.startswith(("must", "is ", "has ", "lists ")):
        return f"{label} {error.reason}"
    return f"{label}: {error.reason}"


@dataclass
class WebhookForm:
    """What the Add Webhook and Edit forms hold, as typed, and the errors found in it."""

    url: str = ""
    events: list[str] = field(default_factory=list)
    secret: str = ""
    description: str = ""
    #: Delivery control (:mod:`flask_clawhooks.control`); an empty limit is no limit.
    ordering: str = "none"
    max_per_second: str = ""
    max_in_flight: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_webhook(cls, webhook: Webhook) -> WebhookForm:
        return cls(url=webhook.url, events=list(webhook.events),
                   description=webhook.description or "", ordering=webhook.ordering,
                   max_per_second=_number_text(webhook.max_per_second),
                   max_in_flight=_number_text(webhook.max_in_flight))

    @classmethod
    def from_request(cls, form: MultiDict[str, str]) -> WebhookForm:
        return cls(
            url=form.get("url", "").strip(),
            events=list(dict.fromkeys(form.getlist("events"))),
            secret=form.get("secret", "").strip(),
            description=form.get("description", "").strip(),
            ordering=form.get("ordering", "none"),
            max_per_second=form.get("max_per_second", "").strip(),
            max_in_flight=form.get("max_in_flight", "").strip(),
        )

    def clean(self, settings: Settings, known_events: Collection[str],
              *, creating: bool) -> dict[str, Any] | None:
        """The checked values (``secret`` None when left empty), or None with ``errors`` set."""
        self.errors = {}
        clean: dict[str, Any] = {}

        def check(name: str, run: Any) -> None:
            try:
                clean[name] = run()
            except InvalidField as exc:
                self.errors[name] = _message(exc)

        check("url", lambda: validation.url(self.url, settings))
        if not self.events:
            self.errors["events"] = "Select at least one event."
        else:
            check("events", lambda: validation.events(self.events, known_events))
        if creating:
            check("secret", lambda: validation.secret(self.secret) if self.secret else None)
        check("description", lambda: validation.description(self.description or None))
        check("ordering", lambda: validation.ordering(self.ordering))
        check("max_per_second", lambda: validation.max_per_second(
            _parse(self.max_per_second, float, "max_per_second")))
        check("max_in_flight", lambda: validation.max_in_flight(
            _parse(self.max_in_flight, int, "max_in_flight")))
        return None if self.errors else clean


def _number_text(value: float | None) -> str:
    """A limit as the form shows it: ``2`` rather than ``2.0``; empty for no limit."""
    return "" if value is None else f"{value:g}"


def _parse(text: str, kind: type[float] | type[int], name: str) -> float | None:
    """A limit typed in the form: empty is no limit."""
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise InvalidField(name, f"must be {what}, or empty for no limit.") from None


def event_groups(event_types: Mapping[str, EventType]) -> list[tuple[str, list[EventType]]]:
    """Event types by group, groups in order of first appearance (the catalog's first:
    Message, Integration, AI, System; then groups a host registered)."""
    groups: dict[str, list[EventType]] = {}
    for event_type in event_types.values():
        groups.setdefault(event_type.group, []).append(event_type)
    return list(groups.items())


@dataclass(frozen=True)
class LogQuery:
    """The delivery log's filters and cursor, from the query string.

    Values that make no sense (an unknown status, a cursor that is not a delivery id) are
    ignored rather than refused: this is a page a person clicks around in.
    """

    status: str | None = None
    event: str | None = None
    #: Show deliveries older than this id (the "Older" link) ...
    before: str | None = None
    #: ... or newer than this one (the "Newer" link).
    after: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> LogQuery:
        status = args.get("status") or None
        event = args.get("event") or None
        before, after = args.get("before") or None, args.get("after") or None
        return cls(
            status=status if status in STATUSES else None,
            event=event if event and len(event) <= validation.EVENT_TYPE_MAX else None,
            before=before if before and validation.is_id(before, "del") else None,
            after=after if after and validation.is_id(after, "del") else None,
        )

    def filters(self) -> dict[str, str]:
        """The filters as query-string arguments, for links that keep them."""
        return {k: v for k, v in (("status", self.status), ("event", self.event)) if v}


def filter_event_types(event_types: Mapping[str, EventType], webhook: Webhook) -> list[str]:
    """Event types offered in the log's filter: the webhook's, the test event, the catalog."""
    names = dict.fromkeys([*webhook.events, TEST_EVENT, *event_types])
    return list(names)
