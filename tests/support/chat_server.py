"""A real OpenAI ``/v1/chat/completions`` server on 127.0.0.1 (JSON and SSE streaming).

It also serves the rerank routes of :mod:`tests.support.rerank_server`, so one server
stands in for a whole hosted RAG stack. ``server.state`` controls it:

- ``answer``: the answer's pieces (one SSE chunk each); by default :data:`ANSWER_ZH` for a
  question with Chinese characters, else :data:`ANSWER_PIECES`
- ``requests``: each request's path, ``Authorization`` header and JSON body
- the rerank settings of :class:`~tests.support.rerank_server.RerankHandler`
"""

from __future__ import annotations

from typing import Any

from tests.support.rerank_server import RerankHandler

CHAT_PATH = "/v1/chat/completions"
ANSWER_PIECES = ["BM25 ", "weights rare ", "terms ", "higher [1]."]
ANSWER_ZH = ["BM25 ", "是一种", "关键词", "排序函数 [1]。"]


def _chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


class ChatHandler(RerankHandler):
    """Chat completions at :data:`CHAT_PATH`; rerank routes and 404s as ``RerankHandler``."""

    def do_POST(self) -> None:
        body = self.record()
        if self.path != CHAT_PATH:
            self.rerank(body)
            return
        question = str(body["messages"][-1]["content"])
        pieces = self.server.state.get("answer") or (
            ANSWER_ZH if _chinese(question) else ANSWER_PIECES
        )
        base = {"id": "chatcmpl-1", "created": 1, "model": body["model"]}
        if body.get("stream"):
            self.send_sse(_chunks(base, pieces))
            return
        message = {"role": "assistant", "content": "".join(pieces)}
        self.send_json(
            200,
            {
                **base,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )


def _chunks(base: dict[str, Any], pieces: list[str]) -> list[Any]:
    """The SSE events of a streamed answer: the role, one chunk per piece, the stop."""

    def chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {**base, "object": "chat.completion.chunk", "choices": [choice]}

    return [
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": piece}) for piece in pieces),
        chunk({}, "stop"),
    ]
