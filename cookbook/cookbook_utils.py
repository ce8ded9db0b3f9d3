"""Small helpers the cookbook notebooks share.

* :func:`find_scifact` finds the SciFact data set (BEIR format) shipped in the repository.
* :func:`chat_settings` reads a chat endpoint from the environment, the way ``embedkit ask``
  does (``OPENAI_API_KEY``, ``DASHSCOPE_API_KEY``, ``OPENAI_BASE_URL``, ``EMBEDKIT_CHAT_MODEL``).
* :func:`start_local_api` runs a tiny OpenAI-compatible server on 127.0.0.1 so that the
  notebooks run offline: ``/v1/chat/completions`` answers by *extracting* the source
  sentences that share the most words with the question and citing them as ``[n]`` (it is a
  stand-in, not a language model), ``/v1/embeddings`` serves any LangChain ``Embeddings``
  you pass, and ``/v1/rerank`` (the Jina/vLLM shape) serves any scoring function you pass.
  The client code talking to it is exactly the code you would point at OpenAI, DashScope,
  vLLM or Ollama: only ``base_url`` changes.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any

__all__ = [
    "LocalAPI",
    "chat_settings",
    "extractive_answer",
    "find_model",
    "find_scifact",
    "repo_root",
    "start_local_api",
]

DASHSCOPE_BASE_URL = "https://dashscope.aliyuncs.com/compatible-mode/v1"
DEFAULT_CHAT_MODELS = {"openai": "gpt-4o-mini", "dashscope": "qwen-plus"}
STAND_IN_CHAT_MODEL = "local-extractive-stand-in"

RerankScores = Callable[[str, list[str]], Sequence[float]]


# --------------------------------------------------------------------------- paths


def repo_root() -> Path:
    """The repository folder (the parent of ``cookbook/``)."""
    return Path(__file__).resolve().parent.parent


def find_scifact() -> Path:
    """The SciFact BEIR folder: the copy shipped in ``benchmarks/data/scifact``.

    ``$EMBEDKIT_SCIFACT`` names another BEIR folder instead (``benchmarks.data.scifact_dir``
    decides, as it does for the tests and the benchmarks).
    """
    root = str(repo_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    from benchmarks.data import scifact_dir

    return scifact_dir()


def find_model(env_var: str, hub_id: str) -> str | None:
    """Where to load a model from, without downloading anything; None when it is absent.

    ``$env_var`` wins (a local folder, or a hub id you have downloaded); otherwise
    ``hub_id`` is used when it is already in the local Hugging Face cache. A variable that
    points at a folder that does not exist is reported and ignored.
    """
    chosen = os.environ.get(env_var)
    if chosen:
        looks_like_path = chosen.startswith((".", "/", "~")) or "\\" in chosen
        if looks_like_path and not Path(chosen).expanduser().is_dir():
            print(f"{env_var}={chosen} is not a folder; ignoring it.")
            return None
        return chosen
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    cached = try_to_load_from_cache(hub_id, "config.json")
    return hub_id if isinstance(cached, str) else None


# ----------------------------------------------------------------- chat endpoint


def chat_settings() -> dict[str, str] | None:
    """Keyword arguments for ``ChatOpenAI`` from the environment, or None if none is set.

    * ``OPENAI_BASE_URL`` set: that server (vLLM ``http://localhost:8000/v1``, Ollama
      ``http://localhost:11434/v1``, a gateway...), model from ``EMBEDKIT_CHAT_MODEL``.
    * else ``OPENAI_API_KEY``: OpenAI, model ``EMBEDKIT_CHAT_MODEL`` or gpt-4o-mini.
    * else ``DASHSCOPE_API_KEY``: DashScope's compatible mode, model ``qwen-plus``.
    """
    env = os.environ
    base_url = env.get("OPENAI_BASE_URL") or None
    openai_key, dashscope_key = env.get("OPENAI_API_KEY"), env.get("DASHSCOPE_API_KEY")
    if base_url is None:
        if openai_key:
            provider, key = "openai", openai_key
        elif dashscope_key:
            provider, key, base_url = "dashscope", dashscope_key, DASHSCOPE_BASE_URL
        else:
            return None
    else:
        provider = "dashscope" if "dashscope" in base_url else "custom"
        preferred = dashscope_key if provider == "dashscope" else openai_key
        key = preferred or openai_key or dashscope_key or "not-needed"
    model = env.get("EMBEDKIT_CHAT_MODEL") or DEFAULT_CHAT_MODELS.get(provider)
    if not model:
        print(f"OPENAI_BASE_URL={base_url} is set but no model: set EMBEDKIT_CHAT_MODEL.")
        return None
    settings = {"model": model, "api_key": key}
    if base_url:
        settings["base_url"] = base_url
    return settings


# ------------------------------------------------------------ extractive answers

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_RE = re.compile(f"[{_HAN}]")
_WORD_RE = re.compile(rf"[A-Za-z0-9]+|[{_HAN}]+")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？；])\s*")
_SOURCE_HEAD = re.compile(r"^\[(\d+)\][^\n]*$", re.M)
_STOP = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from",
    "how", "in", "is", "it", "of", "on", "or", "the", "to", "was", "were", "what", "when",
    "where", "which", "who", "why", "with",
})  # fmt: skip
_ZH_STOP = frozenset("的了是在和与及或也都把被就还")


def _terms(text: str) -> set[str]:
    """Lower-cased Latin words (no stop words) and Chinese character bigrams."""
    terms: set[str] = set()
    for piece in _WORD_RE.findall(text):
        if _HAN_RE.match(piece):
            chars = [c for c in piece if c not in _ZH_STOP]
            terms.update(a + b for a, b in pairwise(chars))
            if len(chars) == 1:
                terms.add(chars[0])
        elif piece.lower() not in _STOP:
            terms.add(piece.lower())
    return terms


def _numbered_sources(text: str) -> list[tuple[int, str]]:
    heads = list(_SOURCE_HEAD.finditer(text))
    sources = []
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        sources.append((int(head.group(1)), text[head.end() : end].strip()))
    return sources


def extractive_answer(question: str, context: str, *, max_sentences: int = 2) -> str:
    """Answer with the source sentences sharing the most terms with the question, cited [n].

    ``context`` holds numbered sources as ``create_rag_chain`` formats them (``[1] title``
    on its own line, then the text). Nothing is generated: this only picks sentences.

    Example:
        >>> extractive_answer("Who proposed the Turing test?", "[1]\\nTuring proposed it.")
        'Turing proposed it. [1]'
    """
    wanted = _terms(question)
    chinese = bool(_HAN_RE.search(question))
    scored: list[tuple[float, int, int, str]] = []
    for number, body in _numbered_sources(context):
        for position, sentence in enumerate(s for s in _SENTENCE_END.split(body) if s.strip()):
            have = _terms(sentence)
            overlap = len(wanted & have)
            if overlap:
                scored.append((overlap / math.sqrt(len(have) + 4), number, position, sentence))
    if not scored:
        return "资料中没有找到答案。" if chinese else "I don't know: the sources do not say."
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    # A second sentence joins only when it matches about as well as the best one.
    kept = [item for item in scored[:max_sentences] if item[0] >= 0.6 * scored[0][0]]
    best = sorted(kept, key=lambda item: (item[1], item[2]))
    joiner, gap = ("", "") if chinese else (" ", " ")
    return joiner.join(f"{sentence.strip()}{gap}[{number}]" for _, number, _, sentence in best)


# --------------------------------------------------------------------- the server


class LocalAPI:
    """A running loopback server; use it as a context manager or call :meth:`close`."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def base_url(self) -> str:
        """The OpenAI-style API root, e.g. ``http://127.0.0.1:50321/v1``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def requests(self) -> list[str]:
        """Paths requested so far (to see what the client sent)."""
        return list(self._server.seen)

    def close(self) -> None:
        """Stop the server."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalAPI(base_url={self.base_url!r})"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, embeddings: Any, rerank: RerankScores | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.embeddings = embeddings
        self.rerank = rerank
        self.lock = threading.Lock()  # one model call at a time (tokenizers are not reentrant)
        self.seen: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    # -- plumbing

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": {"message": message, "type": "invalid_request_error"}})

    def _read(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:
        self.server.seen.append(f"GET {self.path}")
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": STAND_IN_CHAT_MODEL}]})
        else:
            self._error(404, f"No route for GET {self.path}")

    def do_POST(self) -> None:
        self.server.seen.append(f"POST {self.path}")
        try:
            body = self._read()
        except json.JSONDecodeError as exc:
            self._error(400, f"Body is not JSON: {exc}")
            return
        path = self.path.rstrip("/")
        if path.endswith("/chat/completions"):
            self._chat(body)
        elif path.endswith("/embeddings"):
            self._embeddings(body)
        elif path.endswith("/rerank"):
            self._rerank(body)
        else:
            self._error(404, f"No route for POST {self.path}")

    # -- routes

    def _chat(self, body: dict[str, Any]) -> None:
        messages = [m for m in body.get("messages") or [] if isinstance(m.get("content"), str)]
        texts = [m["content"] for m in messages]
        users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
        question = texts[users[-1]] if users else ""
        # Sources live in the other messages (the default prompt's system message); a
        # prompt that puts them in the question's own message is read whole.
        others = "\n".join(t for i, t in enumerate(texts) if not users or i != users[-1])
        context = others if _SOURCE_HEAD.search(others) else "\n".join(texts)
        answer = extractive_answer(question, context)
        model = body.get("model") or STAND_IN_CHAT_MODEL
        created = int(time.time())
        usage = {
            "prompt_tokens": sum(len(t.split()) for t in texts),
            "completion_tokens": len(answer.split()),
            "total_tokens": sum(len(t.split()) for t in texts) + len(answer.split()),
        }
        if not body.get("stream"):
            self._send(
                200,
                {
                    "id": "chatcmpl-local",
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                },
            )
            return
        pieces = re.findall(r"\S+\s*|\s+", answer) or [answer]
        base = {
            "id": "chatcmpl-local",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }
        events: list[dict[str, Any]] = []
        for i, piece in enumerate(pieces):
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            events.append(
                {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            )
        events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**base, "choices": [], "usage": usage})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for event in events:
            self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True

    def _embeddings(self, body: dict[str, Any]) -> None:
        if self.server.embeddings is None:
            self._error(404, "This stand-in serves no embeddings (start it with embeddings=).")
            return
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(t, str) and t for t in inputs):
            self._error(400, "'input' must be a non-empty string or a list of non-empty strings.")
            return
        with self.server.lock:
            vectors = self.server.embeddings.embed_documents(inputs)
        dimensions = body.get("dimensions")
        if dimensions is not None:
            full = len(vectors[0]) if vectors else 0
            if not isinstance(dimensions, int) or not 1 <= dimensions <= full:
                self._error(400, f"'dimensions' must be an integer from 1 to {full}.")
                return
            # Keep the first values and re-normalize (what Matryoshka-trained models allow).
            vectors = [_unit(v[:dimensions]) for v in vectors]
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {"object": "embedding", "index": i, "embedding": _b64(v) if as_base64 else v}
            for i, v in enumerate(vectors)
        ]
        tokens = sum(len(t.split()) for t in inputs)
        self._send(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model", ""),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _rerank(self, body: dict[str, Any]) -> None:
        if self.server.rerank is None:
            self._error(404, "This stand-in serves no reranker (start it with rerank=).")
            return
        query, documents = body.get("query"), body.get("documents")
        if not isinstance(query, str) or not isinstance(documents, list):
            self._error(400, "'query' must be a string and 'documents' a list.")
            return
        texts = [d if isinstance(d, str) else str(d.get("text", "")) for d in documents]
        with self.server.lock:
            scores = [float(s) for s in self.server.rerank(query, texts)]
        order = sorted(range(len(texts)), key=lambda i: -scores[i])
        top_n = body.get("top_n")
        if isinstance(top_n, int) and top_n > 0:
            order = order[:top_n]
        results = [
            {"index": i, "relevance_score": scores[i], "document": {"text": texts[i]}}
            for i in order
        ]
        self._send(200, {"id": "rerank-local", "model": body.get("model"), "results": results})


def _unit(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def _b64(vector: Sequence[float]) -> str:
    import numpy as np

    return base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode("ascii")


def start_local_api(*, embeddings: Any = None, rerank: RerankScores | None = None) -> LocalAPI:
    """Start the loopback stand-in server in a background thread.

    Args:
        embeddings: Any LangChain ``Embeddings``; enables ``POST /v1/embeddings``
            (``dimensions`` keeps the first values and re-normalizes them).
        rerank: ``f(query, texts) -> one score per text``; enables ``POST /v1/rerank``.

    ``POST /v1/chat/completions`` (plain and streaming) is always on. Loopback addresses are
    added to ``NO_PROXY`` so that a proxy configured for the internet is not asked for them.
    """
    no_proxy = [p for p in os.environ.get("NO_PROXY", "").split(",") if p]
    for host in ("127.0.0.1", "localhost"):
        if host not in no_proxy:
            no_proxy.append(host)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(no_proxy)
    server = _Server(embeddings, rerank)
    thread = threading.Thread(target=server.serve_forever, name="local-api", daemon=True)
    thread.start()
    return LocalAPI(server, thread)
