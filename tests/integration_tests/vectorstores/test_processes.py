"""Stores across processes: reopen and search, a writer killed mid-ingest, a locked file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.vectorstores import EmbedKitVectorStore

WORKER = Path(__file__).with_name("store_worker.py")
ROOT = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "ANONYMIZED_TELEMETRY": "False"}


def location(engine: str, tmp_path: Path) -> str:
    return str(tmp_path / ("store.db" if engine == "milvus" else "chroma"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(WORKER), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=180,
    )


def query(engine: str, where: str, n: int, command: str = "query") -> dict[str, Any]:
    done = run(command, engine, where, str(n))
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            result.update(json.loads(line))
    return result


@pytest.mark.parametrize("engine", ["milvus", "chroma"])
def test_write_in_one_process_search_in_another(engine: str, tmp_path: Path) -> None:
    where = location(engine, tmp_path)
    done = run("ingest", engine, where, "200")
    assert done.returncode == 0, done.stderr[-3000:]
    result = query(engine, where, 200)
    assert result["count"] == 200
    assert result["bm25_docs"] == 200  # the encoder state was saved beside the store
    assert result["sparse"] == [7]
    assert result["hybrid"][0] == 7
    assert result["filtered"] == list(range(1, 200, 5))


@pytest.mark.parametrize("engine", ["milvus", "chroma"])
def test_writer_killed_mid_ingest_then_rerun_stores_each_document_once(
    engine: str, tmp_path: Path
) -> None:
    where = location(engine, tmp_path)
    n = 600
    writer = subprocess.Popen(
        [sys.executable, str(WORKER), "ingest", engine, where, str(n), "0.15"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=ENV,
    )
    assert writer.stdout is not None
    for line in writer.stdout:
        if line.startswith("embedding batch 5"):
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    result = query(engine, where, n, "resume")
    assert 0 < result["count_before"] < n
    assert result["count"] == n
    assert result["bm25_docs"] == n  # refit from the stored texts, then the new ones added
    assert len(result["ids"]) == n and len(set(result["ids"])) == n
    assert result["filtered"] == list(range(1, n, 5))


@pytest.mark.parametrize("point", ["before-write", "after-write"])
@pytest.mark.parametrize("engine", ["milvus", "chroma"])
def test_kill_9_between_the_write_and_the_state_save_then_rerun(
    engine: str, point: str, tmp_path: Path
) -> None:
    where = location(engine, tmp_path)
    n = 200
    crashed = run("crash", engine, where, str(n), point, "3")
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr[-3000:]
    # reopen: the statistics equal a fresh fit on what was stored, before any new write
    early = query(engine, where, n, "verify")
    assert early["stats_match"], early
    assert 0 < early["count"] < n
    # re-running the same call completes it; every document is found by its own token
    result = query(engine, where, n, "resume")
    assert result["count"] == n
    final = query(engine, where, n, "verify")
    assert final["stats_match"] and final["wrong"] == [] and final["count"] == n


def test_second_process_on_an_open_milvus_lite_file_gets_a_clear_error(tmp_path: Path) -> None:
    where = location("milvus", tmp_path)
    store = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=16), BM25SparseEmbeddings(), uri=where
    )
    store.add_texts(["kept"])
    try:
        done = run("query", "milvus", where, "1")
        assert done.returncode == 3, done.stderr[-3000:]
        error = json.loads(done.stdout.strip().splitlines()[-1])
        assert error["error"] == "StoreLockedError"
        assert "another process" in error["message"] and where in error["message"]
        assert store.count() == 1
    finally:
        store.close()
    # once the first process lets go, the file opens and nothing was lost
    assert query("milvus", where, 1)["count"] == 1
