"""What the event picker shows of each type's payload: its sample and its schema.

The add and edit forms list, under the event checkboxes, one disclosure per type with the
sample envelope (:mod:`flask_clawhooks.samples`) and the JSON Schema of its ``data``
(:mod:`flask_clawhooks.schemas`): the same contract ``GET /event-types`` serves, so an
owner choosing events sees what their receiver will get. Plain ``<details>`` elements: no
script, nothing the Content-Security-Policy has to allow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint

from ..catalog import EventType
from ..samples import SAMPLES


@dataclass(frozen=True)
class Payload:
    """One type's payload, as indented JSON text; ``None`` where the type has none."""

    example: str | None
    schema: str | None


def _text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, indent=2, ensure_ascii=False)


def payload(event_type: EventType) -> Payload:
    return Payload(_text(SAMPLES.get(event_type.name)), _text(event_type.schema))


def register(blueprint: Blueprint) -> None:
    blueprint.add_app_template_global(payload, "clawhooks_payload")
