"""Client addresses: which peer to believe about ``X-Forwarded-For``, and CIDR lists.

A client can always write its own ``X-Forwarded-For``, so the header is believed only when
the connection comes from a proxy we know (a peer in ``AUTH_TRUSTED_PROXY_ADDRS``), and
then only for the hops those proxies appended (``AUTH_TRUSTED_PROXIES``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from service.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(cidrs: Iterable[str], *, name: str) -> tuple[Network, ...]:
    """CIDRs (a bare address is a /32 or /128) as networks; :class:`ConfigError` otherwise."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"{name}: {cidr!r} is not an address or CIDR") from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 peer on a dual-stack socket shows up as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def normalised(address: str) -> str:
    """``address`` in one spelling (``::ffff:a.b.c.d`` → ``a.b.c.d``); other text as is."""
    parsed = _address(address)
    return address if parsed is None else str(parsed)


def limit_key(address: str) -> str:
    """The bucket a per-address limit counts ``address`` in.

    IPv4 (IPv4-mapped IPv6 included) per address; IPv6 per /64, the usual allocation of
    one subscriber, who could otherwise rotate through 2**64 addresses to escape a limit.
    """
    parsed = _address(address)
    if parsed is None:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def in_networks(address: str, networks: Sequence[Network]) -> bool:
    """Whether ``address`` (text) lies in one of ``networks``; False when it is no address."""
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in networks)


def client_address(
    peer: str,
    forwarded_for: Sequence[str],
    trusted_proxies: int,
    trusted_networks: Sequence[Network] = (),
) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy.

    From a peer in ``trusted_networks`` with ``trusted_proxies`` = N hops, the client is
    the N-th ``X-Forwarded-For`` entry from the right (each trusted proxy appends the
    address it received the request from). Entries that are not IP addresses, or a chain
    shorter than promised, fall back to the peer. The result is :func:`normalised`.
    """
    peer = normalised(peer)
    if trusted_proxies <= 0 or not forwarded_for or not in_networks(peer, trusted_networks):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    hops = [hop for hop in hops if hop]
    if len(hops) < trusted_proxies:
        return peer
    candidate = _address(hops[-trusted_proxies])
    return peer if candidate is None else str(candidate)
