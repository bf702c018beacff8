"""Who builds an evidence bundle of each kind, and who may ask for one.

A bundle is built by a *builder* that the domain owning the subject
registers at import (an attempt's by results, a shortlist run's by
shortlists), so that the platform code that queues, streams, stores and
serves bundles (:mod:`invigil.audit.bundle_requests`) imports no domain::

    Builder = Callable[[UnitOfWork, BundleSubject, Sink, Progress], None]

``builder(uow, subject, sink, progress)`` writes the whole ZIP to ``sink``
(a binary, write-only, *unseekable* file object: ``zipfile.ZipFile(sink,
"w")`` works and streams with data descriptors) in the unit of work's
read-only transaction, and calls ``progress(done, total)`` as it goes
(units of its choice, members or bytes; ``total`` may be None while
unknown). It must never hold the bundle in memory: the sink streams to the
store through a bounded pipe. With ``subject.with_evidence`` it writes the
decrypted evidence (``subject.evidence`` opens objects); without, only
their hashes.

A *finder* ``finder(uow, subject_id) -> label`` says whether the caller's
unit of work may see the subject: it returns a short label for pages, or
raises NotFound exactly as for a missing id (another tenant's, or one the
caller's role does not reach). A kind needs both to be requested.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid, NotFound

if TYPE_CHECKING:
    from invigil.evidence.service import Evidence

# The kinds the API accepts (CONTRACT: ``bundle build --attempt|--shortlist|--certificate``).
KINDS = ("attempt", "shortlist", "certificate")


class Sink(Protocol):
    """The write end of the bundle: bytes in order, no seeking."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class Progress(Protocol):
    def __call__(self, done: int, total: int | None = None) -> None: ...


@dataclass(frozen=True)
class BundleSubject:
    kind: str
    id: uuid.UUID
    with_evidence: bool  # decrypted evidence in the bundle; False: hashes only
    evidence: Evidence
    services: Any = None  # the application's services (keys, stores), for format builders


Builder = Callable[[UnitOfWork, BundleSubject, Sink, Progress], None]
Finder = Callable[[UnitOfWork, uuid.UUID], str]

_builders: dict[str, Builder] = {}
_finders: dict[str, Finder] = {}


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", field="kind")
    return kind


def register(kind: str, builder: Builder) -> None:
    """The builder of ``kind`` (the last registration wins: tests replace one)."""
    _builders[_check_kind(kind)] = builder


def register_subject(kind: str, finder: Finder) -> None:
    _finders[_check_kind(kind)] = finder


def builder_for(kind: str) -> Builder:
    """The kind's job builder: one registered here, else the domain's format
    builder (:mod:`invigil.audit.bundle`) followed by the audit part
    (:func:`invigil.audit.bundle_proofs.build`), reporting each member written."""
    found = _builders.get(_check_kind(kind))
    if found is not None:
        return found
    from invigil.audit import bundle

    if kind not in bundle.kinds():
        raise Invalid(f"bundles of kind {kind!r} cannot be built on this server", field="kind")
    return _formatted(kind)


def _formatted(kind: str) -> Builder:
    def build(uow: UnitOfWork, subject: BundleSubject, sink: Sink, progress: Progress) -> None:
        from invigil.audit import bundle, bundle_proofs

        writer = bundle.BundleWriter(
            sink,  # type: ignore[arg-type]  # write-only: the writer never reads or seeks
            kind,
            {"type": kind, "id": str(subject.id)},
            str(uow.tenant),
            progress=lambda _member: progress(len(writer.members)),
        )
        options = bundle.Options(show_evidence=subject.with_evidence, services=subject.services)
        bundle_proofs.build(
            uow,
            subject.services.keys.audit,
            kind,
            subject.id,
            sink,  # type: ignore[arg-type]  # write-only: the writer never reads or seeks
            options,
            writer=writer,
        )

    return build


def buildable(kind: str) -> bool:
    from invigil.audit import bundle

    return kind in _builders or kind in bundle.kinds()


def find_subject(uow: UnitOfWork, kind: str, subject_id: uuid.UUID) -> str:
    """The subject's label, or NotFound when the caller may not see it."""
    finder = _finders.get(_check_kind(kind))
    if finder is None:
        raise NotFound(f"{kind} {subject_id} was not found")
    return finder(uow, subject_id)


def unregister(kind: str) -> None:
    """Forget a kind's builder (tests put back what they replaced)."""
    _builders.pop(kind, None)


def registered() -> tuple[dict[str, Builder], dict[str, Finder]]:
    """Copies of both tables (tests save and restore them)."""
    return dict(_builders), dict(_finders)


def restore(saved: tuple[dict[str, Builder], dict[str, Finder]]) -> None:
    _builders.clear()
    _builders.update(saved[0])
    _finders.clear()
    _finders.update(saved[1])
