"""One-shot messages after an action ("Saved.", "Invitation sent."), shown
on the page the action redirects to (post-redirect-get).

The message travels in a cookie that lives a minute, is read once (the page
that shows it deletes it) and is sealed with an HMAC keyed by the viewer's
own session secret: nobody can put words on a page through a link (the
address carries no message), and a cookie planted by anyone who does not
hold the session is ignored. The texts themselves are chosen by the server
(fixed sentences per action), never taken from the request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from invigil.web.session import COOKIE as SESSION_COOKIE

COOKIE = "invigil_flash"
MAX_AGE = 60  # seconds: long enough for the redirect, short enough to never linger
MAX_TEXT = 500


def _mac(session_secret: str, payload: bytes) -> str:
    key = hashlib.sha256(b"invigil-flash\0" + session_secret.encode()).digest()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()[:32]


def seal(session_secret: str, text: str, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + MAX_AGE)
    payload = f"{expires}:{text[:MAX_TEXT]}".encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_mac(session_secret, payload)}"


def unseal(session_secret: str, value: str, now: float | None = None) -> str | None:
    body, _, mac = value.partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        return None
    if not session_secret or not hmac.compare_digest(mac, _mac(session_secret, payload)):
        return None
    expires, _, text = payload.decode(errors="replace").partition(":")
    if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
        return None
    return text or None


def redirect(request: Request, path: str, text: str | None = None) -> RedirectResponse:
    """303 to ``path``; the page there shows ``text`` once."""
    response = RedirectResponse(path, status_code=303)
    secret = request.cookies.get(SESSION_COOKIE, "")
    if text and secret:
        response.set_cookie(
            COOKIE,
            seal(secret, text),
            max_age=MAX_AGE,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response


def take(request: Request) -> str | None:
    """The message waiting for this page, if any (see :func:`clear`)."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    return unseal(request.cookies.get(SESSION_COOKIE, ""), value)


def clear(request: Request, response: Response) -> None:
    if COOKIE in request.cookies:
        response.delete_cookie(COOKIE, path="/", samesite="strict", httponly=True)
