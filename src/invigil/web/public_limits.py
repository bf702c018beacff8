"""Rate limiting of the public routes (no sign-in): per client address.

The certificate verification page, the credentials, the issuer profiles
and the status lists answer anyone; what stops one client from walking
certificate ids or scraping them is a limit per client address. Routes
declare it with :data:`PublicLimited`, which also declares the route public
(``invigil.web.access``: every route names exactly one permission, and this
is the public one).

The algorithm is GCRA (the "generic cell rate algorithm", a token bucket
that keeps one number per client): a client may send ``burst`` requests at
once, then one every ``60 / rate_per_minute`` seconds. Over it, the answer
is 429 with ``Retry-After`` (whole seconds): problem+json for programs, the
error page for a browser (the app's handler of ``HTTPException`` decides by
``Accept``).

Memory is bounded: at most ``clients`` addresses are remembered, the least
recently seen forgotten first (one float and a key each, a few MB at the
default 100,000). An attacker with more addresses than that can make the
limiter forget others, which only loosens it for them; they are still
limited one by one. IPv6 clients are counted per /64 (one subscriber's
network), since anyone holding one can use billions of its addresses.

The client address is the one the app uses everywhere
(``request.client.host``): behind a reverse proxy, uvicorn turns
``X-Forwarded-For`` into it only for proxies it trusts
(``--forwarded-allow-ips``, docs/operations.md), so a client cannot choose
its own bucket by sending the header. Why not the ``limits`` library: its
in-memory storage keeps a key per address until it expires, with no bound on
how many, which is what an address-rotating client exploits.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fastapi import Depends, HTTPException, Request

from invigil.i18n import N_
from invigil.web.access import PUBLIC

TOO_MANY = N_("Too many requests from your address. Wait a moment, then try again.")


class RateLimiter:
    """GCRA per key, at most ``clients`` keys (least recently seen evicted)."""

    def __init__(
        self,
        rate_per_minute: int,
        burst: int,
        clients: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_minute < 1 or burst < 1 or clients < 1:
            raise ValueError("rate, burst and clients must be at least 1")
        self.interval = 60.0 / rate_per_minute
        self.tolerance = self.interval * burst
        self.clients = clients
        self.clock = clock
        self._tat: OrderedDict[str, float] = OrderedDict()  # key -> theoretical arrival time
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._tat)

    def waiting(self, key: str) -> float:
        """What :meth:`hit` would answer now, without counting a request:
        for limiters that count only failures but refuse every request of
        a key over its limit (the operator API)."""
        now = self.clock()
        with self._lock:
            tat = max(self._tat.get(key, now), now)
            return max(0.0, tat + self.interval - now - self.tolerance)

    def hit(self, key: str) -> float:
        """Count one request of ``key``: 0 if allowed, else the seconds to wait."""
        now = self.clock()
        with self._lock:
            tat = max(self._tat.get(key, now), now)
            after = tat + self.interval
            if after - now > self.tolerance:
                self._tat.move_to_end(key)
                return after - now - self.tolerance
            self._tat[key] = after
            self._tat.move_to_end(key)
            while len(self._tat) > self.clients:
                self._tat.popitem(last=False)
            return 0.0


def client_key(host: str | None) -> str:
    """The bucket of a client address: the address itself, an IPv6 address's /64."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


_made = threading.Lock()


def limiter_of(app: Any) -> RateLimiter:
    """The app's limiter (one per server process), made from its settings on first use."""
    found: RateLimiter | None = getattr(app.state, "public_limiter", None)
    if found is None:
        with _made:
            found = getattr(app.state, "public_limiter", None)
            if found is None:
                s = app.state.settings
                found = RateLimiter(
                    s.public_rate_per_minute, s.public_rate_burst, s.public_rate_clients
                )
                app.state.public_limiter = found
    return found


async def _public_limited(request: Request) -> None:
    """A public route, limited per client address (see the module docstring)."""
    wait = limiter_of(request.app).hit(client_key(request.client.host if request.client else None))
    if wait > 0:
        raise HTTPException(429, TOO_MANY, headers={"Retry-After": str(max(1, math.ceil(wait)))})


_public_limited.__permission__ = PUBLIC  # type: ignore[attr-defined]
_public_limited.__answers__ = (429,)  # type: ignore[attr-defined]  # web/contract.py

PublicLimited: Any = Depends(_public_limited)
