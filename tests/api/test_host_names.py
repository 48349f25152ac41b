"""Webhook URLs must name a valid host: IDNA labels included (``http://xn--/`` is not)."""

from __future__ import annotations

import pytest

from flask_clawhooks.api.validation import host_problem

EVENTS = ["message.received"]


@pytest.mark.parametrize(("url", "fragment"), [
    ("http://xn--/", "not valid Punycode"),
    ("https://xn--a.example/hook", "not valid Punycode"),
    ("https://xn--zz-.example/hook", "not valid Punycode"),
    ("https://xn--ls8h.la/hook", "not valid Punycode"),  # U+1F4A9, not IDNA 2008
    ("https://a..example/hook", "empty"),
    ("https://-lead.example/hook", "not start or end with '-'"),
    ("https://trail-.example/hook", "not start or end with '-'"),
    ("https://bad!name.example/hook", "letters, digits"),
    (f"https://{'a' * 64}.example/hook", "longer than 63"),
    (f"https://{'.'.join(['a' * 60] * 5)}/hook", "longer than 253"),
    ("https://256.1.1.1/hook", "IPv4"),
    ("https://1.2.3.4.5/hook", "IPv4"),
    ("https://bü\u200dcher.example/hook", "internationalized"),  # a joiner, not allowed
])
def test_an_invalid_host_name_is_422_with_what_is_wrong(acme, url, fragment):
    response = acme.post("/webhooks", json={"url": url, "events": EVENTS})
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.json["error"]
    assert error["code"] == "validation_error"
    assert error["message"].startswith("url: has a host name that is not valid")
    assert fragment in error["message"], error["message"]


@pytest.mark.parametrize("url", [
    "https://your-server.com/webhook",
    "https://your-server.com./webhook",           # a fully qualified name
    "https://bücher.example/hook",                 # IDNA, as typed
    "https://xn--bcher-kva.example/hook",          # the same, as Punycode
    "https://例え.テスト/hook",
    "https://my_service.internal.example/hook",    # DNS names may hold '_'
    "https://ab--cd.example/hook",
    "https://123.example/hook",
    "https://[2001:db8::1]/hook",                  # addresses: the SSRF guard's (off here)
])
def test_valid_host_names_are_accepted(acme, url):
    response = acme.post("/webhooks", json={"url": url, "events": EVENTS})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["url"] == url


def test_the_cli_refuses_an_invalid_host_name_too(host):
    result = host.app.test_cli_runner().invoke(args=[
        "clawhooks", "webhooks", "create", "--owner", "acme", "--url", "http://xn--/",
        "--event", "message.received"])
    assert result.exit_code == 2
    assert "not valid Punycode" in result.output


def test_host_problem_leaves_addresses_to_the_ssrf_guard():
    assert host_problem("127.0.0.1") is None
    assert host_problem("::1") is None
    assert host_problem("0x7f.1") is None
