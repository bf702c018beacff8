"""Guest links: what the token is, what the database keeps, how it resolves.

A token is ``gl.<tenant id hex>.<256 random bits, base64url>``
(:func:`invigil.security.tokens.new_secret`). It names its tenant so that
the landing page can open a unit of work bound to that tenant (RLS) before
it knows anything else; naming a tenant grants nothing, the random part does.

The database finds a link only by ``HMAC-SHA256(key, token)``, where the key is the
file ``$INVIGIL_HOME/keys/guest-link.key`` (made on first use, shared by
every API process). A copy of the database, a backup or a log of SQL
statements therefore opens no exam; and because the lookup is an equality
on the keyed hash (a unique index), no comparison ever runs over the token
itself, so response time tells nothing about how close a guess was.

So that staff can send the *same* link again (a candidate lost the mail),
the token is also kept sealed (AES-256-GCM) under the candidate's data key
of the envelope hierarchy (master key -> tenant key -> candidate's key,
:mod:`invigil.evidence.keys`), bound to the link's row. The database alone
still opens nothing (the master key is not in it), and erasing the
candidate's data key erases the sealed copy's use with the rest of their
data: such a link can then only be replaced (rotated), never resent.

Resolving answers one of six states (:class:`LinkState`). Staff see all of
them (API, pages, audit). The candidate-facing page is designed so that a
person *guessing* tokens learns nothing:

- ``unknown`` (no such hash, a malformed token, a tenant that does not
  exist), ``revoked`` and ``replaced`` all get **one and the same page**:
  the same status (404), the same bytes, the same headers. It tells the
  candidate clearly what can have happened (mistyped, withdrawn, or
  replaced by a newer link that was sent to them) and what to do (use the
  newest email, or contact the organiser). A guesser therefore cannot tell
  a dead real token from a token that never existed.
- ``not_yet_open`` and ``expired`` get their own pages with the window.
  Only a holder of a real, live token can ever reach them (2^256 tokens),
  so they reveal nothing to a guesser; telling the rightful candidate
  "come back on Monday" or "this closed yesterday" is the point.
- ``valid`` shows the landing page.

Every state is computed with the same queries in the same order, so the
three neutral states also cost the same database work.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from cryptography.exceptions import InvalidTag
from sqlalchemy import select

from invigil.db.uow import UnitOfWork
from invigil.delivery.models import GuestLink, Invitation
from invigil.errors import Gone
from invigil.evidence import keys
from invigil.evidence.master import MasterKey, seal, unseal
from invigil.evidence.service import CANDIDATE
from invigil.security.keyfile import secret_file
from invigil.security.tokens import new_secret, split_secret

PREFIX = "gl"


class LinkState(StrEnum):
    VALID = "valid"
    NOT_YET_OPEN = "not_yet_open"
    EXPIRED = "expired"
    REVOKED = "revoked"
    REPLACED = "replaced"
    UNKNOWN = "unknown"


# What a candidate (or a guesser) may be told apart: these three look identical.
NEUTRAL = frozenset({LinkState.UNKNOWN, LinkState.REVOKED, LinkState.REPLACED})


class LinkKey:
    """The server's HMAC key for guest links (a file, made on first use)."""

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._key: bytes | None = None

    def _secret(self) -> bytes:
        if self._key is None:
            self._key = secret_file(self.key_file)
        return self._key

    def hash(self, token: str) -> bytes:
        return hmac.new(self._secret(), token.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Resolved:
    state: LinkState
    invitation: Invitation | None
    link: GuestLink | None

    @property
    def neutral(self) -> bool:
        return self.state in NEUTRAL


def issue(
    uow: UnitOfWork, key: LinkKey, invitation: Invitation, master: MasterKey | None = None
) -> tuple[GuestLink, str]:
    """A new live link for ``invitation``; the caller ends any older one first.
    With ``master``, the token is also kept sealed under the candidate's data
    key, so that the same link can be sent again (:func:`unseal`)."""
    token = new_secret(PREFIX, uow.tenant)
    link = GuestLink(tenant_id=uow.tenant, invitation_id=invitation.id, token_hash=key.hash(token))
    if master is not None:
        link.id = uuid.uuid4()
        data_key = keys.data_key_for(uow, master, CANDIDATE, str(invitation.candidate_id))
        link.sealed_key_id = data_key.id
        link.token_sealed = seal(data_key.secret, token.encode(), _sealed_context(link))
    uow.add(link)
    uow.flush()
    return link, token


def _sealed_context(link: GuestLink) -> bytes:
    return f"invigil/guest-link/{link.tenant_id}/{link.invitation_id}/{link.id}".encode()


class NotKept(Exception):
    """The link's token is not kept (issued before links were sealed, or the
    candidate's data key was erased): only a new link can be sent."""


def unseal_token(uow: UnitOfWork, key: LinkKey, master: MasterKey, link: GuestLink) -> str:
    """The live link's token, from its sealed copy; checked against the hash
    the link is found by."""
    if link.token_sealed is None or link.sealed_key_id is None:
        raise NotKept
    try:
        data_key = keys.open_data_key(uow, master, link.sealed_key_id)
        token = unseal(data_key.secret, link.token_sealed, _sealed_context(link)).decode()
    except (Gone, InvalidTag):
        raise NotKept from None
    if not hmac.compare_digest(key.hash(token), link.token_hash):
        raise NotKept
    return token


def staff_state(
    ended_at: datetime | None, ended_reason: str | None, expires_at: datetime,
    now: datetime | None = None,
) -> str:  # fmt: skip
    """live | expired | revoked | replaced: a single-purpose link's state as
    staff see it (result links, portal links), from its end and expiry."""
    if ended_at is not None:
        return ended_reason or "revoked"
    return "expired" if (now or datetime.now(UTC)) >= expires_at else "live"


def end(link: GuestLink, reason: str, at: datetime) -> None:
    assert reason in ("revoked", "replaced")
    link.ended_at = at
    link.ended_reason = reason


def live_link(uow: UnitOfWork, invitation_id: object) -> GuestLink | None:
    return uow.scalar(
        select(GuestLink).where(
            GuestLink.invitation_id == invitation_id, GuestLink.ended_at.is_(None)
        )
    )


def tenant_of(token: str) -> uuid.UUID | None:
    """The tenant a link names; None for anything that is no link (one far
    longer than a link is not even split)."""
    return split_secret(PREFIX, token) if len(token) <= 200 else None


def resolve(
    uow: UnitOfWork | None, key: LinkKey, token: str, now: datetime | None = None
) -> Resolved:
    """The state of ``token``. Reads only: resolving never writes anything.

    ``uow`` is bound to the tenant the token names (or ``None`` when the token
    names none); another tenant's link is simply not found under RLS.
    """
    now = now or datetime.now(UTC)
    hashed = key.hash(token)  # always computed: the same work for every answer
    if uow is None or uow.tenant_id is None:
        return Resolved(LinkState.UNKNOWN, None, None)
    row = uow.session.execute(
        select(GuestLink, Invitation)
        .join(Invitation, Invitation.id == GuestLink.invitation_id)
        .where(GuestLink.token_hash == hashed)
    ).one_or_none()
    if row is None:
        return Resolved(LinkState.UNKNOWN, None, None)
    link, invitation = row
    if link.ended_at is not None:
        reason = LinkState.REPLACED if link.ended_reason == "replaced" else LinkState.REVOKED
        return Resolved(reason, invitation, link)
    if invitation.status == "revoked":
        return Resolved(LinkState.REVOKED, invitation, link)
    if now < invitation.opens_at:
        return Resolved(LinkState.NOT_YET_OPEN, invitation, link)
    if now >= invitation.closes_at:
        return Resolved(LinkState.EXPIRED, invitation, link)
    return Resolved(LinkState.VALID, invitation, link)
