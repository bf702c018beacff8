"""Every response carries the browser's defences, whoever made it.

A route may set a stricter or different policy of its own (the candidate's
player, question images, the API docs); every other response, pages, API
answers, problems, redirects and static files alike, gets these:

- ``Content-Security-Policy``: scripts only from this origin (no inline
  script, no ``eval``), nothing framing the page (``frame-ancestors
  'none'``), no plug-ins, forms posting only here. Styles may be inline
  (the pages carry small ``<style>`` blocks and ``style`` attributes; a
  style cannot run code).
- ``X-Content-Type-Options: nosniff`` and ``X-Frame-Options: DENY`` (for
  browsers that predate ``frame-ancestors``).
- ``Referrer-Policy: same-origin``: a guest link carries its secret in the
  path, so no address of this site is ever sent to another one.
- ``Strict-Transport-Security`` when the request came over HTTPS: directly,
  or through a proxy the server trusts (uvicorn's ``--forwarded-allow-ips``,
  by default only 127.0.0.1 and ::1, turns its ``X-Forwarded-Proto`` into the
  scheme). Over plain HTTP it would be ignored, and it must never pin a
  development server on localhost.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
DEFAULTS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
OVER_HTTPS = (*DEFAULTS, (b"strict-transport-security", HSTS.encode()))


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = OVER_HTTPS if scope.get("scheme") == "https" else DEFAULTS

        async def guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in wanted if h[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, guarded)
