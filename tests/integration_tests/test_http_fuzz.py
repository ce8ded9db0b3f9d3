"""Generated reply bodies for both HTTP clients, served from 127.0.0.1.

Whatever the server answers with HTTP 200, each call either returns a well-formed result or
raises the client's own error type, within the deadline: never a ``TypeError``,
``KeyError``, ``JSONDecodeError`` or a silent partial result.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document

from langchain_embedkit.embeddings import OpenAICompatibleEmbeddings
from langchain_embedkit.errors import EmbeddingAPIError, RerankAPIError
from langchain_embedkit.rerankers import HTTPReranker
from tests.support.http import ScriptedReplyHandler, serve

TIMEOUT = 2.0
TEXTS = ["a", "b", "c"]
DOCS = [Document(f"passage {i}", id=str(i)) for i in range(3)]
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
indices = st.one_of(
    st.integers(min_value=-1, max_value=3),
    st.floats(min_value=-1, max_value=3),
    st.booleans(),
    st.sampled_from(["0", "1", None]),
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.booleans(),
    st.none(),
    st.text(max_size=2),
)


def maybe_drop(item: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    drop = draw(st.sets(st.sampled_from(sorted(item)), max_size=1))
    return {k: v for k, v in item.items() if k not in drop}


@st.composite
def valid_data(draw: st.DrawFn, count: int) -> list[dict[str, Any]]:
    """A correct ``data`` list in a random order: the clients must accept these."""
    dim = draw(st.integers(min_value=1, max_value=5))
    finite = st.floats(allow_nan=False, allow_infinity=False, width=32)
    order = draw(st.permutations(range(count)))
    return [
        {"index": i, "embedding": draw(st.lists(finite, min_size=dim, max_size=dim))} for i in order
    ]


@st.composite
def embedding_payloads(draw: st.DrawFn) -> Any:
    item = st.fixed_dictionaries(
        {
            "index": indices,
            "embedding": st.one_of(st.lists(numbers, max_size=4), json_values),
        }
    )
    kind = draw(st.sampled_from(["valid", "near", "mutated", "any"]))
    if kind == "valid":
        return {"object": "list", "data": draw(valid_data(len(TEXTS)))}
    if kind == "near":
        items = draw(st.lists(item, min_size=0, max_size=4))
        return {"data": [maybe_drop(i, draw) for i in items]}
    if kind == "mutated":
        data = draw(valid_data(len(TEXTS)))
        position = draw(st.integers(0, len(data) - 1))
        field = draw(st.sampled_from(["index", "embedding"]))
        data[position][field] = draw(json_values if field == "embedding" else indices)
        return {"data": data}
    return draw(json_values)


@st.composite
def rerank_payloads(draw: st.DrawFn) -> Any:
    item = st.fixed_dictionaries({"index": indices, "relevance_score": numbers})
    kind = draw(st.sampled_from(["valid", "near", "any"]))
    if kind == "valid":
        chosen = draw(st.lists(st.integers(0, len(DOCS) - 1), unique=True, max_size=len(DOCS)))
        finite = st.floats(allow_nan=False, allow_infinity=False)
        return {"results": [{"index": i, "relevance_score": draw(finite)} for i in chosen]}
    if kind == "near":
        items = draw(st.lists(item, max_size=5))
        return {"results": [maybe_drop(i, draw) for i in items]}
    return draw(json_values)


@st.composite
def bodies(draw: st.DrawFn, payloads: st.SearchStrategy[Any]) -> bytes:
    kind = draw(st.sampled_from(["json", "json", "json", "truncated", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    # json.dumps writes NaN / Infinity literals, as careless servers do.
    encoded = json.dumps(draw(payloads)).encode()
    if kind == "truncated":
        return encoded[: draw(st.integers(0, max(len(encoded) - 1, 0)))]
    return encoded


def test_embeddings_replies_parse_or_raise_their_own_error() -> None:
    outcomes = {"ok": 0, "error": 0}
    with serve(ScriptedReplyHandler) as server:
        emb = OpenAICompatibleEmbeddings(
            model="m", base_url=f"{server.base_url}/v1", max_retries=0, timeout=TIMEOUT
        )

        @FUZZ
        @given(body=bodies(embedding_payloads()))
        def check(body: bytes) -> None:
            server.state["body"] = body
            start = time.monotonic()
            try:
                vectors = emb.embed_documents(TEXTS)
            except EmbeddingAPIError as exc:
                assert server.base_url in str(exc)
                outcomes["error"] += 1
            else:
                assert len(vectors) == len(TEXTS)
                assert len({len(v) for v in vectors}) == 1 and len(vectors[0]) >= 1
                assert all(type(x) is float and math.isfinite(x) for v in vectors for x in v)
                outcomes["ok"] += 1
            assert time.monotonic() - start < TIMEOUT + 3.0

        check()
    # Both branches were exercised: the generator makes valid and broken replies.
    assert outcomes["ok"] >= 10 and outcomes["error"] >= 10, outcomes


def test_reranker_replies_parse_or_raise_their_own_error() -> None:
    outcomes = {"ok": 0, "error": 0}
    with serve(ScriptedReplyHandler) as server:
        reranker = HTTPReranker(
            provider="vllm", base_url=server.base_url, max_retries=0, timeout=TIMEOUT, top_n=None
        )

        @FUZZ
        @given(body=bodies(rerank_payloads()))
        def check(body: bytes) -> None:
            server.state["body"] = body
            start = time.monotonic()
            try:
                ranked = reranker.compress_documents(DOCS, "q")
            except RerankAPIError as exc:
                assert server.base_url in str(exc)
                outcomes["error"] += 1
            else:
                ids = [d.id for d in ranked]
                assert len(ids) == len(set(ids)) <= len(DOCS)
                scores = [d.metadata["relevance_score"] for d in ranked]
                assert all(type(s) is float and math.isfinite(s) for s in scores)
                assert scores == sorted(scores, reverse=True)
                outcomes["ok"] += 1
            assert time.monotonic() - start < TIMEOUT + 3.0

        check()
    assert outcomes["ok"] >= 10 and outcomes["error"] >= 10, outcomes
