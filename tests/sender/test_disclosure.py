"""What may leave the process about an answer: every spelling of a secret is masked, and
masked before anything is cut to length."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, quote_plus

import pytest

from flask_clawhooks.disclosure import MASK, disclose, mask, shorten
from flask_clawhooks.transport import HttpResult

SECRET = "Bearer gw_9f8e/7d6c+5b4a_3210fedcba&x<y>"


@pytest.mark.parametrize("spelling", [
    SECRET,
    json.dumps(SECRET)[1:-1],
    json.dumps(SECRET)[1:-1].replace("/", "\\/"),  # PHP's json_encode default
    json.dumps(SECRET, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003E"),
    quote(SECRET, safe=""),
    re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(SECRET, safe="")),
    quote(SECRET, safe="/"),
    quote_plus(SECRET),
    "Bearer%20gw_9f8e\\/7d6c%2B5b4a_3210fedcba&amp;x&lt;y&gt;",  # mixed spellings
], ids=["plain", "json", "json-slash", "json-unicode", "percent", "percent-lower",
        "percent-path", "form", "mixed"])
def test_every_spelling_of_a_secret_is_masked(spelling):
    text = f"before {spelling} after"

    masked = mask(text, [SECRET])

    assert masked.startswith("before ") and masked.endswith(" after")
    assert "gw_9f8e" not in masked and "5b4a" not in masked and MASK in masked


@pytest.mark.parametrize("offset", [-20, -1, 0, 1, 30])
def test_a_secret_across_the_excerpt_boundary_is_masked_before_the_cut(offset):
    start = 4096 - len(SECRET) // 2 + offset
    body = "x" * start + SECRET + "y" * 100

    cut = shorten(body, 4096, [SECRET])

    assert len(cut.encode()) <= 4096 + len(MASK)
    assert "gw_9f8e" not in cut and "3210fedcba" not in cut and "5b4a" not in cut


def test_a_secrets_beginning_left_at_the_cut_is_masked():
    # The answer itself ends with part of the secret, right at the cut.
    cut = shorten("x" * 4080 + SECRET[:30], 4096, [SECRET])

    assert cut.endswith(MASK) and "gw_9f" not in cut


def test_the_error_text_excerpt_and_headers_of_an_answer_are_all_masked():
    result = HttpResult(
        302, 12, None,
        {"Location": f"https://evil.example/?t={quote(SECRET)}", f"X-{quote(SECRET)}": "1",
         "X-Echo": SECRET},
        "z" * 4080 + json.dumps({"seen": SECRET}).replace("/", "\\/"),
    )

    shown = disclose(result, [SECRET], 4096)

    assert shown.error == "HTTP 302: redirect to https://evil.example/?t=" + MASK \
        + " not followed"
    assert shown.headers == {"Location": f"https://evil.example/?t={MASK}", f"X-{MASK}": "1",
                             "X-Echo": MASK}
    assert shown.excerpt is not None and "gw_9f8e" not in shown.excerpt
    assert len(shown.excerpt.encode()) <= 4096 + len(MASK)


def test_an_answer_without_secrets_is_left_as_it_is_but_cut():
    result = HttpResult(500, 3, None, {"Server": "x"}, "é" * 3000)

    shown = disclose(result, (), 4096)

    assert (shown.error, shown.headers) == ("HTTP 500", {"Server": "x"})
    assert shown.excerpt == "é" * 2048


def test_a_long_error_text_is_cut_after_masking():
    location = "https://a.example/" + "p" * 2000 + quote(SECRET)
    result = HttpResult(301, 1, None, {"location": location}, "")

    shown = disclose(result, [SECRET], 4096)

    assert shown.error is not None and len(shown.error) <= 1000
    assert shown.error.startswith("HTTP 301: redirect to https://a.example/ppp")
