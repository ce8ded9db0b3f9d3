"""create_rag_chain with langchain_core's fake chat models: output shape, prompts, streaming."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.language_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever

from langchain_embedkit.chains import (
    create_rag_chain,
    default_rag_prompt,
    detect_language,
    format_context,
)
from langchain_embedkit.rerankers.base import BaseReranker
from langchain_embedkit.retrievers import HybridRetriever

CORPUS = [
    Document(
        "BM25 ranks documents by term frequency and inverse document frequency.",
        id="bm25",
        metadata={"title": "BM25", "fused_score": 0.03},
    ),
    Document("Dense retrieval compares embedding vectors.", id="dense", metadata={"score": 0.7}),
    Document("向量检索通过比较向量的相似度来查找文档。", id="zh-1"),
]


class FixedRetriever(BaseRetriever):
    docs: list[Document]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return list(self.docs)


class WordOverlapReranker(BaseReranker):
    def _score(self, query: str, texts: list[str]) -> list[tuple[int, float]]:
        words = set(query.lower().split())
        return [(i, float(len(words & set(t.lower().split())))) for i, t in enumerate(texts)]


class PromptRecorder(BaseCallbackHandler):
    """Keeps the messages each chat model call received."""

    def __init__(self) -> None:
        self.calls: list[list[BaseMessage]] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        self.calls.extend(messages)


def test_invoke_returns_answer_sources_and_context() -> None:
    before = copy.deepcopy(CORPUS)
    chain = create_rag_chain(
        FixedRetriever(docs=CORPUS[:2]), FakeListChatModel(responses=["BM25 uses IDF [1]."])
    )
    out = chain.invoke({"question": "How does BM25 rank?"})
    assert set(out) == {"answer", "sources", "context"}
    assert out["answer"] == "BM25 uses IDF [1]."
    assert [(d.id, d.metadata["citation"]) for d in out["sources"]] == [("bm25", 1), ("dense", 2)]
    assert [d.metadata["score"] for d in out["sources"]] == [0.03, 0.7]
    assert out["context"].startswith("[1] BM25\nBM25 ranks documents")
    assert "\n\n[2]\nDense retrieval" in out["context"]
    assert before == CORPUS


def test_prompt_carries_context_question_and_citation_rule() -> None:
    recorder = PromptRecorder()
    chain = create_rag_chain(FixedRetriever(docs=CORPUS[:2]), FakeListChatModel(responses=["ok"]))
    chain.invoke({"question": "How does BM25 rank?"}, config={"callbacks": [recorder]})
    (messages,) = recorder.calls
    system, human = messages
    assert "[1] BM25" in str(system.content)
    assert "[2]" in str(system.content)
    assert "like [1] or [2][3]" in str(system.content)
    assert human.content == "How does BM25 rank?"


def test_chinese_question_gets_the_chinese_prompt() -> None:
    recorder = PromptRecorder()
    chain = create_rag_chain(FixedRetriever(docs=CORPUS[2:]), FakeListChatModel(responses=["好"]))
    chain.invoke({"question": "什么是向量检索？"}, config={"callbacks": [recorder]})
    chain.invoke({"question": "What is vector search?"}, config={"callbacks": [recorder]})
    zh_system, en_system = (str(call[0].content) for call in recorder.calls)
    assert "请用中文回答" in zh_system
    assert "例如 [1]" in zh_system
    assert "Answer the question using only" in en_system


def test_language_can_be_forced() -> None:
    recorder = PromptRecorder()
    chain = create_rag_chain(
        FixedRetriever(docs=CORPUS), FakeListChatModel(responses=["ok"]), language="zh"
    )
    chain.invoke("What is BM25?", config={"callbacks": [recorder]})
    assert "请用中文回答" in str(recorder.calls[0][0].content)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("什么是向量检索？", "zh"),
        ("BM25 和向量检索有什么区别？", "zh"),
        ("如何在 LangChain 中使用 Milvus？", "zh"),
        ("What does 向量检索 mean?", "en"),
        ("How does BM25 work?", "en"),
        ("ベクトル検索とは何ですか？", "en"),
        ("", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_stream_yields_sources_first_then_answer_pieces() -> None:
    chain = create_rag_chain(
        FixedRetriever(docs=CORPUS[:2]), FakeListChatModel(responses=["BM25 uses IDF [1]."])
    )
    chunks = list(chain.stream({"question": "How does BM25 rank?"}))
    assert set(chunks[0]) == {"sources", "context"}
    assert [d.id for d in chunks[0]["sources"]] == ["bm25", "dense"]
    pieces = [c["answer"] for c in chunks[1:]]
    assert all(set(c) == {"answer"} for c in chunks[1:])
    assert len(pieces) > 5
    assert "".join(pieces) == "BM25 uses IDF [1]."


async def test_astream_and_ainvoke() -> None:
    chain = create_rag_chain(
        FixedRetriever(docs=CORPUS[2:]),
        GenericFakeChatModel(messages=iter(["向量 检索 [1]。", "第二 次"])),
    )
    stream = chain.astream({"question": "什么是向量检索？"})
    pieces = [c["answer"] async for c in stream if "answer" in c]
    assert len(pieces) > 1
    assert "".join(pieces) == "向量 检索 [1]。"
    out = await chain.ainvoke({"question": "什么是向量检索？"})
    assert out["answer"] == "第二 次"
    assert out["sources"][0].id == "zh-1"


def test_reranker_orders_and_bounds_the_sources() -> None:
    chain = create_rag_chain(
        FixedRetriever(docs=CORPUS),
        FakeListChatModel(responses=["ok"]),
        reranker=WordOverlapReranker(top_n=1),
    )
    out = chain.invoke({"question": "dense retrieval compares vectors"})
    assert [d.id for d in out["sources"]] == ["dense"]
    assert out["sources"][0].metadata["score"] == out["sources"][0].metadata["relevance_score"]
    assert out["sources"][0].metadata["citation"] == 1
    assert "[2]" not in out["context"]


async def test_reranker_runs_in_async_too() -> None:
    chain = create_rag_chain(
        FixedRetriever(docs=CORPUS),
        FakeListChatModel(responses=["ok"]),
        reranker=WordOverlapReranker(top_n=1),
    )
    out = await chain.ainvoke({"question": "dense retrieval compares vectors"})
    assert [d.id for d in out["sources"]] == ["dense"]


def test_works_over_a_hybrid_retriever() -> None:
    hybrid = HybridRetriever(
        retrievers=[FixedRetriever(docs=CORPUS), FixedRetriever(docs=CORPUS[::-1])], k=2
    )
    out = create_rag_chain(hybrid, FakeListChatModel(responses=["ok"])).invoke("q")
    assert len(out["sources"]) == 2
    assert all("fused_score" in d.metadata for d in out["sources"])


def test_no_documents_tells_the_model_so() -> None:
    chain = create_rag_chain(FixedRetriever(docs=[]), FakeListChatModel(responses=["不知道"]))
    out = chain.invoke({"question": "什么是向量检索？"})
    assert out["sources"] == []
    assert out["context"] == "（未检索到相关资料）"
    assert (
        create_rag_chain(FixedRetriever(docs=[]), FakeListChatModel(responses=["?"])).invoke(
            "What?"
        )["context"]
        == "(no sources found)"
    )


def test_custom_prompt_with_an_extra_variable() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Audience: {audience}\n{context}"), ("human", "{question}")]
    )
    recorder = PromptRecorder()
    chain = create_rag_chain(
        FixedRetriever(docs=CORPUS[:1]), FakeListChatModel(responses=["ok"]), prompt=prompt
    )
    chain.invoke({"question": "q", "audience": "students"}, config={"callbacks": [recorder]})
    assert str(recorder.calls[0][0].content).startswith("Audience: students\n[1] BM25")


def test_custom_prompt_without_context_is_refused() -> None:
    prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
    with pytest.raises(ValueError, match=r"lacks \{context\}"):
        create_rag_chain(FixedRetriever(docs=[]), FakeListChatModel(responses=[]), prompt=prompt)


def test_bad_input_explains_the_expected_shape() -> None:
    chain = create_rag_chain(FixedRetriever(docs=[]), FakeListChatModel(responses=["x"]))
    with pytest.raises(ValueError, match="'question'"):
        chain.invoke({"query": "What is BM25?"})


def test_helpers() -> None:
    assert set(default_rag_prompt("en").input_variables) == {"context", "question"}
    with pytest.raises(ValueError, match="'en', 'zh'"):
        default_rag_prompt("fr")  # type: ignore[arg-type]
    assert format_context([Document("a"), Document("b", metadata={"title": " "})]) == (
        "[1]\na\n\n[2]\nb"
    )


def test_unknown_languages_are_refused_listing_the_choices() -> None:
    llm = FakeListChatModel(responses=["x"])
    with pytest.raises(ValueError, match=r"Unknown language 'fr'; supported: 'auto', 'en', 'zh'"):
        create_rag_chain(FixedRetriever(docs=CORPUS), llm, language="fr")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Unknown prompt language 'fr'; supported: 'en', 'zh'"):
        default_rag_prompt("fr")  # type: ignore[arg-type]
