"""What the public verification page shows of a certificate, and how it
finds it at the same cost whatever the answer.

Minimal disclosure: the holder's name, the achievement (the program's name
and the version's description), the issuer (the tenant's name and logo),
the issue and expiry dates, and the current status — never the holder's
email, the results, scores or anything staff see. A holder erased at their
request (``candidates.erased_at``) has no name left: the page says so and
still gives the status (ADR 0064).

Equal cost: the verifier learns from the page whether a certificate is
valid, suspended, revoked, expired or unknown, and must learn nothing more
from how long the answer took. So every lookup makes the same two round
trips in the same order: the one reviewed cross-tenant lookup
(:func:`invigil.db.platform.certificate_tenant`, the tenant id only), then
one tenant-bound query (RLS) joining everything the page shows. For an id
no tenant has, that second query still runs, bound to :data:`NO_TENANT` (a
tenant id that never exists), and RLS lets it see nothing. A malformed id
takes the same path with the nil id (also never a certificate).

The page is hit by employers, auditors and anyone with a PDF; it must take
≥ 1,000 requests a second on one worker (docs/performance.md). So one
server process keeps what it read for an id for ``verify_cache_seconds``
(default 10, bounded in size, unknown ids too, so a hit and a miss cost the
same whatever the case): a revocation shows within that, well inside the
minute the issue asks for. Cache-Control stays ``no-store``: no browser or
proxy keeps a status that may change.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from invigil.db.engine import Database
from invigil.db.platform import certificate_tenant
from invigil.db.uow import Actor

# No tenant has these ids: a lookup bound to NO_TENANT sees no row (RLS), and
# no certificate has the nil id (ids are uuid4).
NO_TENANT = uuid.UUID("00000000-0000-4000-8000-000000000000")
NIL = uuid.UUID(int=0)
STATUSES = ("valid", "suspended", "revoked", "expired", "unknown")
MAX_ID = 64  # longer path segments are malformed without parsing them

ACTOR = Actor("anonymous", "verify-page")

_QUERY = text("""
    SELECT c.state, c.issued_at, c.expires_at, h.name AS holder,
           h.erased_at IS NOT NULL AS holder_erased, p.name AS program,
           coalesce(v.definition->>'description', '') AS description,
           t.id AS tenant_id, t.name AS issuer, b.accent, b.logo_sha256
    FROM certificates c
    JOIN cert_programs p ON p.tenant_id = c.tenant_id AND p.id = c.program_id
    JOIN cert_program_versions v ON v.tenant_id = c.tenant_id AND v.id = c.program_version_id
    JOIN candidates h ON h.tenant_id = c.tenant_id AND h.id = c.holder_id
    JOIN tenants t ON t.id = c.tenant_id
    LEFT JOIN tenant_branding b ON b.tenant_id = c.tenant_id
    WHERE c.tenant_id = :tenant AND c.id = :id
""")


@dataclass(frozen=True)
class Shown:
    """Everything the page may show (``status`` unknown: nothing else)."""

    status: str
    holder: str = ""
    holder_erased: bool = False
    program: str = ""
    description: str = ""
    issuer: str = ""
    tenant_id: uuid.UUID | None = None
    accent: str | None = None
    logo_sha256: str | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None

    @property
    def known(self) -> bool:
        return self.status != "unknown"


UNKNOWN = Shown("unknown")


def parse_id(raw: str) -> uuid.UUID | None:
    """A certificate id from the path, or None (malformed)."""
    if len(raw) > MAX_ID:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def status_of(state: str, expires_at: datetime | None, now: datetime) -> str:
    """The status a verifier sees: a live certificate past its expiry is
    expired even before the daily pass records it."""
    if state == "revoked":
        return "revoked"
    if state == "expired" or (expires_at is not None and expires_at <= now):
        return "expired"
    return "suspended" if state == "suspended" else "valid"


def lookup(db: Database, certificate_id: uuid.UUID | None, now: datetime) -> Shown:
    """The page's facts for an id (None: malformed), with the same two
    round trips in the same order for every case (see the module docstring)."""
    wanted = certificate_id or NIL
    tenant_id = certificate_tenant(db, wanted) or NO_TENANT
    with db.unit_of_work(tenant_id, ACTOR) as uow:
        row = uow.session.execute(_QUERY, {"tenant": tenant_id, "id": wanted}).first()
    if row is None:
        return UNKNOWN
    return Shown(
        status=status_of(row.state, row.expires_at, now),
        holder="" if row.holder_erased else row.holder,
        holder_erased=bool(row.holder_erased),
        program=row.program,
        description=row.description,
        issuer=row.issuer,
        tenant_id=row.tenant_id,
        accent=row.accent,
        logo_sha256=row.logo_sha256,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
    )


class Recent:
    """What one process read for an id, kept ``seconds`` (at most ``size`` ids,
    the oldest forgotten first). The status is computed again on each use,
    so an expiry passing while an entry is kept shows at once."""

    def __init__(
        self, seconds: float, size: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.size = size
        self.clock = clock
        self._kept: OrderedDict[uuid.UUID | None, tuple[float, Shown, str]] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, certificate_id: uuid.UUID | None, now: datetime) -> Shown | None:
        """What is kept for the id, if still fresh (no database: the server
        answers it without leaving its event loop)."""
        if self.seconds <= 0:
            return None
        at = self.clock()
        with self._lock:
            kept = self._kept.get(certificate_id)
        if kept is None or at - kept[0] >= self.seconds:
            return None
        shown, state = kept[1], kept[2]
        if not shown.known or shown.status == "revoked":
            return shown
        return _restated(shown, state, now)

    def get(self, db: Database, certificate_id: uuid.UUID | None, now: datetime) -> Shown:
        kept = self.peek(certificate_id, now)
        if kept is not None:
            return kept
        at = self.clock()
        shown = lookup(db, certificate_id, now)
        if self.seconds <= 0:
            return shown
        state = _state_of(shown)
        with self._lock:
            self._kept[certificate_id] = (at, shown, state)
            self._kept.move_to_end(certificate_id)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return shown


def _state_of(shown: Shown) -> str:
    # What the row said, as far as the status needs it again later.
    return {"valid": "issued"}.get(shown.status, shown.status)


def _restated(shown: Shown, state: str, now: datetime) -> Shown:
    status = status_of(state, shown.expires_at, now)
    if status == shown.status:
        return shown
    return Shown(**{**shown.__dict__, "status": status})
