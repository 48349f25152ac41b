"""The IP allowlist, and finding the client address behind trusted proxies.

ClawBook sends webhooks from 203.0.113.0/24 and 198.51.100.0/24; that is the default
allowlist. Any IPv4 or IPv6 networks can be given instead; IPv4-mapped IPv6 addresses
(``::ffff:203.0.113.7``, as dual-stack sockets report IPv4 peers) count as their IPv4 form.

The client address is the direct peer (``REMOTE_ADDR``). ``X-Forwarded-For`` is read only
when that peer is one of the configured *trusted proxies*: the list is then walked from the
right, skipping trusted proxies, and the first other address is the client. Entries left
of it were written by the client itself and are never believed. Without trusted proxies
the header is ignored entirely, so a client cannot pick its own address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from .errors import ConfigurationError, ForbiddenAddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The networks ClawBook sends webhooks from.
DEFAULT_ALLOWLIST: tuple[str, ...] = ("203.0.113.0/24", "198.51.100.0/24")

#: Pass as the allowlist to accept every address (the signature is still required).
ALLOW_ALL = "*"

NetworkSpec = str | IPNetwork | IPAddress
NetworksSpec = str | Iterable[NetworkSpec]


def parse_address(text: str | None) -> IPAddress | None:
    """Parse one address as found in ``REMOTE_ADDR`` or an ``X-Forwarded-For`` entry.

    Surrounding spaces, a ``:port`` suffix (``203.0.113.7:4711``, ``[2001:db8::1]:4711``)
    and an IPv6 zone (``%eth0``) are dropped; IPv4-mapped IPv6 becomes IPv4. Anything that
    is not an address (``unknown``, obfuscated identifiers, garbage) gives ``None``.
    """
    if not isinstance(text, str):
        return None
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end == -1 or (text[end + 1 :] and not text[end + 1 :].startswith(":")):
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _parse_network(item: NetworkSpec) -> IPNetwork:
    if isinstance(item, ipaddress.IPv4Network | ipaddress.IPv6Network):
        network: IPNetwork = item
    elif isinstance(item, ipaddress.IPv4Address | ipaddress.IPv6Address):
        network = ipaddress.ip_network(item)
    elif isinstance(item, str):
        try:
            network = ipaddress.ip_network(item.strip(), strict=True)
        except ValueError as exc:
            raise ConfigurationError(
                f"{item!r} is not an IP address or network in CIDR notation "
                f"(e.g. '203.0.113.0/24', '2001:db8::/32', '127.0.0.1'): {exc}"
            ) from None
    else:
        raise ConfigurationError(
            f"Networks must be CIDR strings or ipaddress objects, not {type(item).__name__}."
        )
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:  # ::ffff:a.b.c.d/n means the IPv4 network a.b.c.d/(n-96)
            network = ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}")
    return network


def parse_networks(spec: NetworksSpec) -> tuple[IPNetwork, ...]:
    """Parse networks given as an iterable or as one string separated by commas or spaces.

    The string form suits settings read from the environment:
    ``"203.0.113.0/24, 2001:db8::/32"``. A bare address is a network of one address.

    :raises ~receiver_kit.ConfigurationError: naming the entry that is not a network.
    """
    items: Iterable[NetworkSpec] = spec.replace(",", " ").split() if isinstance(spec, str) else spec
    return tuple(_parse_network(item) for item in items)


def _contains(networks: Sequence[IPNetwork], address: IPAddress) -> bool:
    return any(address in network for network in networks)


def client_address(
    remote_addr: str | None,
    forwarded_for: str | Iterable[str] | None = None,
    trusted_proxies: Sequence[IPNetwork] = (),
) -> IPAddress | None:
    """Return the address of the client that sent the request, or ``None`` if unknown.

    :param remote_addr: the direct peer, ``REMOTE_ADDR``.
    :param forwarded_for: the ``X-Forwarded-For`` header; several header lines may be given
        as an iterable, in the order received.
    :param trusted_proxies: the proxies whose ``X-Forwarded-For`` entries are believed.

    An unparsable entry reached while walking the header from the right gives ``None``:
    the client cannot be identified, and an allowlist then refuses the request.
    """
    peer = parse_address(remote_addr)
    if peer is None or not trusted_proxies or not _contains(trusted_proxies, peer):
        return peer
    if forwarded_for is None:
        return peer
    lines = [forwarded_for] if isinstance(forwarded_for, str) else list(forwarded_for)
    entries = [entry for line in lines for entry in line.split(",")]
    client = peer
    for entry in reversed(entries):
        if not entry.strip():
            continue
        address = parse_address(entry)
        if address is None:
            return None
        client = address
        if not _contains(trusted_proxies, address):
            return address
    return client  # every hop was a trusted proxy: the leftmost one is the client


class IPAllowlist:
    """The networks webhooks may come from, and the proxies trusted to say so.

    :param networks: CIDR strings or ``ipaddress`` objects (an iterable, or one string
        separated by commas or spaces); :data:`ALLOW_ALL` (``"*"``) accepts every address.
        An empty list is refused, since it would turn every request away.
    :param trusted_proxies: proxies in front of the app whose ``X-Forwarded-For`` entries
        are believed; empty (the default) means the header is ignored.
    """

    def __init__(
        self,
        networks: NetworksSpec = DEFAULT_ALLOWLIST,
        *,
        trusted_proxies: NetworksSpec = (),
    ) -> None:
        self.allow_all = isinstance(networks, str) and networks.strip() == ALLOW_ALL
        self.networks: tuple[IPNetwork, ...] = () if self.allow_all else parse_networks(networks)
        if not self.allow_all and not self.networks:
            raise ConfigurationError(
                "The webhook allowlist is empty, so every request would be refused; list "
                f"networks, or use {ALLOW_ALL!r} to accept any address."
            )
        self.trusted_proxies: tuple[IPNetwork, ...] = parse_networks(trusted_proxies)

    def __repr__(self) -> str:
        networks = ALLOW_ALL if self.allow_all else [str(n) for n in self.networks]
        proxies = [str(n) for n in self.trusted_proxies]
        return f"IPAllowlist({networks!r}, trusted_proxies={proxies!r})"

    def client_address(
        self, remote_addr: str | None, forwarded_for: str | Iterable[str] | None = None
    ) -> IPAddress | None:
        """The client address, see :func:`client_address`."""
        return client_address(remote_addr, forwarded_for, self.trusted_proxies)

    def allows(
        self, remote_addr: str | None, forwarded_for: str | Iterable[str] | None = None
    ) -> bool:
        """Tell whether a request from this peer (and forwarding header) is allowed."""
        if self.allow_all:
            return True
        address = self.client_address(remote_addr, forwarded_for)
        return address is not None and _contains(self.networks, address)

    def check(
        self, remote_addr: str | None, forwarded_for: str | Iterable[str] | None = None
    ) -> None:
        """Raise :class:`~receiver_kit.errors.ForbiddenAddress` unless :meth:`allows`."""
        if not self.allows(remote_addr, forwarded_for):
            raise ForbiddenAddress()
