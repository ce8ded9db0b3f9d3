"""Both HTTP clients against hostile servers on 127.0.0.1: slow, huge, malformed, echoing.

``OpenAICompatibleEmbeddings`` and ``HTTPReranker`` must fail within ``timeout`` with their
own error type (naming the server, the batch and the problem), never read more than
``max_response_bytes``, and never let a key out through repr, dumps, logs or the error.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.documents import Document

from langchain_embedkit.embeddings import OpenAICompatibleEmbeddings
from langchain_embedkit.errors import APIError, EmbeddingAPIError, RerankAPIError
from langchain_embedkit.rerankers import HTTPReranker
from tests.support.http import (
    KeepAliveReplyHandler,
    LoopbackServer,
    ScriptedReplyHandler,
    serve,
)

KEY = "sk-boundary-5d1e0c77aa"
GATEWAY = "gw-secret-91b2f0e4"
DOCS = [Document(f"passage {i}", id=str(i)) for i in range(4)]


@dataclass(frozen=True)
class Client:
    """One HTTP client under test, driven the same way for both."""

    name: str
    error: type[APIError]
    make: Callable[..., Any]
    call: Callable[[Any], Any]
    acall: Callable[[Any], Awaitable[Any]]
    batch: str  # how its errors name the batch


def _embeddings(server: LoopbackServer, **kwargs: Any) -> OpenAICompatibleEmbeddings:
    options: dict[str, Any] = {
        "model": "m",
        "api_key": KEY,
        "base_url": f"{server.base_url}/v1",
        "max_retries": 0,
        **kwargs,
    }
    return OpenAICompatibleEmbeddings(**options)


def _reranker(server: LoopbackServer, **kwargs: Any) -> HTTPReranker:
    options: dict[str, Any] = {
        "provider": "jina",
        "api_key": KEY,
        "base_url": server.base_url,
        "max_retries": 0,
        **kwargs,
    }
    return HTTPReranker(**options)


EMBEDDINGS = Client(
    "embeddings",
    EmbeddingAPIError,
    _embeddings,
    lambda c: c.embed_documents(["a", "b"]),
    lambda c: c.aembed_documents(["a", "b"]),
    "batch 1 of 1, 2 texts",
)
RERANK = Client(
    "rerank",
    RerankAPIError,
    _reranker,
    lambda c: c.compress_documents(DOCS, "q"),
    lambda c: c.acompress_documents(DOCS, "q"),
    "documents[0:4]",
)
DEFAULT_CAPS = {"embeddings": 64 * 2**20, "rerank": 16 * 2**20}
CLIENTS = [pytest.param(EMBEDDINGS, id="embeddings"), pytest.param(RERANK, id="rerank")]


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve(ScriptedReplyHandler) as running:
        yield running


async def run(client: Client, instance: Any, mode: str) -> Any:
    if mode == "sync":
        return client.call(instance)
    return await client.acall(instance)


def chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        item = todo.pop()
        if item is not None and item not in seen:
            seen.append(item)
            todo += [item.__cause__, item.__context__]
    return seen


# -- time -------------------------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("client", CLIENTS)
async def test_a_slow_drip_fails_at_the_deadline(
    server: LoopbackServer, client: Client, mode: str
) -> None:
    # Headers at once, then a byte every 0.2 s: every single read is well inside timeout.
    server.state.update(body=b" " * 10_000, drip_s=0.2)
    instance = client.make(server, timeout=1.5)
    start = time.monotonic()
    with pytest.raises(client.error, match=r"timed out after 1.5 s|did not answer"):
        await run(client, instance, mode)
    elapsed = time.monotonic() - start
    # bounded by the deadline (plus room for a busy machine), never by the 2,000 s drip
    assert 1.4 <= elapsed < 5.0, elapsed
    assert 3 <= server.state["sent"] < 20


@pytest.mark.timeout(30)
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("client", CLIENTS)
async def test_dripping_headers_fail_at_the_deadline(
    server: LoopbackServer, client: Client, mode: str
) -> None:
    server.state.update(drip_headers_s=0.2)
    instance = client.make(server, timeout=1.5)
    start = time.monotonic()
    with pytest.raises(client.error, match=r"timed out after 1.5 s|did not answer"):
        await run(client, instance, mode)
    assert 1.4 <= time.monotonic() - start < 5.0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("client", CLIENTS)
def test_retries_share_the_bound_per_attempt(server: LoopbackServer, client: Client) -> None:
    server.state.update(body=b" " * 10_000, drip_s=0.2)
    instance = client.make(server, timeout=0.8, max_retries=2)
    start = time.monotonic()
    with pytest.raises(client.error):
        client.call(instance)
    # 3 attempts of 0.8 s plus backoff (0.5 s, 1 s, jittered; reranker: 0.5, 1): never 10_000 * 0.2.
    assert time.monotonic() - start < 3 * 0.8 + 2.0 + 3.0
    assert len(server.state["requests"]) == 3


# -- memory -----------------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("cap", [None, 4 * 2**20], ids=["default-cap", "4MiB-cap"])
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("client", CLIENTS)
async def test_a_huge_reply_is_cut_off(
    server: LoopbackServer, client: Client, mode: str, cap: int | None
) -> None:
    server.state.update(stream_bytes=200 * 2**20)  # no Content-Length: read until closed
    instance = client.make(server) if cap is None else client.make(server, max_response_bytes=cap)
    limit = cap if cap is not None else DEFAULT_CAPS[client.name]
    with pytest.raises(client.error, match=f"max_response_bytes={limit}"):
        await run(client, instance, mode)
    time.sleep(0.2)
    # The client hung up soon after the cap (what is left sits in socket buffers).
    assert server.state["sent"] < limit + 32 * 2**20


@pytest.mark.parametrize("client", CLIENTS)
def test_a_declared_huge_reply_is_refused_before_reading(
    server: LoopbackServer, client: Client
) -> None:
    server.state.update(body=b"[]", content_length=500 * 2**20)
    with pytest.raises(client.error, match="max_response_bytes"):
        client.call(client.make(server))


def test_default_caps() -> None:
    embeddings = OpenAICompatibleEmbeddings(model="m", base_url="http://h/v1")
    assert embeddings.max_response_bytes == DEFAULT_CAPS["embeddings"]
    reranker = HTTPReranker(provider="vllm", base_url="http://h")
    assert reranker.max_response_bytes == DEFAULT_CAPS["rerank"]


# -- malformed replies --------------------------------------------------------------------


EMBEDDING_BODIES = {
    "no index": {"data": [{"embedding": [1.0]}, {"index": 1, "embedding": [2.0]}]},
    "no embedding": {"data": [{"index": 0}, {"index": 1, "embedding": [2.0]}]},
    "data null": {"data": None},
    "no data": {"object": "list"},
    "a list": [[1.0], [2.0]],
    "string values": {"data": [{"index": 0, "embedding": ["1"]}, {"index": 1, "embedding": [2]}]},
    "base64 string": {"data": [{"index": 0, "embedding": "AAAA"}, {"index": 1, "embedding": [2]}]},
    "different lengths": {
        "data": [{"index": 0, "embedding": [1.0, 2.0]}, {"index": 1, "embedding": [1.0]}]
    },
    "empty vectors": {"data": [{"index": 0, "embedding": []}, {"index": 1, "embedding": []}]},
    "null value": {"data": [{"index": 0, "embedding": [None]}, {"index": 1, "embedding": [1]}]},
    "bool value": {"data": [{"index": 0, "embedding": [True]}, {"index": 1, "embedding": [1]}]},
    "duplicate index": {"data": [{"index": 0, "embedding": [1]}, {"index": 0, "embedding": [2]}]},
    "float index": {"data": [{"index": 0.0, "embedding": [1]}, {"index": 1, "embedding": [2]}]},
    "bool index": {"data": [{"index": False, "embedding": [1]}, {"index": 1, "embedding": [2]}]},
    "string index": {"data": [{"index": "0", "embedding": [1]}, {"index": 1, "embedding": [2]}]},
    "index out of range": {
        "data": [{"index": 0, "embedding": [1]}, {"index": 2, "embedding": [2]}]
    },
    "one missing": {"data": [{"index": 0, "embedding": [1]}]},
    "one too many": {"data": [{"index": i, "embedding": [1]} for i in range(3)]},
}
EMBEDDING_RAW = {
    "html": b"<html><body>502 Bad Gateway</body></html>",
    "invalid json": b'{"data": [',
    "empty body": b"",
    "NaN": b'{"data": [{"index": 0, "embedding": [NaN]}, {"index": 1, "embedding": [1]}]}',
    "Infinity": b'{"data": [{"index": 0, "embedding": [1]}, '
    b'{"index": 1, "embedding": [-Infinity]}]}',
    "overflowing float": b'{"data": [{"index": 0, "embedding": [1e999]}, '
    b'{"index": 1, "embedding": [1]}]}',
    "huge int": b'{"data": [{"index": 0, "embedding": [1' + b"0" * 400 + b"]}, "
    b'{"index": 1, "embedding": [1]}]}',
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "not utf-8": b'{"data": "\xff\xfe"}',
}
RERANK_BODIES = {
    "duplicate index": {"results": [{"index": 1, "relevance_score": 0.9}] * 2},
    "float index": {"results": [{"index": 0.9, "relevance_score": 0.9}]},
    "bool index": {"results": [{"index": True, "relevance_score": 0.9}]},
    "string index": {"results": [{"index": "1", "relevance_score": 0.9}]},
    "negative index": {"results": [{"index": -1, "relevance_score": 0.9}]},
    "index out of range": {"results": [{"index": 4, "relevance_score": 0.9}]},
    "no score": {"results": [{"index": 0}]},
    "string score": {"results": [{"index": 0, "relevance_score": "0.9"}]},
    "bool score": {"results": [{"index": 0, "relevance_score": True}]},
    "results null": {"results": None},
    "no results": {"data": []},
    "a list": [{"index": 0, "relevance_score": 0.9}],
    "too many": {"results": [{"index": i % 4, "relevance_score": 0.5} for i in range(5)]},
}
RERANK_RAW = {
    "all NaN": b'{"results": [{"index": 0, "relevance_score": NaN}, '
    b'{"index": 1, "relevance_score": NaN}]}',
    "Infinity": b'{"results": [{"index": 0, "relevance_score": Infinity}]}',
    "html": b"<html>gateway timeout</html>",
    "invalid json": b'{"results": [{"index": 0,',
}


def _bodies(named: dict[str, Any], raw: dict[str, bytes]) -> list[Any]:
    cases = {name: json.dumps(body).encode() for name, body in named.items()}
    cases.update(raw)
    return [pytest.param(body, id=name) for name, body in cases.items()]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("body", _bodies(EMBEDDING_BODIES, EMBEDDING_RAW))
async def test_embeddings_refuse_a_malformed_200(
    server: LoopbackServer, body: bytes, mode: str
) -> None:
    server.state["body"] = body
    with pytest.raises(EmbeddingAPIError) as info:
        await run(EMBEDDINGS, _embeddings(server), mode)
    message = str(info.value)
    assert f"{server.base_url}/v1/embeddings" in message
    assert "batch 1 of 1, 2 texts" in message
    assert "unusable HTTP 200 reply: " in message
    assert info.value.__cause__ is None and info.value.__context__ is None


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("body", _bodies(RERANK_BODIES, RERANK_RAW))
async def test_reranker_refuses_a_malformed_200(
    server: LoopbackServer, body: bytes, mode: str
) -> None:
    server.state["body"] = body
    with pytest.raises(RerankAPIError) as info:
        await run(RERANK, _reranker(server), mode)
    message = str(info.value)
    assert f"{server.base_url}/v1/rerank" in message
    assert "documents[0:4]" in message
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_the_problem_is_named(server: LoopbackServer) -> None:
    expected = {
        "duplicate index": "data[1].index 0 appears twice",
        "string index": "data[0].index must be an integer in 0..1, got '0'",
        "different lengths": "vectors of different sizes [1, 2]",
        "no embedding": "data[0].embedding must be a non-empty list of numbers, got missing",
    }
    for name, problem in expected.items():
        server.state["body"] = json.dumps(EMBEDDING_BODIES[name]).encode()
        with pytest.raises(EmbeddingAPIError, match=re.escape(problem)):
            EMBEDDINGS.call(_embeddings(server))
    server.state["body"] = RERANK_RAW["all NaN"]
    with pytest.raises(RerankAPIError, match="NaN is not a number JSON allows"):
        RERANK.call(_reranker(server))


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_vectors_of_different_sizes_across_batches(server: LoopbackServer, mode: str) -> None:
    server.state["bodies"] = [
        json.dumps({"data": [{"index": 0, "embedding": size}]}).encode()
        for size in ([1.0, 2.0], [1.0])
    ]
    emb = _embeddings(server, batch_size=1, max_concurrency=1)
    with pytest.raises(EmbeddingAPIError, match=r"different sizes \[1, 2\] in one call"):
        await run(EMBEDDINGS, emb, mode)
    assert len(server.state["requests"]) == 2


# -- secrets ------------------------------------------------------------------------------


def test_secret_headers_are_masked_in_repr_and_dumps() -> None:
    emb = OpenAICompatibleEmbeddings(
        model="m",
        api_key=KEY,
        base_url="http://127.0.0.1:9/v1",
        default_headers={
            "X-Gateway-Key": GATEWAY,
            "X-Auth-Token": GATEWAY,
            "Cookie": GATEWAY,
            "X-Client-Secret": GATEWAY,
            "Proxy-Authorization": GATEWAY,
            "X-Team": "search",
        },
    )
    for text in (repr(emb), str(emb), str(emb.model_dump()), emb.model_dump_json()):
        assert GATEWAY not in text and KEY not in text
        assert "search" in text  # other headers stay visible
    assert emb.default_headers["X-Gateway-Key"] == GATEWAY  # still sent as given


def test_validation_errors_do_not_echo_secrets() -> None:
    with pytest.raises(ValueError, match="at most 10") as info:
        OpenAICompatibleEmbeddings(
            model="text-embedding-v4",
            api_key=KEY,
            batch_size=25,
            default_headers={"X-Gateway-Key": GATEWAY},
        )
    assert KEY not in str(info.value) and GATEWAY not in str(info.value)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_echoed_secret_headers_are_masked_in_errors_and_logs(
    server: LoopbackServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.state.update(
        status=401,
        body=f'{{"error": "bad key {KEY} with gateway {GATEWAY}"}}'.encode(),
    )
    emb = _embeddings(server, default_headers={"X-Gateway-Key": GATEWAY}, max_retries=1)
    with pytest.raises(EmbeddingAPIError) as info:
        await run(EMBEDDINGS, emb, mode)
    sent = server.state["requests"][0]["headers"]
    assert sent["X-Gateway-Key"] == GATEWAY and sent["Authorization"] == f"Bearer {KEY}"
    text = "".join(traceback.format_exception(info.value))
    assert "HTTP 401" in text and "**********" in text
    assert KEY not in text and GATEWAY not in text
    assert KEY not in caplog.text and GATEWAY not in caplog.text


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("what", ["status", "timeout", "connect", "body"])
async def test_the_request_is_not_reachable_from_the_error(
    server: LoopbackServer, client: Client, what: str, mode: str
) -> None:
    if what == "status":
        server.state.update(status=503, body=b"busy")
    elif what == "timeout":
        server.state.update(body=b" " * 100, drip_s=0.2)
    elif what == "body":
        server.state.update(body=b"<html>")
    if what == "connect":
        with serve(ScriptedReplyHandler) as stopped:
            pass
        server = stopped
    instance = client.make(server, timeout=0.5)
    with pytest.raises(client.error) as info:
        await run(client, instance, mode)
    errors = chain(info.value)
    assert errors == [info.value], [type(e).__name__ for e in errors]
    assert KEY not in "".join(traceback.format_exception(info.value))


GOOD_REPLIES = {
    "embeddings": {
        "data": [{"index": 0, "embedding": [1.0, 0.0]}, {"index": 1, "embedding": [0.0, 1.0]}]
    },
    "rerank": {"results": [{"index": i, "relevance_score": 1.0 - i / 10} for i in range(4)]},
}


def _reranker_on_own_client(server: LoopbackServer, **kwargs: Any) -> HTTPReranker:
    import httpx

    return _reranker(server, http_client=httpx.Client(), **kwargs)


OWN_CLIENT = Client(
    "rerank", RerankAPIError, _reranker_on_own_client, RERANK.call, RERANK.acall, RERANK.batch
)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("client", [*CLIENTS, pytest.param(OWN_CLIENT, id="rerank-http_client")])
def test_dripping_headers_on_a_kept_alive_connection_fail_at_the_deadline(
    client: Client,
) -> None:
    # The first answer is normal and leaves the connection open; the second request goes
    # out on that same connection, and its headers come one byte a second.
    with serve(KeepAliveReplyHandler) as server:
        server.state.update(body=json.dumps(GOOD_REPLIES[client.name]).encode())
        instance = client.make(server, timeout=3)
        client.call(instance)
        server.state.update(drip_headers_s=1.0)
        start = time.monotonic()
        with pytest.raises(client.error, match=r"timed out after 3 s|did not answer"):
            client.call(instance)
        elapsed = time.monotonic() - start
        first, second = server.state["requests"]
    assert first["port"] == second["port"], "the second request did not reuse the connection"
    assert 2.9 <= elapsed < 3.5, elapsed
    # The abandoned attempt ends once the server stops dripping: no thread is left behind.
    give_up = time.monotonic() + 5
    while _http_workers() and time.monotonic() < give_up:
        time.sleep(0.05)
    assert not _http_workers()


def _http_workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "embedkit-http" and t.is_alive()]
