"""A real rerank server on 127.0.0.1 speaking Jina's, Cohere's and DashScope's APIs.

It scores each document by the share of the query's words it contains, so tests can
predict the order. ``server.state`` controls it:

- ``script``: actions for the next requests, one per request: ``"sleep"`` (stall for
  ``sleep_s`` and never answer), ``"garbage"`` (HTTP 200 with no results) or an HTTP
  status (answered with a body that echoes the ``Authorization`` header, as a careless
  server would; 429 comes with ``Retry-After: 0``)
- ``max_documents`` / ``max_characters``: HTTP 400 above these, as hosted providers do
  (the query is counted once per document, as DashScope counts tokens)
- ``fail_on``: HTTP 400 for any request carrying this document
- ``delay_s``: seconds each answer takes; ``peak``: most requests in flight at once
- ``reverse``: answer in reverse rank order (clients must sort by score)
- ``requests``: each request's path, ``Authorization`` header and JSON body
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tests.support.http import JSONHandler

PATHS = {
    "/v1/rerank": "jina",
    "/v2/rerank": "cohere",
    "/api/v1/services/rerank/text-rerank/text-rerank": "dashscope",
}
"""Route -> the provider whose request and reply shapes it speaks (vLLM speaks Jina's)."""

_IN_FLIGHT = threading.Lock()


def overlap(query: str, text: str) -> float:
    """The score this server gives ``text``: the share of the query's words in it."""
    words = set(query.lower().split())
    return len(words & set(text.lower().split())) / len(words)


class RerankHandler(JSONHandler):
    """The rerank routes of :data:`PATHS`; see the module docstring for ``state``."""

    def send_status(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self) -> Any:
        """Read the JSON body and append the request to ``state["requests"]``."""
        body = self.read_json()
        self.server.state.setdefault("requests", []).append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        return body

    def do_POST(self) -> None:
        self.rerank(self.record())

    def rerank(self, body: Any) -> None:
        state = self.server.state
        script = state.setdefault("script", [])
        action = script.pop(0) if script else None
        if action == "sleep":
            time.sleep(state.get("sleep_s", 1.0))
            return  # the client has given up by now; answering would hit a closed socket
        if action == "garbage":
            self.send_status(200, {"unexpected": True})
            return
        if isinstance(action, int):
            # A careless server that echoes the credentials it received.
            self.send_status(
                action,
                {"message": f"failure for {self.headers.get('Authorization')}"},
                {"Retry-After": "0"} if action == 429 else None,
            )
            return
        provider = PATHS.get(self.path)
        if provider is None:
            self.send_status(404, {"detail": "Not Found"})
            return
        if provider == "dashscope":
            query, docs = body["input"]["query"], body["input"]["documents"]
            top_n = body.get("parameters", {}).get("top_n")
        else:
            query, docs, top_n = body["query"], body["documents"], body.get("top_n")
        refusal = self._refusal(query, docs)
        if refusal is not None:
            self.send_status(400, refusal)
            return
        with _IN_FLIGHT:
            state["in_flight"] = state.get("in_flight", 0) + 1
            state["peak"] = max(state.get("peak", 0), state["in_flight"])
        time.sleep(state.get("delay_s", 0.0))
        with _IN_FLIGHT:
            state["in_flight"] -= 1
        ranked = sorted(
            ({"index": i, "relevance_score": overlap(query, d)} for i, d in enumerate(docs)),
            key=lambda r: -r["relevance_score"],
        )[: top_n or len(docs)]
        if state.get("reverse"):  # some servers answer in input order; clients must sort
            ranked = ranked[::-1]
        if provider == "dashscope":
            self.send_status(200, {"output": {"results": ranked}, "request_id": "r1"})
        else:
            self.send_status(200, {"results": ranked, "model": body.get("model")})

    def _refusal(self, query: str, docs: list[str]) -> dict[str, str] | None:
        state = self.server.state
        cap, budget = state.get("max_documents"), state.get("max_characters")
        if cap is not None and len(docs) > cap:
            return {
                "code": "InvalidParameter",
                "message": f"input.documents: at most {cap} documents, got {len(docs)}",
            }
        size = sum(len(query) + len(d) for d in docs)
        if budget is not None and size > budget:
            return {
                "code": "InvalidParameter",
                "message": f"input too long: {size} > {budget} for all documents",
            }
        if state.get("fail_on") in docs:
            return {"message": f"unsafe content for {self.headers.get('Authorization')}"}
        return None
