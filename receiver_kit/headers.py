"""Reading request headers given as werkzeug ``Headers``, a ``dict`` or ``(name, value)`` pairs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def header_values(headers: Headers, name: str) -> list[str]:
    """All values of header ``name``, matched case-insensitively, in the order received.

    Accepts werkzeug's ``Headers``, a plain ``dict`` or a list of ``(name, value)`` pairs.
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
