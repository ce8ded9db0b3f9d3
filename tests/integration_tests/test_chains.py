"""The RAG chain with ChatOpenAI against a real loopback /v1/chat/completions server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_openai import ChatOpenAI

from langchain_embedkit.chains import create_rag_chain
from langchain_embedkit.rerankers import HTTPReranker
from langchain_embedkit.retrievers import HybridRetriever
from tests.support.chat_server import ANSWER_PIECES, ANSWER_ZH, ChatHandler
from tests.support.http import LoopbackServer, serve

DOCS = [
    Document(
        "BM25 weights rare terms higher through inverse document frequency.",
        id="bm25",
        metadata={"title": "BM25"},
    ),
    Document("Dense retrieval compares embedding vectors.", id="dense"),
    Document("BM25 是一种经典的关键词排序函数。", id="bm25-zh"),
]


class FixedRetriever(BaseRetriever):
    docs: list[Document]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return list(self.docs)


@pytest.fixture(scope="module")
def running_server() -> Iterator[LoopbackServer]:
    with serve(ChatHandler) as running:
        yield running


@pytest.fixture
def server(running_server: LoopbackServer) -> LoopbackServer:
    running_server.state["requests"] = []
    return running_server


def chat_model(server: LoopbackServer) -> ChatOpenAI:
    return ChatOpenAI(
        model="qwen-plus", base_url=f"{server.base_url}/v1", api_key="sk-local", max_retries=0
    )


def chat_requests(server: LoopbackServer) -> list[dict[str, Any]]:
    return [r["body"] for r in server.state["requests"] if r["path"] == "/v1/chat/completions"]


def test_invoke_sends_context_and_question(server: LoopbackServer) -> None:
    chain = create_rag_chain(FixedRetriever(docs=DOCS[:2]), chat_model(server))
    out = chain.invoke({"question": "How does BM25 weight terms?"})
    assert out["answer"] == "".join(ANSWER_PIECES)
    assert [(d.id, d.metadata["citation"]) for d in out["sources"]] == [("bm25", 1), ("dense", 2)]

    (request,) = chat_requests(server)
    system, human = request["messages"]
    assert system["role"] == "system"
    assert "[1] BM25\nBM25 weights rare terms" in system["content"]
    assert "[2]\nDense retrieval compares embedding vectors." in system["content"]
    assert "[1] or [2][3]" in system["content"]
    assert human == {"role": "user", "content": "How does BM25 weight terms?"}
    assert out["context"] in system["content"]


def test_stream_over_sse_yields_answer_chunks(server: LoopbackServer) -> None:
    chain = create_rag_chain(FixedRetriever(docs=DOCS[:2]), chat_model(server))
    chunks = list(chain.stream({"question": "How does BM25 weight terms?"}))
    assert [d.id for d in chunks[0]["sources"]] == ["bm25", "dense"]
    pieces = [c["answer"] for c in chunks if c.get("answer")]
    assert pieces == ANSWER_PIECES
    (request,) = chat_requests(server)
    assert request["stream"] is True


async def test_astream_chinese_question_gets_the_chinese_prompt(server: LoopbackServer) -> None:
    chain = create_rag_chain(FixedRetriever(docs=DOCS[2:]), chat_model(server))
    pieces = [
        c["answer"] async for c in chain.astream({"question": "BM25 是什么？"}) if c.get("answer")
    ]
    assert pieces == ANSWER_ZH
    (request,) = chat_requests(server)
    assert "请用中文回答" in request["messages"][0]["content"]
    assert "[1]\nBM25 是一种经典的关键词排序函数。" in request["messages"][0]["content"]


def test_hybrid_retrieval_http_rerank_and_chat_end_to_end(server: LoopbackServer) -> None:
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=32))
    store.add_documents(DOCS)
    hybrid = HybridRetriever(retrievers=[store.as_retriever(), FixedRetriever(docs=DOCS)], k=3)
    reranker = HTTPReranker(provider="vllm", base_url=server.base_url, top_n=1)
    chain = create_rag_chain(hybrid, chat_model(server), reranker=reranker)
    out = chain.invoke({"question": "dense vectors?"})
    assert [d.id for d in out["sources"]] == ["dense"]
    assert out["sources"][0].metadata["score"] == 0.5  # "dense", one of the query's two words
    assert "fused_score" in out["sources"][0].metadata
    rerank_request = next(r for r in server.state["requests"] if r["path"] == "/v1/rerank")
    assert len(rerank_request["body"]["documents"]) == 3
    (request,) = chat_requests(server)
    assert "[1]\nDense retrieval" in request["messages"][0]["content"]
    assert "[2]" not in out["context"]
