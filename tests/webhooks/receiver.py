"""A real HTTP server on loopback that answers from a script and keeps what
it received: the receiving end of the sending tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    script: list[tuple[int, dict[str, str], bytes]]
    received: list[Received] = field(default_factory=list)

    def url_for(self, path: str) -> str:
        return self.url.rsplit("/", 1)[0] + path


@contextmanager
def receiver(*script: tuple[int, dict[str, str], bytes]) -> Iterator[Receiver]:
    """Answers the n-th request with ``script[n]`` (the last one thereafter)."""
    state = Receiver(url="", script=list(script))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            state.received.append(Received(self.path, dict(self.headers.items()), body))
            status, headers, answer = state.script[min(len(state.received), len(state.script)) - 1]
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/invigil"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
