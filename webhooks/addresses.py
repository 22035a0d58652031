"""Where a webhook may be sent: http(s) URLs whose host resolves to public addresses only.

Checked when an endpoint is registered and again before every attempt, against the addresses the
name resolves to at that moment; the attempt then connects to the very address that was checked,
so a name that changes its answer in between (DNS rebinding) cannot redirect the request.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2000
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):  # noqa: N818  # an answer about a URL, not a program error
    """The URL may not be called; `str()` says why, in words for the endpoint's owner."""


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts and the addresses to connect to, in the resolver's order."""

    url: SplitResult
    host: str  # the name as sent in Host and SNI (IDNA-encoded)
    port: int
    addresses: tuple[IpAddress, ...]


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook URL, judged on its text alone; None when it can."""
    if len(url) > MAX_URL_LENGTH:
        return f"URL must be at most {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "Invalid URL"
    if parts.scheme not in ("http", "https"):
        return "URL must use http or https"
    if not parts.hostname or any(ch.isspace() for ch in url):
        return "Invalid URL"
    if parts.username is not None or parts.password is not None:
        return "URL must not contain credentials"
    if port == 0:
        return "Invalid URL"
    try:
        parts.hostname.encode("idna")
    except UnicodeError:
        return "Invalid URL"
    return None


def is_public(address: IpAddress) -> bool:
    """Globally routable unicast: not private, loopback, link-local, shared, reserved…"""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve_target(url: str) -> Target:
    """Resolve the URL's host now and pick the address to connect to.

    Every address the name resolves to must be public unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
    one private answer among public ones is enough to refuse, since a later lookup might pick it.
    Raises AddressRefused.
    """
    problem = url_problem(url)
    if problem is not None:
        raise AddressRefused(problem)
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    host = hostname.encode("idna").decode("ascii")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise AddressRefused(f"Host {hostname} could not be resolved") from None
    addresses: list[IpAddress] = []
    for _family, _type, _proto, _name, sockaddr in found:
        # An IPv6 sockaddr may carry a zone (%eth0); the address is what we judge.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise AddressRefused(f"Host {hostname} could not be resolved")
    if not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise AddressRefused(
                f"URL resolves to {refused[0]}, a private, loopback or link-local address"
            )
    return Target(url=parts, host=host, port=port, addresses=tuple(addresses))
