"""The system check's face check: before an exam that watches faces begins,
the server itself must have seen a face (the browser's own detector is the
candidate's to switch off).

``POST /take/{token}/api/face-check`` takes one still from the camera (a
JPEG or PNG, the raw body, at most :data:`MAX_BYTES`), reads it with the
re-check's face detector (:mod:`invigil.proctoring.faces`) and keeps no
picture: only, the first time a face is found, the moment
(``attempts.face_seen_at``, audited as ``proctoring.face_seen``).
``POST .../begin`` refuses an exam that watches faces until then
(:func:`invigil.delivery.attempts.require_face_seen`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from invigil import audit
from invigil.delivery.attempts import AttemptClosed
from invigil.delivery.candidate import Guest, Guesting, Taking
from invigil.errors import Invalid
from invigil.proctoring import pipeline

router = APIRouter(prefix="/take/{token}/api", include_in_schema=False)

MAX_BYTES = 512 * 1024  # a 640x480 JPEG is some 40 kB


def check(t: Taking, data: bytes, now: datetime | None = None) -> dict[str, Any]:
    """Read one picture for the attempt of ``t`` (see the module docstring)."""
    from invigil.proctoring import faces

    attempt = t.attempt
    if attempt.status == "submitted":
        raise AttemptClosed("this attempt is already submitted")
    needed = pipeline.policy_of(attempt).detectors.face
    if not data:
        raise Invalid("send one picture from the camera as the body")
    try:
        reading = faces.read(data)
    except faces.Undecodable as exc:
        raise Invalid(f"the picture could not be read: {exc}") from None
    if reading.faces and attempt.face_seen_at is None:
        attempt.face_seen_at = now or datetime.now(UTC)
        t.uow.flush()
        audit.record(
            t.uow,
            "proctoring.face_seen",
            attempt,
            {"faces": reading.faces, "detector": reading.detector,
             "brightness": reading.brightness, "sharpness": reading.sharpness},
        )  # fmt: skip
    return {
        "needed": needed,
        "seen": attempt.face_seen_at is not None,
        "faces": reading.faces,
        "problem": reading.problem,
    }


@router.post("/face-check")
async def face_check(request: Request, g: Guest = Guesting) -> JSONResponse:
    data = await request.body()  # bounded by the app's body limit for this path
    if len(data) > MAX_BYTES:
        raise Invalid(f"the picture may be at most {MAX_BYTES // 1024} KiB")

    def work(t: Taking) -> JSONResponse:
        response = JSONResponse(check(t, data))
        response.headers["Cache-Control"] = "no-store"
        return response

    return await g.run(work, lock=True)
