"""A real HTTP server on 127.0.0.1 for tests that stand in for hosted APIs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JSONHandler(BaseHTTPRequestHandler):
    """Base handler: subclasses implement ``do_POST``/``do_GET`` with these helpers.

    State shared across requests (counters, recorded bodies, scripted failures) lives
    on ``self.server.state``, a dict the test can read and change.
    """

    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        return

    def read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")

    def send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_sse(self, events: list[Any]) -> None:
        """Stream ``events`` as server-sent events, then ``data: [DONE]``."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for event in events:
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.state: dict[str, Any] = {"requests": []}
        self.stopping = threading.Event()
        """Set when the server stops: handlers that drip their answer end it there."""

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[LoopbackServer]:
    """Run ``handler`` on a free loopback port for the duration of the block."""
    server = LoopbackServer(handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class ScriptedReplyHandler(JSONHandler):
    """Answers every POST with whatever ``server.state`` says, however broken.

    - ``body``: the reply bytes (default ``b"{}"``); ``status``: its HTTP status (200);
      ``bodies``: replies for the next requests, one each, before ``body`` applies
    - ``content_length``: the ``Content-Length`` to declare (default ``len(body)``; ``None``
      sends none and closes the connection after the body)
    - ``drip_s``: send the body one byte at a time, this many seconds apart
    - ``drip_headers_s``: send even the headers one byte at a time
    - ``stream_bytes``: ignore ``body`` and stream this many zero bytes in 1 MiB writes
    - ``headers``: extra reply headers

    ``requests`` records each request's path, headers, JSON body and the client's port
    (``port``: equal ports mean one kept-alive connection); ``sent`` counts the body bytes
    written before the client hung up.
    """

    def do_POST(self) -> None:
        state = self.server.state
        state["requests"].append(
            {
                "path": self.path,
                "headers": dict(self.headers),
                "body": self.read_json(),
                "port": self.client_address[1],
            }
        )
        if state.get("drip_headers_s"):
            self._drip_headers(state["drip_headers_s"])
            return
        bodies = state.get("bodies")
        body: bytes = bodies.pop(0) if bodies else state.get("body", b"{}")
        stream = state.get("stream_bytes")
        length = state.get("content_length", len(body) if stream is None else None)
        self.send_response(state.get("status", 200))
        self.send_header("Content-Type", "application/json")
        for name, value in state.get("headers", {}).items():
            self.send_header(name, value)
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        state["sent"] = 0
        try:
            if stream is not None:
                block = b"0" * 2**20
                while state["sent"] < stream:
                    self.wfile.write(block)
                    state["sent"] += len(block)
            elif state.get("drip_s"):
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    state["sent"] += 1
                    if self.server.stopping.wait(state["drip_s"]):
                        break
            else:
                self.wfile.write(body)
                state["sent"] = len(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def _drip_headers(self, seconds: float) -> None:
        head = b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"x" * 10_000 + b"\r\n\r\n"
        self.close_connection = True
        try:
            for i in range(len(head)):
                self.wfile.write(head[i : i + 1])
                self.wfile.flush()
                if self.server.stopping.wait(seconds):
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass


class KeepAliveReplyHandler(ScriptedReplyHandler):
    """:class:`ScriptedReplyHandler` speaking HTTP/1.1, so a client can reuse the connection."""

    protocol_version = "HTTP/1.1"
