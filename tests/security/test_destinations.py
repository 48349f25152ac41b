"""The SSRF guard: hostile destinations are refused at creation and at delivery time."""

from __future__ import annotations

import pytest

from flask_clawhooks.destinations import DestinationPolicy, url_refusal
from flask_clawhooks.models import DeliveryStatus

HOSTILE = [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.1.2.3:8080/", "loopback"),
    ("http://2130706433/", "loopback"),            # decimal
    ("http://017700000001/", "loopback"),          # octal, one part
    ("http://0177.0.0.1/", "loopback"),            # octal
    ("http://0x7f.0.0.1/", "loopback"),            # hex
    ("http://0x7f000001/", "loopback"),            # hex, one part
    ("http://127.1/", "loopback"),                 # short form
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "127.0.0.1"),   # IPv4-mapped
    ("http://[::ffff:7f00:1]/", "127.0.0.1"),
    ("http://[::127.0.0.1]/", "127.0.0.1"),        # IPv4-compatible
    ("http://[64:ff9b::a00:1]/", "10.0.0.1"),      # NAT64
    ("http://[2002:a9fe:a9fe::]/", "169.254.169.254"),  # 6to4
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://[fd00::1]/", "private"),              # ULA
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://169.254.10.10/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://192.0.2.10/", "private"),             # documentation range
]


@pytest.mark.parametrize(("url", "why"), HOSTILE)
def test_literal_hostile_destinations_are_refused_when_created(url, why):
    reason = url_refusal(url, DestinationPolicy())
    assert reason is not None and why in reason


def test_public_addresses_and_names_pass_the_creation_check():
    policy = DestinationPolicy()
    for url in ["https://93.184.216.34/hook", "https://[2606:4700::1111]/", "https://example.com/x",
                "https://[::ffff:8.8.8.8]/"]:
        assert url_refusal(url, policy) is None, url


@pytest.mark.clawhooks_config(CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS=False)
def test_every_hostile_destination_is_refused_at_delivery_with_the_reason_logged(host):
    for url, _ in HOSTILE:
        host.add_webhook(url)
    host.add_webhook("http://localhost:9/hook")  # a name that resolves to loopback
    host.emit("message.received", {"n": 1})

    deliveries = host.work_until_settled()

    assert len(deliveries) == len(HOSTILE) + 1
    for delivery in deliveries:
        [attempt] = delivery.attempts
        assert delivery.status == DeliveryStatus.FAILED
        assert attempt.response_code is None
        assert attempt.error.startswith("destination refused: "), attempt.error
    errors = {d.attempts[0].error for d in deliveries}
    assert any("127.0.0.1 is a loopback address" in e or "::1 is a loopback" in e
               for e in errors)


@pytest.mark.clawhooks_config(CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS=False,
                              CLAWHOOKS_DESTINATION_ALLOWLIST=["127.0.0.2/32"])
def test_an_allowlisted_network_is_delivered_to_and_its_neighbour_is_not(host, receiver_factory):
    from tests.fixtures import Receiver

    allowed = Receiver(host="127.0.0.2")
    try:
        neighbour = receiver_factory()
        host.add_webhook(allowed.url)
        host.add_webhook(neighbour.url)
        host.emit("message.received", {"n": 1})
        deliveries = host.work_until_settled()
    finally:
        allowed.close()
    by_url = {host.webhook(d.webhook_id).url: d for d in deliveries}
    assert by_url[allowed.url].status == DeliveryStatus.SUCCESS
    assert len(allowed.requests) == 1
    assert by_url[neighbour.url].status == DeliveryStatus.FAILED
    assert neighbour.requests == []
