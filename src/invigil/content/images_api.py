"""Question images over the API: attach (multipart, field ``file``), list,
and the bytes themselves.

``curl -F file=@diagram.png .../api/v1/questions/{id}/images``. The type is
sniffed from the bytes; attaching writes a new question version (see
``content/images.py``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from invigil.content import images, questions
from invigil.content.images import QuestionImage
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.pagination import Page
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1")


class ImageOut(BaseModel):
    id: uuid.UUID
    question_id: uuid.UUID
    question_version: int
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    url: str


def image_out(image: QuestionImage) -> ImageOut:
    return ImageOut(
        id=image.id,
        question_id=image.question_id,
        question_version=image.question_version,
        filename=image.filename,
        content_type=image.content_type,
        size=image.size,
        sha256=image.sha256.hex(),
        created_at=image.created_at,
        url=f"/api/v1/questions/{image.question_id}/images/{image.id}",
    )


def read_upload(file: UploadFile | None) -> tuple[str, bytes]:
    """The file's name and bytes, reading at most one byte over the limit."""
    if file is None:
        raise Invalid("send the image as a multipart form field named 'file'")
    return file.filename or "", file.file.read(images.MAX_SIZE + 1)


def content_disposition(filename: str) -> str:
    """``inline`` with an ASCII fallback name and the exact one (RFC 6266)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def image_response(request: Request, image: QuestionImage) -> Response:
    """The stored bytes with the stored type; 304 when the client has them."""
    headers = {
        "ETag": image.etag,
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'",
    }
    wanted = {t.strip() for t in request.headers.get("if-none-match", "").split(",")}
    if image.etag in wanted or "*" in wanted:
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = content_disposition(image.filename)
    return Response(image.data, media_type=image.content_type, headers=headers)


@router.post(
    "/questions/{question_id}/images", response_model=ImageOut, status_code=201, tags=["questions"]
)
def attach_image(
    question_id: uuid.UUID,
    file: Annotated[UploadFile | None, File(description="a PNG, JPEG, GIF or WebP image")] = None,
    uow: UnitOfWork = requires(P.QUESTION_MANAGE),
) -> ImageOut:
    """Attach an image (at most 2 MiB). The question gets a new version that
    shows it; earlier versions (and exams published with them) do not."""
    questions.require_question(uow, question_id)  # an unknown question is 404, file or not
    filename, data = read_upload(file)
    return image_out(images.attach(uow, question_id, filename, data))


@router.get("/questions/{question_id}/images", response_model=Page[ImageOut], tags=["questions"])
def list_images(
    question_id: uuid.UUID, uow: UnitOfWork = requires(P.QUESTION_VIEW)
) -> Page[ImageOut]:
    """Every image of the question, oldest first, each with the version that
    first shows it."""
    found = images.list_for(uow, question_id)
    return Page[ImageOut](items=[image_out(i) for i in found], next=None)


@router.get(
    "/questions/{question_id}/images/{image_id}",
    tags=["questions"],
    response_class=Response,
    responses={200: {"content": {t: {} for t in images.CONTENT_TYPES}}, 304: {}},
)
def get_image(
    request: Request,
    question_id: uuid.UUID,
    image_id: uuid.UUID,
    uow: UnitOfWork = requires(P.QUESTION_VIEW),
) -> Response:
    """The image's bytes with the sniffed type, and a strong ETag (SHA-256)."""
    return image_response(request, images.get(uow, question_id, image_id))
