"""Talking to a platform: its key set, its token endpoint, its gradebook.

Every URL was chosen by a tenant administrator and is fetched by the
server, so each request goes through the webhook address rules (https, a
public address; ``INVIGIL_LTI_ALLOW_PRIVATE`` / ``_HTTP`` open them for
development) and never follows a redirect. Answers are size-limited.

Key sets are kept per process for ``lti_cache_seconds``; a token signed
with a key id the cache does not know fetches the set again at once (the
platform rotated its keys), at most every few seconds, so a forged key id
cannot make Invigil hammer the platform.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from invigil.errors import Invalid
from invigil.settings import Settings
from invigil.webhooks import addresses

MAX_DOCUMENT = 512 * 1024
REFETCH_AFTER = 5.0

_lock = threading.Lock()
_keys: dict[str, tuple[float, KeySet]] = {}


class LtiError(Exception):
    """A launch or a service call the platform's answer does not allow.
    ``reason`` is a stable code (audited); the person reads a translated
    sentence chosen by it."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def forget() -> None:
    """Drop every cached key set (tests, operators)."""
    with _lock:
        _keys.clear()


def rules(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_allow_private": settings.lti_allow_private,
            "webhook_allow_http": settings.lti_allow_http,
        }
    )


def check_url(url: str, settings: Settings, field: str) -> str:
    """A platform URL as an administrator saves it: https on a public address."""
    url = url.strip()
    if not url:
        raise Invalid(f"{field.replace('_', ' ')}: give the platform's URL", field=field)
    try:
        return addresses.check_on_save(url, rules(settings))
    except Invalid as exc:
        detail = exc.detail.replace("webhooks go", "learning platforms are reached")
        raise Invalid(f"{field.replace('_', ' ')}: {detail}", field=field) from None


def _target(url: str, settings: Settings) -> None:
    try:
        target = addresses.parse(url, rules(settings))
        addresses.checked(target, rules(settings))
    except (Invalid, addresses.Refused) as exc:
        raise LtiError("platform_address", str(exc)) from None


def request(
    method: str,
    url: str,
    settings: Settings,
    *,
    data: dict[str, str] | None = None,
    json: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    _target(url, settings)
    try:
        with httpx.Client(timeout=settings.lti_timeout_seconds, follow_redirects=False) as client:
            response = client.request(method, url, data=data, json=json, headers=headers or {})
    except httpx.HTTPError as exc:
        raise LtiError("platform_unreachable", f"{type(exc).__name__} at {url}") from None
    if len(response.content) > MAX_DOCUMENT:
        raise LtiError("platform_answer", f"{url} answered more than {MAX_DOCUMENT} bytes")
    return response


def fetch_json(url: str, settings: Settings, **kwargs: Any) -> dict[str, Any]:
    method = "POST" if "data" in kwargs or "json" in kwargs else "GET"
    headers = {"Accept": "application/json"} | kwargs.pop("headers", {})
    response = request(method, url, settings, headers=headers, **kwargs)
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise LtiError(
            "platform_answer", f"{url} answered {response.status_code} {error or ''}".strip()
        )
    return body


def key_set(jwks_url: str, settings: Settings, *, refresh: bool = False) -> KeySet:
    now = time.monotonic()
    with _lock:
        found = _keys.get(jwks_url)
    if found is not None:
        age = now - found[0]
        if (not refresh and age < settings.lti_cache_seconds) or (refresh and age < REFETCH_AFTER):
            return found[1]
    doc = fetch_json(jwks_url, settings)
    try:
        keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        raise LtiError("platform_answer", "the platform's key set cannot be read") from None
    with _lock:
        _keys[jwks_url] = (now, keys)
    return keys
