"""One call to an OpenAI-compatible chat-completions endpoint.

The ``openai`` client does the protocol, the timeouts and the retries (429
and 5xx, honouring ``Retry-After``); this module decides what a call's
outcome was, in the words a usage record keeps: ``ok``, ``timeout``,
``rate_limited``, ``provider_error``, ``malformed`` (an answer that is not a
chat completion, or whose content is not the JSON asked for) or
``unreachable``. It never raises for what a provider does: every call ends
in a :class:`Reply`, so every call can be recorded and charged.

The response is read raw (its bytes are hashed for the record) and parsed
here, strictly: a body the client library would accept loosely is malformed
if it lacks a choice with text content.

A provider a tenant configured itself is reached only at public addresses,
checked when it is saved and again at every request, which then goes to the
very address checked (the host name kept for ``Host`` and TLS), as
webhooks are (``invigil.webhooks.addresses``): a tenant cannot point the
server at its own network. The platform's provider, set by the operator, may
be anywhere.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import openai
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from invigil.audit.canonical import canonical_json
from invigil.errors import Invalid
from invigil.settings import Settings
from invigil.webhooks import addresses

MAX_ANSWER_BYTES = 256 * 1024


@dataclass(frozen=True)
class Provider:
    base_url: str
    model: str
    api_key: str
    timeout: float
    max_retries: int
    source: str  # "platform" or "tenant"

    @property
    def host(self) -> str:
        parts = urlsplit(self.base_url)
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host


@dataclass(frozen=True)
class Reply:
    outcome: str
    content: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    request_sha256: str
    response_sha256: str | None
    detail: str  # what went wrong, for the problem shown and the log (never the key)
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class _Usage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    prompt_tokens: int = Field(ge=0, le=10_000_000)
    completion_tokens: int = Field(ge=0, le=10_000_000)


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: str = Field(min_length=1)


class _Choice(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message: _Message


class _Completion(BaseModel):
    model_config = ConfigDict(extra="ignore")
    choices: list[_Choice] = Field(min_length=1)
    usage: _Usage | None = None


def request_body(
    provider: Provider, messages: list[dict[str, str]], max_tokens: int
) -> dict[str, Any]:
    return {
        "model": provider.model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0.2,
        "response_format": {"type": "json_object"},
    }


class _Pinned(httpx.HTTPTransport):
    """Sends each request to the checked address of its host (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._settings = settings.model_copy(
            update={
                "webhook_allow_private": settings.ai_allow_private,
                "webhook_allow_http": settings.ai_allow_private,
            }
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            target = addresses.parse(str(request.url), self._settings)
            address = addresses.checked(target, self._settings)
        except (addresses.Refused, Invalid) as exc:  # never sent
            raise httpx.ConnectError(str(getattr(exc, "detail", exc)), request=request) from None
        request.url = request.url.copy_with(host=str(address))
        request.headers["Host"] = target.host_header
        if target.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": target.host}
        return super().handle_request(request)


def _client(provider: Provider, settings: Settings) -> openai.OpenAI:
    transport = _Pinned(settings) if provider.source == "tenant" else httpx.HTTPTransport()
    timeout = httpx.Timeout(provider.timeout, connect=min(provider.timeout, 10.0))
    return openai.OpenAI(
        base_url=provider.base_url,
        api_key=provider.api_key or "unset",
        timeout=timeout,
        max_retries=provider.max_retries,
        http_client=httpx.Client(transport=transport, timeout=timeout, follow_redirects=False),
    )


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return min(max(float(value), 0.0), 3600.0) if value else None
    except ValueError:
        return None


def complete(
    provider: Provider, settings: Settings, messages: list[dict[str, str]], *, max_tokens: int
) -> Reply:
    """Ask once (with the client's retries); the outcome, never an exception."""
    body = request_body(provider, messages, max_tokens)
    asked = hashlib.sha256(canonical_json(body)).hexdigest()
    started = time.monotonic()

    def reply(outcome: str, detail: str, **more: Any) -> Reply:
        elapsed = int((time.monotonic() - started) * 1000)
        fields: dict[str, Any] = {
            "content": None, "prompt_tokens": 0, "completion_tokens": 0, "response_sha256": None,
        } | more  # fmt: skip
        return Reply(outcome=outcome, latency_ms=elapsed, request_sha256=asked, detail=detail,
                     **fields)  # fmt: skip

    client = _client(provider, settings)
    try:
        raw = client.chat.completions.with_raw_response.create(**body)
        data = raw.http_response.content
    except openai.APITimeoutError:
        return reply("timeout", f"the AI provider did not answer within {provider.timeout:g} s")
    except openai.RateLimitError as exc:
        return reply("rate_limited", "the AI provider is rate-limiting requests (429)",
                     retry_after=_retry_after(exc))  # fmt: skip
    except openai.APIStatusError as exc:
        return reply("provider_error", f"the AI provider answered HTTP {exc.status_code}",
                     response_sha256=hashlib.sha256(exc.response.content).hexdigest())  # fmt: skip
    except openai.APIConnectionError as exc:
        cause = str(exc.__cause__ or exc)[:200]
        return reply("unreachable", f"the AI provider could not be reached ({cause})")
    finally:
        client.close()
    got = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_ANSWER_BYTES:
        return reply("malformed", "the AI provider's answer is too large", response_sha256=got)
    try:
        parsed = _Completion.model_validate_json(data)
    except ValidationError:
        tokens = _tokens_anyway(data)
        return reply("malformed", "the AI provider's answer is not a chat completion",
                     response_sha256=got, **tokens)  # fmt: skip
    usage = parsed.usage or _Usage(prompt_tokens=0, completion_tokens=0)
    return reply(
        "ok", "", content=parsed.choices[0].message.content, response_sha256=got,
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
    )  # fmt: skip


def _tokens_anyway(data: bytes) -> dict[str, int]:
    """The token counts of an answer that is otherwise malformed (the provider bills them)."""
    import json

    try:
        usage = _Usage.model_validate(json.loads(data).get("usage"))
    except (ValueError, AttributeError, ValidationError):
        return {}
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
