"""Hostile fake servers on loopback, for what a real Prometheus cannot be made to do: trickle,
answer a gigabyte, redirect elsewhere, echo the token, answer in the wrong shape."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CANARY = "glpat-CANARY7f3e9b2d41c8"
Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Hostile:
    url: str
    seen: list[dict[str, str]] = field(default_factory=list)  # headers of every request
    paths: list[str] = field(default_factory=list)


@contextmanager
def hostile(handler: Handler) -> Iterator[Hostile]:
    """A server on 127.0.0.1 that answers every GET and POST with `handler`."""
    state = Hostile(url="")

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            state.seen.append({k.lower(): v for k, v in self.headers.items()})
            state.paths.append(self.path)
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            with suppress(BrokenPipeError, ConnectionResetError):
                handler(self)

        do_GET = _any
        do_POST = _any

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def answer(status: int, body: bytes, content_type: str = "application/json") -> Handler:
    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handle


def echo_headers(request: BaseHTTPRequestHandler) -> None:
    """A 500 whose body repeats every header it got (a proxy's debug page)."""
    body = json.dumps(
        {"status": "error", "errorType": "internal", "error": f"bad: {dict(request.headers)}"}
    ).encode()
    answer(500, body)(request)


def redirect_to(url: str) -> Handler:
    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(302)
        request.send_header("Location", url + request.path)
        request.send_header("Content-Length", "0")
        request.end_headers()

    return handle


def trickle(every_seconds: float) -> Handler:
    """Headers at once, then one byte of body every `every_seconds`, forever."""

    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Transfer-Encoding", "chunked")
        request.end_headers()
        while True:
            request.wfile.write(b"1\r\n \r\n")
            request.wfile.flush()
            time.sleep(every_seconds)

    return handle


def endless(total_bytes: int) -> Handler:
    """A chunked answer of `total_bytes` (no length given up front)."""
    piece = b" " * (1 << 20)

    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Transfer-Encoding", "chunked")
        request.end_headers()
        sent = 0
        while sent < total_bytes:
            request.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
        request.wfile.write(b"0\r\n\r\n")

    return handle


def customers_yaml(path: Path, url: str, auth: str = "{kind: none}", name: str = "acme") -> Path:
    path.write_text(
        f"customers:\n  - {{name: {name}, deployment: helm, prometheus: {{url: '{url}', "
        f"auth: {auth}}}}}\n"
    )
    return path


def everything_under(*folders: Path) -> str:
    """Every byte of every file under the folders, as text (to grep for a canary)."""
    parts = []
    for folder in folders:
        if folder.is_file():
            parts.append(folder.read_bytes().decode("utf-8", "replace"))
        elif folder.is_dir():
            for path in folder.rglob("*"):
                if path.is_file():
                    parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)
