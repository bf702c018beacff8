"""Short-lived signed URLs for staff: one object, one viewer, one method.

``/evidence/<object id>?viewer=<user id>&method=GET&expires=<unix>&sig=<mac>``
where mac = HMAC-SHA256(server key, "invigil-evidence-url/v1" | object |
viewer | method | expires), base64url. The key is a file in the keys folder
(shared by every API process). A URL is valid for at most five minutes,
and only when presented together with a session of the same viewer.

A built evidence bundle is read the same way under its own scope,
``/bundles/<bundle id>/file?...`` with "invigil-bundle-url/v1" in the
mac: a link to an evidence object never opens a bundle, nor the reverse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from invigil.errors import Forbidden
from invigil.security.keyfile import secret_file

MAX_SECONDS = 300
METHODS = ("GET",)
# scope -> the path a link of that scope opens (the scope is in the mac too)
SCOPES = {"evidence": "/evidence/{id}", "bundle": "/bundles/{id}/file"}


@dataclass(frozen=True)
class SignedUrl:
    url: str
    expires: int
    method: str


class UrlSigner:
    def __init__(self, key_file: Path, max_seconds: int = MAX_SECONDS) -> None:
        self.key_file = key_file
        self.max_seconds = min(max_seconds, MAX_SECONDS)
        self._key: bytes | None = None

    def _secret(self) -> bytes:
        if self._key is None:
            self._key = secret_file(self.key_file)
        return self._key

    def _mac(
        self,
        object_id: uuid.UUID,
        viewer: uuid.UUID,
        method: str,
        expires: int,
        scope: str = "evidence",
    ) -> str:
        if scope not in SCOPES:
            raise ValueError(f"unknown link scope {scope!r}")
        message = f"invigil-{scope}-url/v1\n{object_id}\n{viewer}\n{method}\n{expires}".encode()
        digest = hmac.new(self._secret(), message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue(
        self,
        object_id: uuid.UUID,
        viewer: uuid.UUID,
        *,
        method: str = "GET",
        seconds: int | None = None,
        now: float | None = None,
        scope: str = "evidence",
    ) -> SignedUrl:
        if method not in METHODS:
            raise Forbidden(f"evidence links are issued for {', '.join(METHODS)} only")
        ttl = min(seconds or self.max_seconds, self.max_seconds)
        expires = int(now if now is not None else time.time()) + ttl
        query = urlencode(
            {
                "viewer": str(viewer),
                "method": method,
                "expires": expires,
                "sig": self._mac(object_id, viewer, method, expires, scope),
            }
        )
        path = SCOPES[scope].format(id=object_id)
        return SignedUrl(f"{path}?{query}", expires, method)

    def verify(
        self,
        object_id: uuid.UUID,
        *,
        viewer: str | None,
        method: str | None,
        expires: str | None,
        sig: str | None,
        request_method: str,
        now: float | None = None,
        scope: str = "evidence",
    ) -> uuid.UUID:
        """The viewer the link was issued to, or Forbidden saying what is wrong."""
        if not (viewer and method and expires and sig):
            raise Forbidden("this evidence link is incomplete; ask for a new one")
        try:
            viewer_id = uuid.UUID(viewer)
            expires_at = int(expires)
        except ValueError:
            raise Forbidden("this evidence link is malformed; ask for a new one") from None
        expected = self._mac(object_id, viewer_id, method, expires_at, scope)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            raise Forbidden("this evidence link is not valid (it was altered or not issued here)")
        if method != request_method:
            raise Forbidden(f"this evidence link allows {method} only")
        current = int(now if now is not None else time.time())
        if expires_at <= current:
            raise Forbidden("this evidence link has expired; ask for a new one")
        if expires_at > current + self.max_seconds:
            raise Forbidden("this evidence link claims too long a lifetime")
        return viewer_id
