"""HTTPReranker against a real loopback server speaking each provider's rerank API."""

from __future__ import annotations

import copy
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_embedkit.rerankers import HTTPReranker, RerankAPIError
from tests.support.http import JSONHandler, LoopbackServer, serve

KEY = "sk-loopback-secret-4f9a2c"
PATHS = {
    "/v1/rerank": "jina",
    "/v2/rerank": "cohere",
    "/api/v1/services/rerank/text-rerank/text-rerank": "dashscope",
}
QUERY = "vector search with bm25"
DOCS = [
    Document("cats and dogs", id="pets", metadata={"source": "a.md"}),
    Document("bm25 is a ranking function for search", id="bm25"),
    Document("vector search with bm25 fusion", id="hybrid"),
    Document("vector databases store embeddings", id=None, metadata={"n": 3}),
]


def overlap(query: str, text: str) -> float:
    words = set(query.lower().split())
    return len(words & set(text.lower().split())) / len(words)


class RerankHandler(JSONHandler):
    """Scores by word overlap; ``state["script"]`` injects failures before answering."""

    def send_status(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        state = self.server.state
        body = self.read_json()
        state["requests"].append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
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


@pytest.fixture(scope="module")
def running_server() -> Iterator[LoopbackServer]:
    with serve(RerankHandler) as running:
        yield running


@pytest.fixture
def server(running_server: LoopbackServer) -> LoopbackServer:
    """The shared server with fresh state (requests, script) for each test."""
    running_server.state.clear()
    running_server.state["requests"] = []
    return running_server


@pytest.mark.parametrize(
    ("provider", "path", "model"),
    [
        ("jina", "/v1/rerank", "jina-reranker-v2-base-multilingual"),
        ("cohere", "/v2/rerank", "rerank-v3.5"),
        ("dashscope", "/api/v1/services/rerank/text-rerank/text-rerank", "gte-rerank-v2"),
        ("vllm", "/v1/rerank", None),
    ],
)
def test_each_provider_shape(
    server: LoopbackServer, provider: str, path: str, model: str | None
) -> None:
    server.state["reverse"] = True
    reranker = HTTPReranker(
        provider=provider,  # type: ignore[arg-type]
        base_url=server.base_url,
        api_key=KEY,
        top_n=3,
    )
    before = copy.deepcopy(DOCS)
    out = reranker.compress_documents(DOCS, QUERY)
    assert before == DOCS
    assert [d.id for d in out] == ["hybrid", "bm25", None]
    assert [d.metadata["relevance_score"] for d in out] == [1.0, 0.5, 0.25]
    assert out[2].metadata["n"] == 3

    (request,) = server.state["requests"]
    assert request["path"] == path
    assert request["auth"] == f"Bearer {KEY}"
    body = request["body"]
    texts = [d.page_content for d in DOCS]
    if provider == "dashscope":
        assert body["input"] == {"query": QUERY, "documents": texts}
        assert body["parameters"]["top_n"] == 3
    else:
        assert (body["query"], body["documents"], body["top_n"]) == (QUERY, texts, 3)
    assert body.get("model") == model


async def test_async_each_shape(server: LoopbackServer) -> None:
    for provider in ("jina", "cohere", "dashscope", "vllm"):
        reranker = HTTPReranker(
            provider=provider,  # type: ignore[arg-type]
            base_url=server.base_url,
            api_key=KEY,
            top_n=2,
        )
        out = await reranker.acompress_documents(DOCS, QUERY)
        assert [d.id for d in out] == ["hybrid", "bm25"]


def test_score_threshold_filters_after_the_server(server: LoopbackServer) -> None:
    reranker = HTTPReranker(
        provider="jina", base_url=server.base_url, api_key=KEY, top_n=None, score_threshold=0.5
    )
    assert [d.id for d in reranker.compress_documents(DOCS, QUERY)] == ["hybrid", "bm25"]
    assert "top_n" not in server.state["requests"][0]["body"]


def test_429_and_5xx_are_retried(server: LoopbackServer, caplog: pytest.LogCaptureFixture) -> None:
    server.state["script"] = [429, 503, 502]
    reranker = HTTPReranker(
        provider="cohere", base_url=server.base_url, api_key=KEY, backoff_factor=0.01
    )
    with caplog.at_level(logging.DEBUG):
        out = reranker.compress_documents(DOCS, QUERY)
    assert out[0].id == "hybrid"
    assert len(server.state["requests"]) == 4
    assert "retrying" in caplog.text
    assert KEY not in caplog.text


async def test_async_retries(server: LoopbackServer) -> None:
    server.state["script"] = [500, 429]
    reranker = HTTPReranker(
        provider="dashscope", base_url=server.base_url, api_key=KEY, backoff_factor=0.01
    )
    out = await reranker.acompress_documents(DOCS, QUERY)
    assert out[0].id == "hybrid"
    assert len(server.state["requests"]) == 3


def test_retries_run_out_with_a_clear_error_and_no_key(server: LoopbackServer) -> None:
    server.state["script"] = [503] * 5
    reranker = HTTPReranker(
        provider="jina", base_url=server.base_url, api_key=KEY, max_retries=2, backoff_factor=0.01
    )
    with pytest.raises(RerankAPIError) as info:
        reranker.compress_documents(DOCS, QUERY)
    assert info.value.status_code == 503
    assert len(server.state["requests"]) == 3
    message = str(info.value)
    assert "HTTP 503" in message
    assert server.base_url in message
    assert KEY not in message
    assert "Bearer **********" in message  # the echoed key is masked


def test_auth_errors_are_not_retried(server: LoopbackServer) -> None:
    server.state["script"] = [401]
    reranker = HTTPReranker(provider="jina", base_url=server.base_url, api_key=KEY)
    with pytest.raises(RerankAPIError, match="JINA_API_KEY") as info:
        reranker.compress_documents(DOCS, QUERY)
    assert len(server.state["requests"]) == 1
    assert KEY not in str(info.value)
    assert KEY not in repr(info.value)


async def test_async_errors_hide_the_key(server: LoopbackServer) -> None:
    server.state["script"] = [403]
    reranker = HTTPReranker(provider="cohere", base_url=server.base_url, api_key=KEY)
    with pytest.raises(RerankAPIError, match="HTTP 403") as info:
        await reranker.acompress_documents(DOCS, QUERY)
    assert KEY not in str(info.value)


def test_timeouts_are_retried(server: LoopbackServer) -> None:
    server.state.update(script=["sleep"], sleep_s=1.0)
    reranker = HTTPReranker(
        provider="vllm", base_url=server.base_url, timeout=0.3, backoff_factor=0.01
    )
    assert reranker.compress_documents(DOCS, QUERY)[0].id == "hybrid"
    assert len(server.state["requests"]) == 2


def test_no_server_gives_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reranker = HTTPReranker(
        provider="jina",
        base_url=f"http://127.0.0.1:{port}",
        api_key=KEY,
        max_retries=1,
        backoff_factor=0.01,
    )
    with pytest.raises(RerankAPIError, match="did not answer after 2 attempt") as info:
        reranker.compress_documents(DOCS, QUERY)
    assert info.value.status_code is None
    assert KEY not in str(info.value)


def test_unexpected_body_and_wrong_provider(server: LoopbackServer) -> None:
    server.state["script"] = ["garbage"]
    reranker = HTTPReranker(provider="jina", base_url=server.base_url, api_key=KEY)
    with pytest.raises(RerankAPIError, match="expected JSON with results"):
        reranker.compress_documents(DOCS, QUERY)
    wrong_path = HTTPReranker(
        provider="jina", base_url=server.base_url + "/nothing/here/v1/rerank", api_key=KEY
    )
    with pytest.raises(RerankAPIError, match="HTTP 404: no rerank endpoint"):
        wrong_path.compress_documents(DOCS, QUERY)


def test_empty_input_sends_nothing(server: LoopbackServer) -> None:
    reranker = HTTPReranker(provider="jina", base_url=server.base_url, api_key=KEY)
    assert reranker.compress_documents([], QUERY) == []
    assert server.state["requests"] == []


def test_inside_contextual_compression_retriever(server: LoopbackServer) -> None:
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=16))
    store.add_documents(DOCS)
    retriever = ContextualCompressionRetriever(
        base_compressor=HTTPReranker(
            provider="jina", base_url=server.base_url, api_key=KEY, top_n=2
        ),
        base_retriever=store.as_retriever(search_kwargs={"k": 4}),
    )
    got = retriever.invoke(QUERY)
    assert [d.id for d in got] == ["hybrid", "bm25"]
    assert [d.metadata["relevance_score"] for d in got] == [1.0, 0.5]
