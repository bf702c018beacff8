"""What may be stored: content types sniffed from the bytes (never trusted
from the client), an allow-list and a size limit per kind of evidence."""

from __future__ import annotations

from dataclasses import dataclass

from invigil.errors import DomainError, Invalid

MiB = 1024 * 1024
SNIFF_BYTES = 64


class UnsupportedMediaType(DomainError):
    status = 415
    slug = "unsupported-media-type"


class TooLarge(DomainError):
    status = 413
    slug = "too-large"


@dataclass(frozen=True)
class Kind:
    name: str
    content_types: tuple[str, ...]
    max_size: int


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("snapshot", ("image/jpeg", "image/png"), 5 * MiB),
        Kind("id_photo", ("image/jpeg", "image/png"), 10 * MiB),
        Kind("recording_chunk", ("video/webm",), 64 * MiB),
        # A room check: the candidate shows the room when a proctor asks (~20 s).
        Kind("room_check", ("video/webm",), 32 * MiB),
        # A candidate's attachment to a contest (a photo or a document).
        Kind("contest_attachment", ("image/jpeg", "image/png", "application/pdf"), 5 * MiB),
    )
}


def kind(name: str) -> Kind:
    found = KINDS.get(name)
    if found is None:
        raise Invalid(f"unknown evidence kind {name!r}; known kinds: {', '.join(sorted(KINDS))}")
    return found


def sniff(head: bytes) -> str | None:
    """The content type the first bytes show, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    # WebM is an EBML document whose DocType element (id 0x4282, size 0x84) says "webm".
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"\x42\x82\x84webm" in head[:SNIFF_BYTES]:
        return "video/webm"
    # MediaRecorder's later timeslices continue the stream with a Cluster element.
    if head.startswith(b"\x1f\x43\xb6\x75"):
        return "video/webm"
    return None


def allowed_type(k: Kind, head: bytes) -> str:
    found = sniff(head)
    if found is None or found not in k.content_types:
        shown = found or "of no recognised type"
        raise UnsupportedMediaType(
            f"a {k.name} must be {' or '.join(k.content_types)}; these bytes are {shown} "
            "(the type is read from the bytes, not from Content-Type)",
            allowed=list(k.content_types),
        )
    return found


def check_size(k: Kind, size: int) -> None:
    if size > k.max_size:
        raise TooLarge(
            f"a {k.name} may be at most {k.max_size // MiB} MiB; this one is larger",
            max_size=k.max_size,
        )
