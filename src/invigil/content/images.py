"""Image attachments of questions (migration 0007), kept in PostgreSQL until
the evidence store can hold them.

How versions see images
-----------------------
An image belongs to a question and is immutable (the app role holds only
INSERT and SELECT on ``question_images``). Attaching one writes a new
question version (an exact copy of the current content) and records that
version's number on the image as ``question_version``. Version *n* of a
question shows exactly the images whose ``question_version <= n``.

Published exams pin question *version ids* (``freeze.py``), so an exam
version keeps showing the images its questions had when it was published:
a later attachment creates version *n+1*, which only an exam published
again picks up. Editing a question (``questions.update_question``) also
writes *n+1*, which keeps showing every earlier image. Removing an image
from later versions is not supported yet; it would need a record of the
version that stops showing it (images themselves never change).

The content type is sniffed from the bytes (PNG, JPEG, GIF, WebP); the
name and the type a client declares are never trusted. SVG is refused: it
can carry script.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    select,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, undefer

from invigil import audit
from invigil.content.models import Question, QuestionVersion
from invigil.content.questions import current, require_question
from invigil.db.base import Base, TenantScoped
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound

MiB = 1024 * 1024
MAX_SIZE = 2 * MiB
MAX_IMAGES = 20  # per question
MAX_FILENAME = 200
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
}
CONTENT_TYPES = tuple(EXTENSIONS)


class QuestionImage(TenantScoped, Base):
    """One attached image; ``data`` loads only when asked for (``get``)."""

    __tablename__ = "question_images"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "question_id"],
            ["questions.tenant_id", "questions.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "question_id", "question_version"],
            [
                "question_versions.tenant_id",
                "question_versions.question_id",
                "question_versions.version",
            ],
            ondelete="RESTRICT",
            name="fk_question_images_question_version",
        ),
        CheckConstraint(
            "content_type IN ('image/png', 'image/jpeg', 'image/gif', 'image/webp')",
            name="content_type",
        ),
        CheckConstraint(f"size > 0 AND size <= {MAX_SIZE}", name="size"),
        CheckConstraint("octet_length(data) = size", name="data_size"),
        CheckConstraint("octet_length(sha256) = 32", name="sha256"),
        CheckConstraint("btrim(filename) <> ''", name="filename_not_blank"),
        Index("ix_question_images_question", "tenant_id", "question_id", "question_version"),
    )

    question_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    question_version: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(MAX_FILENAME))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[bytes] = mapped_column(LargeBinary)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)

    @property
    def etag(self) -> str:
        """A strong entity tag: the bytes' SHA-256, quoted."""
        return f'"{self.sha256.hex()}"'


def sniff(data: bytes) -> str | None:
    """The image type the bytes themselves show, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and data[12:15] == b"VP8":
        return "image/webp"
    return None


def clean_filename(filename: str, content_type: str) -> str:
    """The last part of a client's file name, printable characters only."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        keep = ("." + ext) if dot and len(ext) <= 10 else ""
        name = (stem if dot else name)[: MAX_FILENAME - len(keep)].rstrip() + keep
    return name or "image" + EXTENSIONS[content_type]


def _check(filename: str, data: bytes) -> str:
    if not data:
        raise Invalid(f"the image {filename!r} is empty; choose a PNG, JPEG, GIF or WebP file")
    if len(data) > MAX_SIZE:
        raise Invalid(
            f"the image {filename!r} is larger than {MAX_SIZE // MiB} MiB; "
            "make it smaller (fewer pixels or more compression) and attach it again",
            max_size=MAX_SIZE,
        )
    found = sniff(data)
    if found is None:
        raise Invalid(
            f"{filename!r} is not a PNG, JPEG, GIF or WebP image (judged by its content, not "
            "its name); save it in one of those formats and attach it again",
            allowed=list(CONTENT_TYPES),
        )
    return found


def _locked(uow: UnitOfWork, question_id: uuid.UUID) -> Question:
    """The question, locked until commit: concurrent attachments and edits
    write their versions one after the other."""
    q = uow.scalar(
        select(Question)
        .where(Question.id == question_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if q is None:
        raise NotFound(f"question {question_id} was not found")
    return q


def attach(uow: UnitOfWork, question_id: uuid.UUID, filename: str, data: bytes) -> QuestionImage:
    """Attach an image: writes question version n+1 (same content) that shows
    it, records the image with that version, and audits both."""
    q = _locked(uow, question_id)  # NotFound before anything about the file
    content_type = _check(filename, data)
    if q.archived_at is not None:
        raise Conflict("this question is archived; it can no longer be changed")
    digest = hashlib.sha256(data).digest()
    existing = _query(uow, q.id)
    if len(existing) >= MAX_IMAGES:
        raise Conflict(f"a question can have at most {MAX_IMAGES} images; this one has them")
    for img in existing:
        if img.sha256 == digest:
            raise Conflict(f"this image is already attached to the question (as {img.filename!r})")
    old = current(uow, q)
    q.current_version += 1
    q.updated_at = datetime.now(UTC)
    version = QuestionVersion(
        tenant_id=uow.tenant,
        question_id=q.id,
        version=q.current_version,
        body=old.body,
        points=old.points,
        category=old.category,
        tags=list(old.tags),
        difficulty=old.difficulty,
        created_by=f"{uow.actor.kind}:{uow.actor.id}"[:80],
    )
    uow.add(version)
    uow.flush()
    image = QuestionImage(
        tenant_id=uow.tenant,
        id=uuid.uuid4(),
        question_id=q.id,
        question_version=q.current_version,
        filename=clean_filename(filename, content_type),
        content_type=content_type,
        size=len(data),
        sha256=digest,
        data=data,
    )
    uow.add(image)
    uow.flush()
    audit.record(
        uow,
        "question.image_attached",
        q,
        {
            "image_id": image.id,
            "filename": image.filename,
            "content_type": content_type,
            "size": image.size,
            "sha256": digest.hex(),
            "version": q.current_version,
            "version_id": version.id,
        },
    )
    return image


def add_imported(
    uow: UnitOfWork, question_id: uuid.UUID, version: int, filename: str, data: bytes
) -> QuestionImage:
    """An image an import brings with a new question, shown from ``version``
    on (no new version: the imported question's text already names it by its
    SHA-256, content.rich). Checked as an attached image is; the import's
    audit entry names it."""
    content_type = _check(filename, data)
    image = QuestionImage(
        tenant_id=uow.tenant,
        id=uuid.uuid4(),
        question_id=question_id,
        question_version=version,
        filename=clean_filename(filename, content_type),
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).digest(),
        data=data,
    )
    uow.add(image)
    return image


def addresses(found: list[QuestionImage], url: Callable[[QuestionImage], str]) -> dict[str, str]:
    """The address each image is served at, by the name formatted text gives
    it (its SHA-256, hex; content.rich.with_image_addresses)."""
    return {img.sha256.hex(): url(img) for img in found}


def _query(
    uow: UnitOfWork, question_id: uuid.UUID, up_to: int | None = None
) -> list[QuestionImage]:
    stmt = select(QuestionImage).where(QuestionImage.question_id == question_id)
    if up_to is not None:
        stmt = stmt.where(QuestionImage.question_version <= up_to)
    return uow.scalars(stmt.order_by(QuestionImage.question_version, QuestionImage.created_at))


def get(uow: UnitOfWork, question_id: uuid.UUID, image_id: uuid.UUID) -> QuestionImage:
    """One image of the question, bytes included. An image of another
    question (or tenant) is not found, exactly like a missing one."""
    image = uow.scalar(
        select(QuestionImage)
        .where(QuestionImage.id == image_id, QuestionImage.question_id == question_id)
        .options(undefer(QuestionImage.data))
    )
    if image is None:
        raise NotFound(f"image {image_id} of question {question_id} was not found")
    return image


def find(uow: UnitOfWork, image_id: uuid.UUID) -> QuestionImage | None:
    """An image of the tenant by its id, without the bytes; None if none."""
    return uow.scalar(select(QuestionImage).where(QuestionImage.id == image_id))


def list_for(uow: UnitOfWork, question_id: uuid.UUID) -> list[QuestionImage]:
    """Every image of the question (what its current version shows), oldest
    first, without the bytes."""
    require_question(uow, question_id)
    return _query(uow, question_id)


def for_version(uow: UnitOfWork, version: QuestionVersion) -> list[QuestionImage]:
    """The images ``version`` shows: the ones attached up to and including it."""
    return _query(uow, version.question_id, up_to=version.version)


def ids_for_versions(
    uow: UnitOfWork, versions: list[QuestionVersion]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """For a paper: each question version id -> the ids of the images it shows."""
    return {v.id: [image.id for image in for_version(uow, v)] for v in versions}
