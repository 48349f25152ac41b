"""The one way commands and settings write a span of time: a number and a unit.

``45s``, ``90m``, ``12h``, ``30d``, ``2w``; where a command documented plain seconds
before (``sweep --grace 30``) a bare number still means seconds.

.. versionadded:: 0.3.0
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import click

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
FORMS = "a number and a unit: 45s, 90m, 12h, 30d, 2w"
_AGE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")



def parse(text: str, *, bare_seconds: bool = False) -> float:
    """``text`` in seconds.

    :param bare_seconds: accept a number without a unit as seconds.
    :raises ValueError: naming the accepted forms.
    """
    match = _DURATION.match(text)
    if match is None or (not match.group(2) and not bare_seconds):
        raise ValueError(f"{text!r} is not a duration; write {FORMS}.")
    return float(match.group(1)) * UNIT_SECONDS[match.group(2) or "s"]


class Duration(click.ParamType):  # type: ignore[type-arg]
    """A click parameter written as :func:`parse` reads it; its value is in seconds."""

    name = "DURATION"

    def __init__(self, *, bare_seconds: bool = False) -> None:
        self.bare_seconds = bare_seconds

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        try:
            return parse(str(value), bare_seconds=self.bare_seconds)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


#: The longest age taken: about a thousand years, far beyond any log yet well inside
#: what :mod:`datetime` can subtract from today.
MAX_AGE = dt.timedelta(days=365_000)


def parse_age(text: str) -> dt.timedelta:
    """``30d``, ``12h``, ``90m``, ``2w`` or ``45s`` as a :class:`~datetime.timedelta`.

    :raises ValueError: with the accepted forms, for anything else, and for an age
        longer than :data:`MAX_AGE` (it would overflow the arithmetic on times).
    """
    match = _AGE.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not an age; write a number and a unit, such as 30d, 12h, 90m, 2w."
        )
    digits = match.group(1)
    seconds = int(digits) * UNIT_SECONDS[match.group(2)] if len(digits) <= 18 else None
    if seconds is None or seconds > MAX_AGE.total_seconds():
        raise ValueError(f"{text.strip()!r} is too long an age; the longest is "
                         f"{MAX_AGE.days}d (about a thousand years).")
    return dt.timedelta(seconds=seconds)
