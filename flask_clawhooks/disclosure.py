"""What may leave the process about a receiver's answer.

An attempt's answer reaches many places: the attempt log (excerpt, headers, error text),
the delivery's ``last_error``, the API and the dashboard, the "Send test" flash, ``flask
clawhooks test``, the failure e-mail, signals and the worker's log. All of them read what
:func:`disclose` returns, so this module is the one place that decides what of an answer
may be shown, and the one place that masks a webhook's secret custom header values in it.

A receiver may echo a secret value back in any part of its answer: the status line, a
``Location`` or other header, the body. It may spell it as sent, JSON-escaped (``\\/`` as
PHP writes ``/``, ``\\u00XX``), percent-encoded (``%2F``, ``+`` for a space) or with HTML
entities, and mix those spellings. Every spelling is masked, and masking happens *before*
anything is cut to length: the transport reads :data:`MARGIN_BYTES` beyond the excerpt so
that a secret that crosses the excerpt's end is whole when it is masked, and what is left
at the very end of a cut text that could begin a secret is masked too.

.. versionadded:: 0.3.0
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from .transport import HttpResult

#: What secret values are replaced with wherever they would be shown.
MASK = "********"
#: Longest secret value (a custom header value, :data:`custom_headers.VALUE_MAX
#: <flask_clawhooks.custom_headers.VALUE_MAX>`).
SECRET_MAX = 4096
#: Answer bytes read beyond the excerpt, so that the longest spelling of the longest
#: secret (``\\u00XX`` for every character: 6 bytes each) is read whole before the excerpt
#: is cut.
MARGIN_BYTES = 6 * SECRET_MAX
#: Most characters of an error text kept (a ``Location`` may be long).
ERROR_MAX = 1000
#: Shortest piece at the end of a cut text that is masked when it could begin a secret.
_TAIL_MIN = 4


@dataclass(frozen=True, slots=True)
class Disclosed:
    """What may be stored and shown of one answer."""

    error: str | None
    excerpt: str | None
    headers: dict[str, str] | None


def _hex(code: int) -> str:
    """``code`` as two hex digits, either case."""
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{code:02X}")


def _spellings(char: str) -> str:
    """A pattern matching ``char`` in any spelling an echo may use."""
    code = ord(char)
    options = [re.escape(char), "%" + _hex(code), r"\\u00" + _hex(code)]
    escaped = json.dumps(char)[1:-1]
    if escaped != char:
        options.append(re.escape(escaped))
    if char == "/":
        options.append(r"\\/")
    if char == " ":
        options.append(r"\+")
    entity = html.escape(char)
    if entity != char:
        options += [re.escape(entity), f"&#0*{code};", f"&#[xX]0*{code:x};"]
    return "(?:" + "|".join(options) + ")"


@functools.lru_cache(maxsize=512)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for every spelling of every secret, longest secrets first."""
    parts = ["".join(_spellings(c) for c in secret)
             for secret in sorted({s for s in secrets if s}, key=len, reverse=True)]
    return re.compile("|".join(parts)) if parts else None


@functools.lru_cache(maxsize=512)
def _plain_spellings(secrets: tuple[str, ...]) -> tuple[str, ...]:
    """Whole spellings of each secret, for masking a secret's beginning at a cut."""
    found: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        escaped = json.dumps(secret)[1:-1]
        found.update((secret, escaped, escaped.replace("/", "\\/"), quote(secret, safe=""),
                      quote(secret, safe="/"), quote_plus(secret), html.escape(secret)))
    return tuple(found)


def mask(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every spelling of every secret in ``secrets`` replaced by :data:`MASK`."""
    if not text or not secrets:
        return text
    pattern = _pattern(tuple(secrets))
    return pattern.sub(MASK, text) if pattern is not None else text


def _mask_tail(text: str, secrets: Sequence[str]) -> str:
    """``text`` (already masked, then cut) without a secret's beginning at its end."""
    if not secrets:
        return text
    cut = len(text)
    for spelling in _plain_spellings(tuple(secrets)):
        first = max(0, len(text) - len(spelling) + 1)
        start = text.find(spelling[:_TAIL_MIN], first)
        while 0 <= start <= len(text) - _TAIL_MIN:
            if spelling.startswith(text[start:]):
                cut = min(cut, start)
                break
            start = text.find(spelling[:_TAIL_MIN], start + 1)
    return text if cut == len(text) else text[:cut] + MASK


def shorten(text: str, limit: int, secrets: Sequence[str] = ()) -> str:
    """``text`` masked, then cut to at most ``limit`` UTF-8 bytes.

    Masking comes first, so a cut never leaves part of a secret that a whole match would
    have caught; a secret's beginning left at the cut is masked as well.
    """
    text = mask(text, secrets)
    if len(text) <= limit // 4 or len(text.encode("utf-8", "replace")) <= limit:
        return text
    cut = text.encode("utf-8", "replace")[:limit].decode("utf-8", "ignore")
    return _mask_tail(cut, secrets)


def describe(result: HttpResult) -> str | None:
    """The error text of a result that is not a success, before any masking: never
    shown as it is (:func:`error_text` is)."""
    if result.error:
        return result.error
    status = result.status
    if status is None or 200 <= status < 300:
        return None
    if 300 <= status < 400:
        location = next((v for k, v in result.headers.items() if k.lower() == "location"),
                        "?")
        return f"HTTP {status}: redirect to {location} not followed"
    return f"HTTP {status}"


def error_text(result: HttpResult, secrets: Sequence[str]) -> str | None:
    """The error text of ``result`` as it may be stored, shown and logged: secrets
    masked, then cut to :data:`ERROR_MAX`."""
    error = describe(result)
    return None if error is None else shorten(error, ERROR_MAX, secrets)


def disclose(result: HttpResult, secrets: Sequence[str], excerpt_bytes: int) -> Disclosed:
    """What may be stored and shown of ``result``: its error text, excerpt and headers,
    each with every spelling of ``secrets`` masked, then cut to length.

    :param secrets: the webhook's secret custom header values (the values it sent).
    :param excerpt_bytes: ``CLAWHOOKS_RESPONSE_EXCERPT_BYTES``; the transport read up to
        :data:`MARGIN_BYTES` more so that masking sees whole secrets.
    """
    error = error_text(result, secrets)
    excerpt = result.excerpt
    if excerpt is not None:
        excerpt = shorten(excerpt, excerpt_bytes, secrets)
    headers: dict[str, str] | None = result.headers or None
    if headers and secrets:
        headers = mask_mapping(headers, secrets)
    return Disclosed(error, excerpt, headers)


def mask_mapping(headers: Mapping[str, str], secrets: Sequence[str]) -> dict[str, str]:
    """``headers`` with every spelling of ``secrets`` masked in names and values."""
    return {mask(k, secrets): mask(v, secrets) for k, v in headers.items()}
