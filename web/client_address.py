"""Who the client is, by address: the TCP peer, or what a trusted reverse proxy says.

``X-Forwarded-For`` is believed only when the direct peer is one of ``http.trusted_proxies``.
Then the header is read from the right (each proxy appends the address it got the request
from), skipping trusted proxies: the first address that is not one is the client. Anything
left of it was written by the client itself and may be forged. Used by the per-address rate
limits and the access log.

The dev sign-in links' check (``web.auth.peer_is_loopback``) deliberately does not use this:
any forwarding header there means "not this machine".
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from aiohttp import web

from web import keys

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


@lru_cache(maxsize=16)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ip_network(entry.strip(), strict=False) for entry in entries)


def _parse(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        return ip_address(text)
    except ValueError:
        return None


def _trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in networks)


def resolve_client(peer: str, forwarded_for: list[str], trusted: tuple[str, ...]) -> str:
    """The client address given the TCP ``peer``, every X-Forwarded-For header value in
    order, and the trusted proxies (see the module docstring)."""
    networks = _networks(trusted)
    current = _parse(peer)
    if current is None or not networks or not _trusted(current, networks):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            break  # garbage in the chain: believe no further than the last trusted hop
        current = address
        if not _trusted(address, networks):
            break
    return str(current)


def client_address(request: web.Request) -> str:
    """The client's address for this request ("" when aiohttp knows no peer)."""
    peer = request.remote or ""
    trusted = request.app[keys.SETTINGS].http.trusted_proxies
    if not trusted:
        return peer
    return resolve_client(peer, request.headers.getall("X-Forwarded-For", []), trusted)
