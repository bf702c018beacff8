"""Every request body is bounded before anything reads it.

A body is read by whoever needs it first: FastAPI before it runs a route's
dependencies (so before authentication), a form parser, an upload route.
Without a bound, a client with no token sends 200 MB and the server holds it
all before answering 401. So the limit is applied here, outside everything
else: each path belongs to a class with a size (the app lists them, see
``invigil.app``; anything unlisted has the JSON API's 1 MiB), a declared
``Content-Length`` over it is answered 413 before the app runs, and the bytes
of a body without one (chunked) are counted as they arrive; the first byte
over the limit answers 413 and ends the body (the app sees the client
disconnect, and whatever it answers then is dropped).

A request without a body (no ``Content-Length`` and no
``Transfer-Encoding``) passes untouched, and a body only gains a counter: the
candidates' hot routes pay nothing else (``docs/performance.md``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from invigil.errors import PROBLEM_MEDIA_TYPE, problem

KiB = 1024
MiB = 1024 * KiB
DEFAULT = 1 * MiB
_DISCONNECT: Message = {"type": "http.disconnect"}


@dataclass(frozen=True)
class Limit:
    """Bodies of paths matching ``pattern`` (a regular expression, anchored
    at both ends) may be at most ``size`` bytes; ``what`` names the class in
    the 413 and in the docs."""

    pattern: str
    size: int
    what: str


class BodyLimit:
    def __init__(self, app: ASGIApp, limits: Sequence[Limit], default: int = DEFAULT) -> None:
        self.app = app
        self.limits = [(re.compile(f"(?:{lim.pattern})\\Z"), lim) for lim in limits]
        self.default = Limit("", default, "a request")

    def limit_for(self, path: str) -> Limit:
        for pattern, lim in self.limits:
            if pattern.match(path):
                return lim
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = int(value) if value.isdigit() else -1
            elif name == b"transfer-encoding":
                chunked = True
        if declared is None and not chunked:
            await self.app(scope, receive, send)  # no body
            return
        lim = self.limit_for(scope["path"])
        if declared is not None and (declared < 0 or declared > lim.size):
            await _too_large(scope["path"], send, lim)  # not a byte of it is read
            return
        await _Counted(self.app, lim, scope["path"])(scope, receive, send)


class _Counted:
    """One request whose body bytes are counted as they arrive."""

    __slots__ = ("answered", "app", "limit", "path", "receive", "received", "send", "started")

    def __init__(self, app: ASGIApp, limit: Limit, path: str) -> None:
        self.app = app
        self.limit = limit
        self.path = path
        self.received = 0
        self.started = False
        self.answered = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.receive, self.send = receive, send
        try:
            await self.app(scope, self._receive, self._send)
        except Exception:
            if not self.answered:
                raise
            # The app failed on the body we cut short (it saw a disconnect):
            # the client has its 413 already.

    async def _receive(self) -> Message:
        if self.answered:
            return _DISCONNECT
        message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit.size:
                if not self.started:
                    self.started = True
                    await _too_large(self.path, self.send, self.limit)
                self.answered = True
                return _DISCONNECT
        return message

    async def _send(self, message: Message) -> None:
        if self.answered:
            return  # the app's answer to a body that was cut short
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


async def _too_large(path: str, send: Send, lim: Limit) -> None:
    body = json.dumps(
        problem(
            413,
            "too-large",
            f"{lim.what} may carry at most {_size(lim.size)}; this body is larger",
            path,
            max_size=lim.size,
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _size(size: int) -> str:
    if size % MiB == 0:
        return f"{size // MiB} MiB"
    if size % KiB == 0:
        return f"{size // KiB} KiB"
    return f"{size} bytes"
