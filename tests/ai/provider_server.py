"""A local OpenAI-compatible chat-completions server for the tests (the real
providers are paid services): it answers ``POST /v1/chat/completions`` from
a script of behaviours and keeps every request it received, so a test can
check what was sent (no names, no e-mail addresses) and how each outcome of
a real provider is handled: an answer, a slow answer (timeout), 429 with
Retry-After, a 500, a body that is not a chat completion, a dropped
connection.

    with ProviderServer() as server:
        server.script(ok({"marks": [...]}, prompt=120, completion=40))
        settings = server.settings(home)   # INVIGIL_AI_* pointing at it
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import SecretStr

from invigil.settings import Settings


@dataclass
class Behaviour:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the connection without an answer
    # Answer only once the test opens it (``arrived`` is set when the request is in).
    gate: threading.Event | None = None
    arrived: threading.Event | None = None


def ok(
    content: Any, *, prompt: int = 100, completion: int = 50, model: str = "test-model"
) -> Behaviour:
    text = content if isinstance(content, str) else json.dumps(content)
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return Behaviour(body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def slow(seconds: float, then: Behaviour | None = None) -> Behaviour:
    b = then or ok({})
    return Behaviour(b.status, b.body, b.headers, delay=seconds)


def held(then: Behaviour) -> Behaviour:
    """``then``, answered only when the test calls ``.gate.set()``; ``.arrived``
    is set as soon as the request is in (to look at the server meanwhile)."""
    return Behaviour(then.status, then.body, then.headers, gate=threading.Event(),
                     arrived=threading.Event())  # fmt: skip


def rate_limited(retry_after: int = 7) -> Behaviour:
    body = {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}
    return Behaviour(429, json.dumps(body).encode(),
                     {"Content-Type": "application/json", "Retry-After": str(retry_after)})  # fmt: skip


def server_error(status: int = 500) -> Behaviour:
    body = {"error": {"message": "internal error", "type": "server_error"}}
    return Behaviour(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


def raw(body: bytes, content_type: str = "application/json") -> Behaviour:
    return Behaviour(200, body, {"Content-Type": content_type})


def dropped() -> Behaviour:
    return Behaviour(drop=True)


class ProviderServer:
    def __init__(self) -> None:
        self._script: deque[Behaviour] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        # Called with each request's body before it is answered (in the
        # server's thread): to look at the world while a caller waits.
        self.on_request: Callable[[dict[str, Any]], None] | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                with server._lock:
                    try:
                        server.requests.append(json.loads(data))
                    except ValueError:
                        server.requests.append({"unreadable": data.decode("latin-1")})
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    b = server._script.popleft() if server._script else ok({})
                if server.on_request is not None:
                    server.on_request(server.requests[-1])
                if self.path.rstrip("/") != "/v1/chat/completions":
                    b = Behaviour(404, b'{"error": {"message": "not found"}}',
                                  {"Content-Type": "application/json"})  # fmt: skip
                if b.arrived is not None and b.gate is not None:
                    b.arrived.set()
                    b.gate.wait(30)
                if b.delay:
                    time.sleep(b.delay)
                if b.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(b.status)
                for k, v in b.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(b.body)))
                self.end_headers()
                self.wfile.write(b.body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def settings(self, base: Settings, **more: Any) -> Settings:
        """``base`` with this server as the platform's provider (short timeouts, no retries)."""
        values: dict[str, Any] = {
            "ai_base_url": self.base_url,
            "ai_model": "test-model",
            "ai_api_key": "sk-test-key",
            "ai_timeout_seconds": 2,
            "ai_max_retries": 0,
        } | more
        if isinstance(values["ai_api_key"], str):
            values["ai_api_key"] = SecretStr(values["ai_api_key"])
        return base.model_copy(update=values)

    def __enter__(self) -> ProviderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
