"""A milvus-lite 3 index file cut short by a killed process is rebuilt, not fatal.

milvus-lite 3.2 writes a segment's FLAT index in place; a process killed during that write
leaves a truncated ``*.flat.idx`` that the engine refuses to load on every later open.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from langchain_embedkit.vectorstores import EmbedKitVectorStore
from langchain_embedkit.vectorstores.backends.milvus_engine import repair_lite_indexes

TEXTS = [f"document number {i} about apples and pears" for i in range(40)]


def _store(db: Path) -> EmbedKitVectorStore:
    return EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=16), backend="milvus", uri=str(db), collection_name="c"
    )


def _written(db: Path) -> tuple[list[tuple[str | None, float]], list[Path]]:
    store = _store(db)
    store.add_texts(TEXTS, ids=[str(i) for i in range(len(TEXTS))])
    found = [(d.id, round(s, 5)) for d, s in store.similarity_search_with_score(TEXTS[3], k=5)]
    store.close()
    indexes = sorted(db.glob("collections/*/partitions/*/indexes/*.flat.idx"))
    return found, indexes


@pytest.mark.parametrize("keep", [0, 7, 100])
def test_a_truncated_index_file_is_rebuilt_and_search_is_unchanged(
    tmp_path: Path, keep: int
) -> None:
    db = tmp_path / "m.db"
    before, indexes = _written(db)
    assert indexes, "milvus-lite wrote no FLAT index file"
    data = indexes[0].read_bytes()
    indexes[0].write_bytes(data[:keep])  # what a kill during the engine's write leaves

    store = _store(db)
    found = [(d.id, round(s, 5)) for d, s in store.similarity_search_with_score(TEXTS[3], k=5)]
    assert found == before
    assert store.count() == len(TEXTS)
    store.close()
    assert indexes[0].read_bytes() == data  # the engine wrote it again, whole


def test_whole_index_files_are_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    _, indexes = _written(db)
    stamps = [(p, p.stat().st_mtime_ns) for p in indexes]
    assert repair_lite_indexes(db) == []
    assert [(p, p.stat().st_mtime_ns) for p in indexes] == stamps


def test_nothing_is_touched_while_a_process_holds_the_engine_lock(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    _, indexes = _written(db)
    indexes[0].write_bytes(b"")
    with (db / "LOCK").open("rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # another open engine, perhaps writing that file
        assert repair_lite_indexes(db) == []
    assert indexes[0].exists()
    assert repair_lite_indexes(db) == [indexes[0]]
    assert not indexes[0].exists()
