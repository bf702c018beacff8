"""The event names webhooks can carry, registered by the domains that emit them.

Webhooks know no domain: a domain names each event it emits once, at import
time, with a line that tells an administrator what it means::

    from invigil.webhooks import events
    events.register("shortlist.completed", "A shortlist run finished ranking its candidates.")

Endpoints subscribe to registered names only, and :func:`invigil.webhooks.emit`
refuses an unregistered one, so a typo fails in the emitting code's tests
instead of silently sending nothing. ``webhook.ping`` belongs to webhooks
itself: the test event an administrator sends by hand to one endpoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")
MAX_NAME = 100
PING = "webhook.ping"


@dataclass(frozen=True)
class EventType:
    name: str
    description: str


_registry: dict[str, EventType] = {}


def register(name: str, description: str) -> None:
    """Declare an event name (``domain.what_happened``); registering the same
    name again with the same words is harmless, with other words an error."""
    if not NAME.match(name) or len(name) > MAX_NAME or name == PING:
        raise ValueError(f"not a usable event name: {name!r}")
    description = description.strip()
    if not description or len(description) > 200:
        raise ValueError(f"event {name}: describe it in one line (1-200 characters)")
    known = _registry.get(name)
    if known is not None and known.description != description:
        raise ValueError(f"event {name} is already registered with another description")
    _registry[name] = EventType(name, description)


def unregister(name: str) -> None:
    """For tests that register an event of their own."""
    _registry.pop(name, None)


def registered() -> list[EventType]:
    """The subscribable events, by name."""
    return sorted(_registry.values(), key=lambda e: e.name)


def is_registered(name: str) -> bool:
    return name in _registry
