"""Where a webhook may go (server-side request forgery).

A tenant administrator chooses the URL, and the server sends to it: without
limits that is a way to reach the server's own network (a database port, a
cloud metadata address at 169.254.169.254, an admin panel on loopback). So:

- only ``https`` (``INVIGIL_WEBHOOK_ALLOW_HTTP`` opens plain ``http``), no user
  name or password in the URL, no fragment;
- the host must resolve to global addresses only: loopback, private,
  link-local, shared (CGNAT), multicast, reserved and unspecified addresses
  are refused, IPv4-mapped IPv6 judged as the IPv4 it carries
  (``INVIGIL_WEBHOOK_ALLOW_PRIVATE`` opens them, for a receiver on the same
  machine or network);
- checked when the URL is saved (a literal or resolving address that is not
  allowed is refused with the field named) and again at every send, where
  the request then goes to the very address that was checked (the URL's host
  kept for ``Host`` and TLS), so a name that resolves differently the second
  time (DNS rebinding) cannot slip past the check;
- redirects are never followed (the sender treats a 3xx as a failure).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from invigil.errors import Invalid
from invigil.settings import Settings

MAX_URL = 2000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """A send that must not happen (the reason is shown in the delivery log)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query

    def pinned_url(self, address: Address) -> str:
        shown = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{shown}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def parse(url: str, settings: Settings) -> Target:
    """The URL's parts, or ``Invalid`` naming the field ``url``."""
    url = url.strip()
    if not url or len(url) > MAX_URL:
        raise Invalid(f"give the receiver's URL (at most {MAX_URL} characters)", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Invalid("the URL is not valid", field="url") from None
    allowed = ("https", "http") if settings.webhook_allow_http else ("https",)
    if parts.scheme not in allowed:
        raise Invalid("the URL must start with https://", field="url")
    if parts.username is not None or parts.password is not None:
        raise Invalid("the URL must not carry a user name or password", field="url")
    if parts.fragment:
        raise Invalid("the URL must not have a #fragment", field="url")
    host = (parts.hostname or "").rstrip(".")
    if not host or any(c.isspace() for c in url):
        raise Invalid("the URL needs a host name", field="url")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path)


def forbidden(address: Address) -> bool:
    """True for every address that is not a global unicast one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_multicast or not address.is_global


def resolve(target: Target) -> list[Address]:
    try:
        found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"the host {target.host} could not be resolved ({exc})") from None
    addresses: list[Address] = []
    for _family, _type, _proto, _name, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise Refused(f"the host {target.host} has no address")
    return addresses


def checked(target: Target, settings: Settings) -> Address:
    """The address to connect to: every address of the host must be allowed."""
    addresses = resolve(target)
    if not settings.webhook_allow_private:
        for address in addresses:
            if forbidden(address):
                raise Refused(
                    f"the host {target.host} resolves to {address}, a loopback, private or "
                    "otherwise non-public address; webhooks go to public addresses only"
                )
    return addresses[0]


def check_on_save(url: str, settings: Settings) -> str:
    """Refuse a URL that is malformed or whose host resolves now to an address
    that is not allowed (a name that does not resolve yet is accepted: the
    send-time check decides then). Returns the URL as stored."""
    target = parse(url, settings)
    try:
        checked(target, settings)
    except Refused as exc:
        if "could not be resolved" not in str(exc) and "has no address" not in str(exc):
            raise Invalid(str(exc), field="url") from None
    return url.strip()
