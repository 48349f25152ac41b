"""Which addresses a webhook may be delivered to (the SSRF guard's policy).

Webhook URLs are chosen by strangers, so by default a delivery may not reach loopback,
private (RFC 1918, ULA), link-local (169.254.0.0/16 with the cloud metadata address,
fe80::/10), carrier-grade NAT, multicast, reserved, unspecified or documentation
addresses, nor IPv4 ones spelt inside IPv6 (mapped, compatible, NAT64, 6to4, Teredo).
The check runs on the address actually connected to (see
:mod:`flask_clawhooks.transport`), so a name that resolves to 127.0.0.1, or that is
re-pointed between a check and the connection (DNS rebinding), is refused too. Literal
addresses are also refused when a webhook is created, whatever their spelling
(``2130706433``, ``0177.0.0.1``, ``0x7f.1``).

Operators who deliver inside their own network set
``CLAWHOOKS_ALLOW_PRIVATE_DESTINATIONS = True`` (everything is allowed) or list the
networks they trust in ``CLAWHOOKS_DESTINATION_ALLOWLIST``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_BENCHMARK = ipaddress.ip_network("198.18.0.0/15")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = ipaddress.ip_address("169.254.169.254")


class DestinationRefused(Exception):
    """A webhook destination is an address deliveries may not reach."""


@dataclass(frozen=True)
class DestinationPolicy:
    allow_private: bool = False
    allowlist: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def from_settings(cls, allow_private: bool, allowlist: Iterable[str]) -> DestinationPolicy:
        return cls(allow_private, tuple(ipaddress.ip_network(n, strict=False) for n in allowlist))

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be reached, or None if it may."""
        if self.allow_private or any(address in net for net in self.allowlist):
            return None
        return forbidden_reason(address)

    def check(self, address: str) -> None:
        reason = self.refusal(ipaddress.ip_address(address.split("%", 1)[0]))
        if reason:
            raise DestinationRefused(f"destination refused: {address} is {reason}")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address))
    return None


def forbidden_reason(address: IPAddress) -> str | None:
    """What kind of non-public address ``address`` is, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            reason = forbidden_reason(inner)
            return f"an IPv6 form of {inner}, {reason}" if reason else None
    if address == _METADATA:
        return "the cloud metadata address"
    checks = [
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT,
         "a carrier-grade NAT address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _BENCHMARK,
         "a benchmarking address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    ]
    return next((reason for hit, reason in checks if hit), None)


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any form ``inet_aton`` accepts, or None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    numeric = all(c in "0123456789abcdefxABCDEFX." for c in host)
    if host and numeric and any(c.isdigit() for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def url_refusal(url: str, policy: DestinationPolicy) -> str | None:
    """At creation time: why a URL whose host is a literal address is refused, or None.

    Names are checked at delivery time, on the address they resolve to then.
    """
    host = urlsplit(url).hostname or ""
    address = literal_address(host)
    if address is None:
        return None
    reason = policy.refusal(address)
    return f"{host} is {reason}" if reason else None
