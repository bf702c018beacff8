"""The tenant's W3C Bitstring Status Lists (docs/formats/status-list.md).

Each certificate has a ``status_index`` (taken in order when it is issued);
it sits at bit ``status_index % SIZE`` of list number ``status_index //
SIZE``. Two purposes: ``revocation`` (the bit is set once the certificate is
revoked, and stays set: revocation is final) and ``suspension`` (set while it
is suspended, cleared again when it is reinstated). Each list is published
as a ``BitstringStatusListCredential``, signed like the credentials, at the
stable URL ``/status/{tenant}/{purpose}/{list}``.

Nothing is stored: a list is computed from the certificates' current states.
The signed list is kept in memory for at most ``TTL`` (30 s) per tenant,
purpose and list, so a revocation is visible within a minute (30 s here plus
at most 30 s of a client's cache, ``Cache-Control: max-age=30``), and a
verifier hammering the URL costs one query per 30 s.
"""

from __future__ import annotations

import base64
import gzip
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select

from invigil.certification.models import Certificate
from invigil.db.uow import UnitOfWork
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings

Purpose = Literal["revocation", "suspension"]
PURPOSES: tuple[Purpose, ...] = ("revocation", "suspension")
# The spec's minimum (16 KB): a list this long hides which of its entries a
# verifier asks about among at least 131,072 others.
SIZE = 131_072
TTL = timedelta(seconds=30)
# The state whose certificates have their bit set, per purpose.
SET_WHEN: dict[str, str] = {"revocation": "revoked", "suspension": "suspended"}


def list_url(settings: Settings, tenant_id: uuid.UUID, purpose: str, number: int) -> str:
    return f"{settings.issuer.rstrip('/')}/status/{tenant_id}/{purpose}/{number}"


def place(status_index: int) -> tuple[int, int]:
    """(list number, index within the list) of a certificate's status index."""
    return divmod(status_index, SIZE)


def entry(
    settings: Settings, tenant_id: uuid.UUID, purpose: str, status_index: int
) -> dict[str, str]:
    """A ``BitstringStatusListEntry`` for a credential's ``credentialStatus``."""
    number, index = place(status_index)
    url = list_url(settings, tenant_id, purpose, number)
    return {
        "id": f"{url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": url,
    }


def bits(indexes: list[int]) -> bytes:
    """The bitstring: index 0 is the left-most (most significant) bit of the
    first byte, as the spec orders it."""
    out = bytearray(SIZE // 8)
    for index in indexes:
        out[index // 8] |= 0x80 >> (index % 8)
    return bytes(out)


def encode(bitstring: bytes) -> str:
    """``encodedList``: GZIP, then base64url without padding, as a multibase
    value (the ``u`` prefix). ``mtime=0`` keeps the bytes the same for the
    same bits."""
    packed = gzip.compress(bitstring, mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


def exists(uow: UnitOfWork, number: int) -> bool:
    """A list exists once the tenant has a certificate that falls in it."""
    top = uow.session.scalar(select(func.max(Certificate.status_index)))
    return top is not None and 0 <= number <= top // SIZE


def flagged(uow: UnitOfWork, purpose: str, number: int) -> list[int]:
    """Indexes within list ``number`` whose certificates are in the state the
    purpose flags, now."""
    low = number * SIZE
    rows = uow.session.scalars(
        select(Certificate.status_index).where(
            Certificate.status_index >= low,
            Certificate.status_index < low + SIZE,
            Certificate.state == SET_WHEN[purpose],
        )
    )
    return [index - low for index in rows]


def list_credential(
    uow: UnitOfWork, settings: Settings, purpose: str, number: int, *, now: datetime
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` as it stands ``now``."""
    from invigil.certification.credentials import VC_CONTEXT, issuer_id, timestamp

    url = list_url(settings, uow.tenant, purpose, number)
    return {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id(settings, uow.tenant),
        "validFrom": timestamp(now),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encode(bits(flagged(uow, purpose, number))),
        },
    }


def signed_list(
    uow: UnitOfWork, box: SecretBox, settings: Settings, purpose: str, number: int, *, now: datetime
) -> str:
    from invigil.certification.credentials import sign

    document = list_credential(uow, settings, purpose, number, now=now)
    return sign(uow, box, settings, document, now=now)


@dataclass(frozen=True)
class Cached:
    token: str
    made_at: datetime

    def age(self, now: datetime) -> timedelta:
        return now - self.made_at


class ListCache:
    """Signed lists by (issuer base, tenant, purpose, list), kept ``TTL``.
    Per process; each worker computes its own at most every 30 s."""

    def __init__(self, ttl: timedelta = TTL) -> None:
        self.ttl = ttl
        self._lists: dict[tuple[str, uuid.UUID, str, int], Cached] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, uuid.UUID, str, int], now: datetime) -> Cached | None:
        with self._lock:
            found = self._lists.get(key)
        if found is None or not (timedelta(0) <= found.age(now) < self.ttl):
            return None
        return found

    def put(self, key: tuple[str, uuid.UUID, str, int], token: str, now: datetime) -> Cached:
        made = Cached(token, now)
        with self._lock:
            # Drop what has gone stale so the map never outgrows the live lists.
            for stale in [k for k, v in self._lists.items() if v.age(now) >= self.ttl]:
                del self._lists[stale]
            self._lists[key] = made
        return made

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()


CACHE = ListCache()
