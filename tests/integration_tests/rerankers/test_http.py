"""HTTPReranker against a real loopback server speaking each provider's rerank API."""

from __future__ import annotations

import copy
import logging
import random
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import InMemoryVectorStore
from pydantic import SecretStr

from langchain_embedkit.rerankers import HTTPReranker, RerankAPIError
from langchain_embedkit.rerankers.http import PROVIDERS
from tests.support.http import LoopbackServer, serve
from tests.support.rerank_server import RerankHandler

KEY = "sk-loopback-secret-4f9a2c"
QUERY = "vector search with bm25"
DOCS = [
    Document("cats and dogs", id="pets", metadata={"source": "a.md"}),
    Document("bm25 is a ranking function for search", id="bm25"),
    Document("vector search with bm25 fusion", id="hybrid"),
    Document("vector databases store embeddings", id=None, metadata={"n": 3}),
]


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


# Large calls split to fit the provider's per-request caps.

VOCAB = ["vector", "search", "with", "bm25", "dense", "sparse", "fusion", "milvus", "向量", "检索"]


def corpus(n: int, seed: int = 7) -> list[Document]:
    """``n`` short passages whose overlap scores tie often, so merge order is tested too."""
    rng = random.Random(seed)
    return [
        Document(" ".join(rng.choices(VOCAB, k=rng.randint(1, 8))), id=f"d{i}") for i in range(n)
    ]


def ranking(out: list[Document] | Any) -> list[tuple[str | None, float]]:
    return [(d.id, d.metadata["relevance_score"]) for d in out]


def sent(request: dict[str, Any]) -> list[str]:
    body = request["body"]
    return body["input"]["documents"] if "input" in body else body["documents"]


def reranker_for(server: LoopbackServer, provider: str, **settings: Any) -> HTTPReranker:
    return HTTPReranker(
        provider=provider,  # type: ignore[arg-type]
        base_url=server.base_url,
        api_key=SecretStr(KEY),
        backoff_factor=0.01,
        **settings,
    )


def unsplit(
    server: LoopbackServer, provider: str, docs: list[Document], query: str = QUERY, **settings: Any
) -> list[tuple[str | None, float]]:
    """The ranking one uncapped request to the same server gives."""
    server.state.update(max_documents=None, max_characters=None)
    reranker = reranker_for(
        server,
        provider,
        max_documents_per_request=None,
        max_characters_per_request=None,
        **settings,
    )
    expected = ranking(reranker.compress_documents(docs, query))
    assert len(server.state["requests"]) == 1
    server.state["requests"] = []
    return expected


@pytest.mark.parametrize("provider", ["jina", "cohere", "dashscope", "vllm"])
@pytest.mark.parametrize("top_n", [None, 7])
def test_split_call_equals_one_unlimited_request(
    server: LoopbackServer, provider: str, top_n: int | None
) -> None:
    docs = corpus(1234)
    expected = unsplit(server, provider, docs, top_n=top_n)
    server.state["max_documents"] = 100
    reranker = reranker_for(server, provider, top_n=top_n, max_documents_per_request=100)

    got = ranking(reranker.compress_documents(docs, QUERY))

    assert got == expected
    assert len(got) == (1234 if top_n is None else 7)
    requests = server.state["requests"]
    assert [len(sent(r)) for r in requests] == [100] * 12 + [34]
    texts = [d.page_content for d in docs]
    assert [t for r in requests for t in sent(r)] == texts  # every document once, in order
    if top_n is not None:  # each slice is asked for its own best 7, never more than it holds
        bodies = [r["body"].get("parameters", r["body"]) for r in requests]
        assert [b["top_n"] for b in bodies] == [7] * 13


@pytest.mark.parametrize("provider", ["jina", "cohere", "dashscope", "vllm"])
def test_provider_defaults_fit_the_provider_caps(server: LoopbackServer, provider: str) -> None:
    spec = PROVIDERS[provider]
    assert spec.max_documents is not None
    docs = corpus(2 * spec.max_documents + 1)
    expected = unsplit(server, provider, docs, top_n=10)
    # The server now refuses what the real provider refuses; no cap is passed below.
    server.state.update(max_documents=spec.max_documents, max_characters=spec.max_characters)

    got = ranking(reranker_for(server, provider, top_n=10).compress_documents(docs, QUERY))

    assert got == expected
    assert len(server.state["requests"]) >= 3
    assert all(len(sent(r)) <= spec.max_documents for r in server.state["requests"])


def test_top_n_applies_once_over_all_documents(server: LoopbackServer) -> None:
    docs = [Document(f"cats and dogs {i}", id=f"pets{i}") for i in range(300)]
    docs[5] = Document("bm25 alone", id="quarter")
    docs[150] = Document("vector search with bm25 fusion", id="best")
    docs[299] = Document("vector search with milvus", id="three-quarters")
    server.state["max_documents"] = 100
    reranker = reranker_for(server, "cohere", top_n=3, max_documents_per_request=100)

    got = ranking(reranker.compress_documents(docs, QUERY))

    # The best of each slice competes: slice 1 holds only the 0.25 document, yet it
    # makes the final three because the other slices have nothing better to offer.
    assert got == [("best", 1.0), ("three-quarters", 0.75), ("quarter", 0.25)]
    assert len(server.state["requests"]) == 3


def test_character_budget_splits_chinese_text(server: LoopbackServer) -> None:
    query = "向量 检索 bm25"
    docs = corpus(400, seed=11)
    expected = unsplit(server, "dashscope", docs, query=query, top_n=20)
    server.state["max_characters"] = 2000
    reranker = reranker_for(
        server,
        "dashscope",
        top_n=20,
        max_documents_per_request=None,
        max_characters_per_request=2000,
    )

    got = ranking(reranker.compress_documents(docs, query))

    assert got == expected
    sizes = [sum(len(query) + len(t) for t in sent(r)) for r in server.state["requests"]]
    assert len(sizes) >= 5
    assert max(sizes) <= 2000


async def test_async_split_agrees_with_sync_and_is_bounded(server: LoopbackServer) -> None:
    docs = corpus(400)
    expected = unsplit(server, "jina", docs, top_n=10)
    server.state.update(max_documents=50, delay_s=0.05, peak=0)
    reranker = reranker_for(
        server, "jina", top_n=10, max_documents_per_request=50, max_concurrency=3
    )

    assert ranking(reranker.compress_documents(docs, QUERY)) == expected
    assert server.state["peak"] == 1  # the sync path sends one slice after another

    server.state.update(requests=[], peak=0)
    got = ranking(await reranker.acompress_documents(docs, QUERY))

    assert got == expected
    assert len(server.state["requests"]) == 8
    assert 2 <= server.state["peak"] <= 3  # concurrent, but never more than max_concurrency


def test_retries_happen_per_slice(server: LoopbackServer) -> None:
    docs = corpus(300)
    expected = unsplit(server, "dashscope", docs, top_n=5)
    server.state.update(max_documents=100, script=[None, 503])
    reranker = reranker_for(server, "dashscope", top_n=5, max_documents_per_request=100)

    assert ranking(reranker.compress_documents(docs, QUERY)) == expected
    assert [len(sent(r)) for r in server.state["requests"]] == [100, 100, 100, 100]


def poisoned(n: int, at: int) -> list[Document]:
    docs = corpus(n)
    docs[at] = Document("poisoned passage", id="bad")
    return docs


def test_a_failing_slice_names_its_range_and_stops_the_call(server: LoopbackServer) -> None:
    server.state.update(max_documents=100, fail_on="poisoned passage")
    reranker = reranker_for(server, "jina", max_documents_per_request=100)

    with pytest.raises(RerankAPIError) as info:
        reranker.compress_documents(poisoned(1000, at=250), QUERY)

    message = str(info.value)
    assert info.value.status_code == 400
    assert "documents[200:300] (request 3 of 10" in message
    assert "max_documents_per_request=100" in message
    assert "unsafe content" in message  # what the provider said
    assert KEY not in message
    assert "Bearer **********" in message
    assert len(server.state["requests"]) == 3  # nothing sent after the failure


async def test_async_failing_slice_names_its_range(server: LoopbackServer) -> None:
    server.state.update(max_documents=100, fail_on="poisoned passage")
    reranker = reranker_for(server, "dashscope", max_documents_per_request=100)

    with pytest.raises(RerankAPIError) as info:
        await reranker.acompress_documents(poisoned(1000, at=250), QUERY)

    message = str(info.value)
    assert info.value.status_code == 400
    assert "documents[200:300] (request 3 of 10" in message
    assert "unsafe content" in message
    assert KEY not in message


def test_a_cap_above_the_servers_says_which_setting_to_lower(server: LoopbackServer) -> None:
    server.state["max_documents"] = 100
    reranker = reranker_for(server, "dashscope", max_documents_per_request=150)

    with pytest.raises(RerankAPIError) as info:
        reranker.compress_documents(corpus(400), QUERY)

    message = str(info.value)
    assert "documents[0:150] (request 1 of 3" in message
    assert "at most 100 documents, got 150" in message
    assert "lower max_documents_per_request" in message
