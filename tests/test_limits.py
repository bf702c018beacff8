"""Every body is bounded before anything reads it, also before
authentication: for each class of route (generated from the app's own list,
plus the default), a body over the limit answers 413 problem+json with no
token — declared up front with Content-Length, or chunked and counted as it
arrives — and a body of exactly the limit goes through to the route."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from invigil.app import body_limits
from invigil.limits import DEFAULT, BodyLimit, Limit
from invigil.settings import Settings
from tests.conftest import BoundDatabase
from tests.delivery.test_attempts import begun, invited, item, stored

PIECE = 64 * 1024
DEFAULT_PATHS = ["/api/v1/auth/token", "/api/v1/questions", "/signin", "/take/x/api/heartbeat"]


def samples(pattern: str) -> list[str]:
    """Paths that the pattern matches: each alternative of a group, any id."""
    group = re.search(r"\(\?:([^()]*)\)", pattern)
    if group is not None:
        return [
            path
            for choice in group.group(1).split("|")
            for path in samples(pattern[: group.start()] + choice + pattern[group.end() :])
        ]
    return [pattern.replace("[^/]+", "00000000-0000-4000-8000-000000000000")]


def classes() -> list[tuple[str, Limit]]:
    default = Limit("", DEFAULT, "a request")
    return [(p, lim) for lim in body_limits() for p in samples(lim.pattern)] + [
        (p, default) for p in DEFAULT_PATHS
    ]


CLASSES = classes()
IDS = [path for path, _ in CLASSES]


def method(path: str) -> str:
    return "PUT" if "/chunks/" in path or path == "/api/v1/tenant/branding/logo" else "POST"


def head(path: str) -> bytes:
    """The start of a body the route's parser reads on (a file in a form)."""
    if content_type(path).startswith("multipart/"):
        return b'--b\r\nContent-Disposition: form-data; name="file"; filename="f.csv"\r\n\r\n'
    return b""


def content_type(path: str) -> str:
    """What the route reads: a form, a file in a form, raw bytes or JSON."""
    if path in ("/signin", "/api/v1/auth/token"):
        return "application/x-www-form-urlencoded"
    if not path.startswith(("/api/", "/take/")):
        return "multipart/form-data; boundary=b"
    return "application/json"


class Pieces:
    """A chunked body of ``size`` bytes that remembers how much was taken."""

    def __init__(self, size: int, path: str) -> None:
        self.size = size
        self.head = head(path)
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.taken = len(self.head)
        yield self.head
        while self.taken < self.size:
            n = min(PIECE, self.size - self.taken)
            self.taken += n
            yield b"x" * n


def send(app: FastAPI, path: str, content: Any, headers: dict[str, str]) -> httpx.Response:
    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method(path), path, content=content, headers=headers)

    return anyio.run(main)


def assert_too_large(r: httpx.Response, path: str, lim: Limit) -> None:
    assert r.status_code == 413, (path, r.status_code, r.text[:200])
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "urn:invigil:problem:too-large" and body["status"] == 413
    assert body["max_size"] == lim.size and body["instance"] == path
    assert lim.what in body["detail"]


def test_every_listed_path_is_in_its_own_class(app: FastAPI) -> None:
    limiter = BodyLimit(app, body_limits())
    for path, lim in CLASSES:
        assert limiter.limit_for(path) == lim, path


@pytest.mark.parametrize(("path", "lim"), CLASSES, ids=IDS)
def test_a_declared_length_over_the_limit_is_refused_unread(
    app: FastAPI, path: str, lim: Limit
) -> None:
    # Content-Length says one byte too many; none of them is sent.
    headers = {"content-length": str(lim.size + 1), "content-type": content_type(path)}
    r = send(app, path, b"", headers)
    assert_too_large(r, path, lim)


@pytest.mark.parametrize(("path", "lim"), CLASSES, ids=IDS)
def test_a_chunked_body_over_the_limit_is_cut_off(app: FastAPI, path: str, lim: Limit) -> None:
    body = Pieces(lim.size + 10 * PIECE, path)
    r = send(app, path, body, {"content-type": content_type(path)})
    assert body.taken <= lim.size + PIECE, "read on past the limit"
    if r.status_code in (303, 401, 404) and body.taken < lim.size:
        return  # refused before reading the body (uploads; pages send people to sign in)
    assert_too_large(r, path, lim)


@pytest.mark.parametrize(("path", "lim"), CLASSES, ids=IDS)
def test_a_body_at_the_limit_reaches_the_route(app: FastAPI, path: str, lim: Limit) -> None:
    whole = head(path) + b"x" * (lim.size - len(head(path)))
    for content in (whole, Pieces(lim.size, path)):
        r = send(app, path, content, {"content-type": content_type(path)})
        assert r.status_code != 413, (path, r.text[:200])
        assert r.status_code < 500, (path, r.text[:200])


def test_a_full_batch_of_essays_is_saved(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    """What the player sends at most in one request (768 KiB of answers, see
    static/player/sync.js, and a little more) is saved."""
    made, token = invited(db, settings)
    client, state = begun(app, token)
    essay = next(q["index"] for q in state["questions"] if q["type"] == "essay")
    text = "é" * 40_000  # 80 kB in UTF-8 (the server's own per-answer limit allows no more)
    items = [item(essay, text, seq) for seq in range(1, 13)]  # one question, saved 12 times
    body = httpx.Request("POST", "/", json={"items": items}).read()
    assert 768 * 1024 < len(body) <= 1024 * 1024
    r = client.post(
        f"/take/{token}/api/answers", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]][-1] == "saved"
    answers = stored(db, made.invitation.tenant_id, state["attempt_id"])
    assert answers[essay].response == text


@pytest.mark.parametrize("path", ["/api/v1/banks/{id}/import", "/api/v1/invitations/import?exam=x"])
def test_an_import_reads_no_body_for_a_stranger(app: FastAPI, path: str) -> None:
    """Imports take the most; their body is read only once the token is checked."""
    path = path.format(id="00000000-0000-4000-8000-000000000000")
    body = Pieces(4 * 1024 * 1024, path)
    r = send(app, path, body, {"content-type": "text/csv"})
    assert r.status_code == 401 and body.taken <= PIECE
