"""A real ``/v1/embeddings`` server on 127.0.0.1 that can fail, stall or misbehave on demand.

Embeddings are deterministic (derived from a hash of each text), so tests can check order and
values. ``server.state`` controls it:

- ``key``: the API key it accepts (401 echoing the Authorization header otherwise)
- ``script``: answers for the next requests, consumed one per request: ``{"status": 429,
  "retry_after_ms": 5}``, ``{"status": 500}``, ``{"sleep": 2.0}`` (then answer normally)
- ``delay``: seconds every request takes (to observe concurrency)
- ``max_batch``: more inputs than this get HTTP 400 (DashScope allows 10)
- ``reverse``: return ``data`` in reverse order (clients must sort by ``index``)
- ``ignore_dimensions``: answer with the default size whatever ``dimensions`` says
- ``requests``: every request body received; ``max_inflight``: most requests at once
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

from tests.support.http import JSONHandler

DEFAULT_DIM = 16


def fake_vector(text: str, dim: int) -> list[float]:
    """The vector this server returns for ``text``: hash bytes scaled to [-1, 1]."""
    values: list[float] = []
    counter = 0
    while len(values) < dim:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend((b - 127.5) / 127.5 for b in digest)
        counter += 1
    return values[:dim]


class EmbeddingsAPIHandler(JSONHandler):
    _lock = threading.Lock()

    def _enter(self) -> None:
        state = self.server.state
        with self._lock:
            state["inflight"] = state.get("inflight", 0) + 1
            state["max_inflight"] = max(state.get("max_inflight", 0), state["inflight"])

    def _leave(self) -> None:
        with self._lock:
            self.server.state["inflight"] -= 1

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        try:
            if headers:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            else:
                self.send_json(status, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test); nothing to answer

    def do_POST(self) -> None:
        state = self.server.state
        body = self.read_json()
        with self._lock:
            state["requests"].append(body)
            step = state["script"].pop(0) if state.get("script") else {}
        self._enter()
        try:
            self._answer(body, step)
        finally:
            self._leave()

    def _answer(self, body: Any, step: dict[str, Any]) -> None:
        state = self.server.state
        if self.path.rstrip("/") != "/v1/embeddings":
            self._reply(404, {"error": {"message": f"no route {self.path}"}})
            return
        auth = self.headers.get("Authorization", "")
        if state.get("key") is not None and auth != f"Bearer {state['key']}":
            # A careless server that echoes the credential it got: clients must not repeat it.
            self._reply(401, {"error": {"message": f"invalid key in header {auth!r}"}})
            return
        time.sleep(float(step.get("sleep", 0.0)) + float(state.get("delay", 0.0)))
        if "status" in step:
            headers = {}
            if "retry_after_ms" in step:
                headers["retry-after-ms"] = str(step["retry_after_ms"])
            self._reply(step["status"], {"error": {"message": "scripted failure"}}, headers)
            return
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            self._reply(400, {"error": {"message": "input must be strings (no token arrays)"}})
            return
        if any(t == "" for t in inputs):
            self._reply(400, {"error": {"message": "'$.input' is invalid: empty string"}})
            return
        if len(inputs) > state.get("max_batch", 2048):
            self._reply(400, {"error": {"message": f"batch size {len(inputs)} too large"}})
            return
        dim = DEFAULT_DIM if state.get("ignore_dimensions") else body.get("dimensions", DEFAULT_DIM)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(t, dim)}
            for i, t in enumerate(inputs)
        ]
        if state.get("reverse"):
            data.reverse()
        self._reply(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
            },
        )
