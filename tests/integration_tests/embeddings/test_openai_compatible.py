"""OpenAICompatibleEmbeddings against a real /v1/embeddings server on 127.0.0.1."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from langchain_embedkit.embeddings import (
    QWEN3_DEFAULT_TASK,
    EmbeddingAPIError,
    OpenAICompatibleEmbeddings,
)
from tests.support.embeddings_server import (
    DEFAULT_DIM,
    EmbeddingsAPIHandler,
    fake_vector,
)
from tests.support.http import LoopbackServer, serve

KEY = "sk-loopback-7f3a9c1e55d2"
TEXTS = [f"text number {i}: {'x' * i}" for i in range(25)]


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve(EmbeddingsAPIHandler) as running:
        running.state.update({"key": KEY, "script": []})
        yield running


def make(server: LoopbackServer, **kwargs: Any) -> OpenAICompatibleEmbeddings:
    options: dict[str, Any] = {
        "model": "text-embedding-3-small",
        "api_key": KEY,
        "base_url": f"{server.base_url}/v1",
        "max_retries": 2,
        **kwargs,
    }
    return OpenAICompatibleEmbeddings(**options)


def sizes(server: LoopbackServer) -> list[int]:
    return [len(body["input"]) for body in server.state["requests"]]


def test_sends_raw_strings_as_float_in_batches(server: LoopbackServer) -> None:
    long_text = "tokenizers must not touch this " * 2000
    texts = [*TEXTS, long_text, "人工智能 🤖"]
    vectors = make(server, batch_size=8).embed_documents(texts)
    assert sizes(server) == [8, 8, 8, 3]
    sent = [t for body in server.state["requests"] for t in body["input"]]
    assert sent == texts  # raw strings, unchanged, in order: no token arrays, no chunking
    for body in server.state["requests"]:
        assert body["encoding_format"] == "float"
        assert body["model"] == "text-embedding-3-small"
        assert "dimensions" not in body
    assert vectors == [fake_vector(t, DEFAULT_DIM) for t in texts]
    assert all(type(x) is float for v in vectors for x in v)


def test_forwards_dimensions(server: LoopbackServer) -> None:
    emb = make(server, dimensions=7)
    vectors = emb.embed_documents(TEXTS[:3])
    assert [len(v) for v in vectors] == [7, 7, 7]
    assert server.state["requests"][0]["dimensions"] == 7
    assert len(emb.embed_query("q")) == 7


def test_server_ignoring_dimensions_is_an_error(server: LoopbackServer) -> None:
    server.state["ignore_dimensions"] = True
    with pytest.raises(EmbeddingAPIError, match=r"dimensions=7 .*returned vectors of size 16"):
        make(server, dimensions=7).embed_documents(["a"])


def test_keeps_order_when_the_server_shuffles(server: LoopbackServer) -> None:
    server.state["reverse"] = True
    vectors = make(server, batch_size=4).embed_documents(TEXTS[:10])
    assert vectors == [fake_vector(t, DEFAULT_DIM) for t in TEXTS[:10]]


def test_dashscope_model_batches_by_ten(server: LoopbackServer) -> None:
    server.state["max_batch"] = 10  # DashScope answers 400 beyond 10 texts
    emb = make(server, model="text-embedding-v4")
    assert emb.batch_size == 10
    assert len(emb.embed_documents(TEXTS)) == 25
    assert sizes(server) == [10, 10, 5]


def test_retries_rate_limits_and_server_errors(server: LoopbackServer) -> None:
    server.state["script"] = [
        {"status": 429, "retry_after_ms": 10},
        {"status": 503, "retry_after_ms": 10},
    ]
    vectors = make(server).embed_documents(TEXTS[:2])
    assert len(server.state["requests"]) == 3
    assert vectors == [fake_vector(t, DEFAULT_DIM) for t in TEXTS[:2]]


def test_backs_off_without_retry_after(server: LoopbackServer) -> None:
    server.state["script"] = [{"status": 500}]
    start = time.perf_counter()
    make(server).embed_documents(["a"])
    # Backoff starts at 0.5 s with up to 25% jitter.
    assert time.perf_counter() - start >= 0.35
    assert len(server.state["requests"]) == 2


def test_retries_a_timed_out_request(server: LoopbackServer) -> None:
    server.state["script"] = [{"sleep": 2.0}]
    vectors = make(server, timeout=0.5).embed_documents(["slow"])
    assert vectors == [fake_vector("slow", DEFAULT_DIM)]
    assert len(server.state["requests"]) == 2


def test_gives_up_after_max_retries(server: LoopbackServer) -> None:
    server.state["script"] = [{"status": 500, "retry_after_ms": 5}] * 5
    with pytest.raises(EmbeddingAPIError) as info:
        make(server, max_retries=2).embed_documents(["a", "b"])
    assert info.value.status_code == 500
    assert len(server.state["requests"]) == 3
    message = str(info.value)
    assert "HTTP 500 after 2 retries" in message and "batch 1 of 1, 2 texts" in message


def test_timeout_error_says_what_to_change(server: LoopbackServer) -> None:
    server.state["script"] = [{"sleep": 1.0}] * 3
    with pytest.raises(EmbeddingAPIError, match=r"timed out after 0.3 s.*Raise timeout="):
        make(server, timeout=0.3, max_retries=1).embed_documents(["a"])


def test_no_request_for_an_empty_list(server: LoopbackServer) -> None:
    assert make(server).embed_documents([]) == []
    assert server.state["requests"] == []


async def test_async_no_request_for_an_empty_list(server: LoopbackServer) -> None:
    assert await make(server).aembed_documents([]) == []
    assert server.state["requests"] == []


async def test_async_batches_run_concurrently_within_the_bound(server: LoopbackServer) -> None:
    server.state["delay"] = 0.15
    emb = make(server, batch_size=2, max_concurrency=3)
    vectors = await emb.aembed_documents(TEXTS[:16])
    assert vectors == [fake_vector(t, DEFAULT_DIM) for t in TEXTS[:16]]
    assert sorted(sizes(server)) == [2] * 8
    assert server.state["max_inflight"] == 3


async def test_async_retries_and_keeps_order(server: LoopbackServer) -> None:
    server.state.update(
        {"reverse": True, "script": [{"status": 429, "retry_after_ms": 10}, {"status": 502}]}
    )
    emb = make(server, batch_size=3, max_concurrency=2)
    vectors = await emb.aembed_documents(TEXTS[:9])
    assert vectors == [fake_vector(t, DEFAULT_DIM) for t in TEXTS[:9]]
    assert len(server.state["requests"]) == 5
    assert await emb.aembed_query("q") == fake_vector("q", DEFAULT_DIM)


def test_sync_requests_go_one_at_a_time(server: LoopbackServer) -> None:
    server.state["delay"] = 0.02
    make(server, batch_size=2).embed_documents(TEXTS[:8])
    assert server.state["max_inflight"] == 1


def test_key_never_appears_in_repr_errors_or_logs(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.state["key"] = "sk-the-server-wants-another-key"
    emb = make(server)
    assert KEY not in repr(emb) and KEY not in str(emb)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(EmbeddingAPIError) as info:
        emb.embed_documents(["a"])
    assert info.value.status_code == 401
    text = "".join(traceback.format_exception(info.value))
    assert "HTTP 401" in text and "Check api_key" in text
    assert KEY not in text
    assert "**********" in text  # the server echoed the key; it was masked
    assert KEY not in caplog.text


async def test_async_key_never_appears_in_errors(server: LoopbackServer) -> None:
    server.state["key"] = "sk-the-server-wants-another-key"
    with pytest.raises(EmbeddingAPIError) as info:
        await make(server).aembed_documents(["a"])
    assert KEY not in "".join(traceback.format_exception(info.value))


def test_unreachable_server_is_explained() -> None:
    with serve(EmbeddingsAPIHandler) as stopped:
        url = f"{stopped.base_url}/v1"
    emb = OpenAICompatibleEmbeddings(model="m", api_key=KEY, base_url=url, max_retries=0)
    with pytest.raises(EmbeddingAPIError, match=r"could not connect.*Check base_url"):
        emb.embed_query("a")


async def test_async_failure_stops_the_other_batches(server: LoopbackServer) -> None:
    server.state.update({"delay": 0.1, "script": [{"status": 400}]})
    emb = make(server, batch_size=1, max_concurrency=2)
    with pytest.raises(EmbeddingAPIError, match=r"HTTP 400: ") as info:
        await emb.aembed_documents(TEXTS[:10])
    assert info.value.status_code == 400
    assert "retries" not in str(info.value)  # a 400 is final: retrying cannot help
    assert len(server.state["requests"]) < 10


# Asymmetric models: instructions, presets and a separate query model.


def sent_inputs(server: LoopbackServer) -> list[tuple[str, list[str]]]:
    return [(body["model"], body["input"]) for body in server.state["requests"]]


def test_e5_preset_prefixes_both_sides(server: LoopbackServer) -> None:
    emb = make(server, model="e5", preset="e5")
    docs = emb.embed_documents(["Paris is in France.", "BM25 ranks words."])
    query = emb.embed_query("where is Paris")
    assert sent_inputs(server) == [
        ("e5", ["passage: Paris is in France.", "passage: BM25 ranks words."]),
        ("e5", ["query: where is Paris"]),
    ]
    # The vectors are those of the prefixed strings the server received.
    assert docs[0] == fake_vector("passage: Paris is in France.", DEFAULT_DIM)
    assert query == fake_vector("query: where is Paris", DEFAULT_DIM)


async def test_qwen3_preset_instructs_queries_only(server: LoopbackServer) -> None:
    emb = make(server, model="Qwen/Qwen3-Embedding-0.6B", preset="qwen3")
    await emb.aembed_documents(["巴黎是法国的首都。"])
    await emb.aembed_query("法国的首都是哪里？")
    emb.encode_queries(["q1", "q2"])
    instruct = f"Instruct: {QWEN3_DEFAULT_TASK}\nQuery:"
    assert sent_inputs(server) == [
        ("Qwen/Qwen3-Embedding-0.6B", ["巴黎是法国的首都。"]),
        ("Qwen/Qwen3-Embedding-0.6B", [instruct + "法国的首都是哪里？"]),
        ("Qwen/Qwen3-Embedding-0.6B", [instruct + "q1", instruct + "q2"]),
    ]


def test_explicit_instructions_win_over_the_preset(server: LoopbackServer) -> None:
    emb = make(server, preset="e5", query_instruction="为这个句子生成表示以用于检索相关文章：")
    emb.embed_query("q")
    emb.embed_documents(["d"])
    assert sent_inputs(server)[0][1] == ["为这个句子生成表示以用于检索相关文章：q"]
    assert sent_inputs(server)[1][1] == ["passage: d"]


def test_query_model_serves_queries(server: LoopbackServer) -> None:
    emb = make(server, model="e5-passage", query_model="e5-query", batch_size=2)
    assert emb.encode_documents(["a", "b", "c"]) == emb.embed_documents(["a", "b", "c"])
    assert emb.encode_queries(["q"]) == [emb.embed_query("q")]
    models = [model for model, _ in sent_inputs(server)]
    assert models == ["e5-passage"] * 4 + ["e5-query"] * 2
    assert all(inputs[0] in {"a", "b", "c", "q"} for _, inputs in sent_inputs(server))


def test_no_instruction_sends_the_text_unchanged(server: LoopbackServer) -> None:
    make(server).embed_query("q")
    assert sent_inputs(server) == [("text-embedding-3-small", ["q"])]


def test_dim_probes_once_then_caches(server: LoopbackServer) -> None:
    emb = make(server)
    assert emb.dim == DEFAULT_DIM
    assert emb.dim == DEFAULT_DIM
    assert len(server.state["requests"]) == 1
    fresh = make(server)
    fresh.embed_documents(["a"])  # any answer teaches the size: no probe needed
    assert fresh.dim == DEFAULT_DIM
    assert len(server.state["requests"]) == 2


def test_dim_with_dimensions_makes_no_request(server: LoopbackServer) -> None:
    emb = make(server, dimensions=8)
    assert emb.dim == 8
    assert server.state["requests"] == []
    assert [len(v) for v in emb.encode_documents(["a", "b"])] == [8, 8]
