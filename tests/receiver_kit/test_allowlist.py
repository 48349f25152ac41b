"""The IP allowlist and the client address behind trusted proxies."""

from __future__ import annotations

import ipaddress
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver_kit import ALLOW_ALL, ConfigurationError, ForbiddenAddress, IPAllowlist
from receiver_kit.allowlist import client_address, parse_address, parse_networks


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("203.0.113.0", True),
        ("203.0.113.255", True),
        ("198.51.100.42", True),
        ("::ffff:203.0.113.7", True),
        ("::ffff:cb00:7107", True),  # the same address, written in hex
        ("203.0.114.1", False),
        ("198.51.101.1", False),
        ("127.0.0.1", False),
        ("::1", False),
        ("2001:db8::1", False),
        ("", False),
        (None, False),
        ("not-an-address", False),
    ],
)
def test_default_allowlist_is_the_seed_networks(address: str | None, allowed: bool) -> None:
    assert IPAllowlist().allows(address) is allowed


def test_any_cidrs_ipv4_and_ipv6() -> None:
    allowlist = IPAllowlist(["127.0.0.1/32", "2001:db8::/32", ipaddress.ip_network("10.0.0.0/8")])
    assert allowlist.allows("127.0.0.1")
    assert not allowlist.allows("127.0.0.2")
    assert allowlist.allows("2001:db8:ffff::1")
    assert allowlist.allows("[2001:db8::1]:4711")
    assert not allowlist.allows("2001:db9::1")
    assert allowlist.allows("10.20.30.40")
    assert allowlist.allows("::ffff:127.0.0.1")


def test_ipv4_mapped_network_in_the_list_matches_plain_ipv4() -> None:
    allowlist = IPAllowlist("::ffff:192.0.2.0/120")
    assert allowlist.allows("192.0.2.9")
    assert allowlist.allows("::ffff:192.0.2.9")
    assert not allowlist.allows("192.0.3.9")


def test_string_setting_is_split_on_commas_and_spaces() -> None:
    assert parse_networks("203.0.113.0/24, 2001:db8::/32  127.0.0.1") == (
        ipaddress.ip_network("203.0.113.0/24"),
        ipaddress.ip_network("2001:db8::/32"),
        ipaddress.ip_network("127.0.0.1/32"),
    )


def test_allow_all_accepts_any_address_even_unknown() -> None:
    allowlist = IPAllowlist(ALLOW_ALL)
    assert allowlist.allows("192.0.2.1")
    assert allowlist.allows(None)


@pytest.mark.parametrize("bad", ["203.0.113.5/24", "example.com", "300.0.0.1", "10.0.0.0/33"])
def test_bad_network_is_a_configuration_error_naming_it(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="CIDR"):
        IPAllowlist([bad])


@pytest.mark.parametrize("empty", [[], "", " , "])
def test_empty_allowlist_is_refused_rather_than_blocking_everything(empty: object) -> None:
    with pytest.raises(ConfigurationError, match="'\\*'"):
        IPAllowlist(empty)  # type: ignore[arg-type]


def test_check_raises_forbidden_address_with_json_body() -> None:
    with pytest.raises(ForbiddenAddress) as info:
        IPAllowlist().check("192.0.2.1")
    answer = info.value.answer
    assert (answer.status, answer.content_type) == (403, "application/json")
    assert json.loads(answer.body)["error"]["code"] == "forbidden_address"


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    assert client_address("192.0.2.1", "203.0.113.7") == ipaddress.ip_address("192.0.2.1")
    assert not IPAllowlist().allows("192.0.2.1", "203.0.113.7")
    # Even with proxies configured, a peer that is not one of them is not believed.
    allowlist = IPAllowlist(trusted_proxies=["10.0.0.0/8"])
    assert not allowlist.allows("192.0.2.1", "203.0.113.7")


def test_x_forwarded_for_from_a_trusted_proxy_is_walked_from_the_right() -> None:
    proxies = parse_networks(["10.0.0.0/8", "172.16.0.1"])
    # client, then the outer proxy 172.16.0.1; the inner proxy 10.0.0.2 is the peer
    assert client_address("10.0.0.2", "203.0.113.7, 172.16.0.1", proxies) == (
        ipaddress.ip_address("203.0.113.7")
    )
    # a client-supplied entry on the left is never believed
    assert client_address("10.0.0.2", "203.0.113.7, 192.0.2.66, 172.16.0.1", proxies) == (
        ipaddress.ip_address("192.0.2.66")
    )
    # several header lines count in order; ports and IPv4-mapped forms are normalised
    assert client_address("10.0.0.2", ["192.0.2.66", "[::ffff:203.0.113.7]:443"], proxies) == (
        ipaddress.ip_address("203.0.113.7")
    )
    # a trusted proxy that sent no header: the proxy itself is the client
    assert client_address("10.0.0.2", None, proxies) == ipaddress.ip_address("10.0.0.2")
    # only proxies in the chain: the leftmost is the client
    assert client_address("10.0.0.2", "10.9.9.9, 172.16.0.1", proxies) == (
        ipaddress.ip_address("10.9.9.9")
    )


def test_unparsable_forwarded_entry_from_the_right_means_unknown_client() -> None:
    allowlist = IPAllowlist(trusted_proxies=["10.0.0.0/8"])
    assert allowlist.client_address("10.0.0.2", "203.0.113.7, unknown") is None
    assert not allowlist.allows("10.0.0.2", "203.0.113.7, unknown")
    assert allowlist.allows("10.0.0.2", "unknown, 203.0.113.7")


def test_parse_address_forms() -> None:
    assert parse_address(" 203.0.113.7:8080 ") == ipaddress.ip_address("203.0.113.7")
    assert parse_address("[2001:db8::1]") == ipaddress.ip_address("2001:db8::1")
    assert parse_address("fe80::1%eth0") == ipaddress.ip_address("fe80::1")
    assert parse_address("[2001:db8::1]x") is None
    assert parse_address("_hidden") is None


@given(remote=st.one_of(st.none(), st.text(max_size=60)),
       forwarded=st.one_of(st.none(), st.text(max_size=120), st.lists(st.text(max_size=40))))
def test_arbitrary_addresses_and_headers_never_raise(remote: str | None,
                                                     forwarded: str | list[str] | None) -> None:
    allowlist = IPAllowlist(trusted_proxies=["0.0.0.0/0", "::/0"])
    assert allowlist.allows(remote, forwarded) in (True, False)
    assert parse_address(remote) is None or isinstance(
        parse_address(remote), ipaddress.IPv4Address | ipaddress.IPv6Address
    )
