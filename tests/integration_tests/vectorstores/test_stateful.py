"""Random sequences of writes, deletes, failures, reopenings and crashes, held to a model.

After every step the store must hold exactly the documents of a Python dict, its BM25
statistics must equal a fresh fit on them, and its sparse and hybrid results must equal
those of a store built from scratch on the same documents. The encoder uses ``b=0`` so
that a document's vector does not depend on the average length at its write time (which
the store documents as kept until ``rebuild_sparse``), making results comparable exactly.
Scores are compared rounded; documents with equal scores are ordered by id.
"""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from langchain_core.embeddings import DeterministicFakeEmbedding

from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.sparse.bm25_counts import count_documents
from langchain_embedkit.vectorstores import EmbedKitVectorStore, doc_index
from langchain_embedkit.vectorstores.ids import content_id
from langchain_embedkit.vectorstores.sparse_state import SparseBook

WORDS = ["apple", "berry", "cherry", "date", "elder", "fig"]
IDS = ["a", "b", "c", "d", "e"]
QUERIES = ["apple berry", "cherry fig", "date"]

texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)


def _distinct(doc: tuple[str, str | None, int]) -> tuple[str, str | None, int]:
    # Two ids never hold identical content: Milvus fuses hybrid results on the engine, and
    # identical rows score differently in the last float bits depending on the segment that
    # holds them, so their order (and RRF) follows storage, not the documents.
    text, doc_id, group = doc
    return f"{text} g{group}" + (f" tag{doc_id}" if doc_id else ""), doc_id, group


docs = st.lists(
    st.tuples(texts, st.one_of(st.none(), st.sampled_from(IDS)), st.integers(0, 1)).map(_distinct),
    min_size=1,
    max_size=3,
)


class SimulatedCrash(BaseException):
    """Stands for the process dying: nothing after it runs."""


class Poisoned(DeterministicFakeEmbedding):
    """NaN vectors for texts holding 'poison' (a write the store must refuse)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out = super().embed_documents(texts)
        return [
            [math.nan] * self.size if "poison" in t else v for t, v in zip(texts, out, strict=True)
        ]


def open_store(engine: str, where: Path, name: str) -> EmbedKitVectorStore:
    kwargs: dict[str, Any] = {
        "embedding": Poisoned(size=8),
        "sparse_embedding": BM25SparseEmbeddings(b=0.0),
        "collection_name": name,
        # client-side fusion: equal scores are ranked by id, so a store that went through
        # upserts ranks them like a fresh one (Milvus' own RRF ranks ties by storage order)
        "fusion_weights": (1.0, 1.0),
    }
    if engine == "milvus":
        return EmbedKitVectorStore(backend="milvus", uri=str(where / "m.db"), **kwargs)
    return EmbedKitVectorStore(backend="chroma", persist_directory=where / "c", **kwargs)


def results(store: EmbedKitVectorStore) -> list[list[tuple[str | None, float]]]:
    out = []
    for query in QUERIES:
        for mode in ("sparse", "hybrid"):
            found = store.similarity_search_with_score(query, k=100, retrieval_mode=mode)
            out.append([(d.id, round(score, 5)) for d, score in found])
    return out


class StoreMachine(RuleBasedStateMachine):
    engine = "chroma"
    root: Path

    def __init__(self) -> None:
        super().__init__()
        self.where = self.root / uuid.uuid4().hex[:8]
        self.name = "model"
        self.store = open_store(self.engine, self.where, self.name)
        self.reference = open_store(self.engine, self.where / "ref", "reference")
        self.model: dict[str, tuple[str, int]] = {}

    def teardown(self) -> None:
        self.store.close()
        self.reference.close()

    def _apply(self, batch: list[tuple[str, str | None, int]]) -> None:
        for text, doc_id, group in batch:
            key = doc_id or content_id(text, {"g": group})
            self.model[key] = (text, group)

    def _add(self, batch: list[tuple[str, str | None, int]]) -> None:
        self.store.add_texts(
            [t for t, _, _ in batch], [{"g": g} for _, _, g in batch], [i for _, i, _ in batch]
        )

    def _reopen(self) -> None:
        self.store.close()
        self.store = open_store(self.engine, self.where, self.name)

    @rule(batch=docs)
    def add_or_upsert(self, batch: list[tuple[str, str | None, int]]) -> None:
        self._add(batch)
        self._apply(batch)

    @rule(ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=3))
    def delete_ids(self, ids: list[str]) -> None:
        self.store.delete(ids)
        for doc_id in ids:
            self.model.pop(doc_id, None)

    @rule(group=st.integers(0, 1))
    def delete_by_filter(self, group: int) -> None:
        self.store.delete(filter={"g": group})
        self.model = {k: v for k, v in self.model.items() if v[1] != group}

    @rule(batch=docs)
    def rejected_write(self, batch: list[tuple[str, str | None, int]]) -> None:
        with pytest.raises(ValueError, match="finite"):
            self._add([*batch, ("poison pill", None, 0)])

    @rule(text=texts)
    def engine_fails_after_the_first_row(self, text: str) -> None:
        backend = self.store._backend
        write = backend.write

        def failing(rows: Any, existing: Any) -> None:
            write(rows[:1], existing)
            msg = "engine refused the rest"
            raise RuntimeError(msg)

        backend.write = failing  # type: ignore[method-assign]
        batch = [(text, "d", 0), (text + " elder", "e", 1)]
        try:
            with pytest.raises(RuntimeError, match="refused"):
                self._add(batch)
        finally:
            del backend.write
        self._apply(batch[:1])

    @rule()
    def close_and_reopen(self) -> None:
        self._reopen()

    @rule()
    def document_index_lost(self) -> None:
        book = self.store._book
        assert isinstance(book, SparseBook) and book.docs is not None
        self.store.close()
        book.docs.remove()
        self._reopen()

    @rule(data=st.binary(max_size=64))
    def document_index_damaged(self, data: bytes) -> None:
        book = self.store._book
        assert isinstance(book, SparseBook) and book.docs is not None
        self.store.close()
        book.docs.remove()
        book.docs.path.write_bytes(data)
        self._reopen()

    @rule(batch=docs)
    def crash_after_the_engine_write(self, batch: list[tuple[str, str | None, int]]) -> None:
        book = self.store._book
        assert isinstance(book, SparseBook)
        book.after_write = lambda pending: None  # type: ignore[method-assign]
        self._add(batch)
        self._apply(batch)
        self._reopen()

    @rule(batch=docs)
    def crash_before_the_engine_write(self, batch: list[tuple[str, str | None, int]]) -> None:
        book = self.store._book
        assert isinstance(book, SparseBook)
        backend = self.store._backend

        def crash(rows: Any, existing: Any) -> None:
            raise SimulatedCrash

        backend.write = crash  # type: ignore[method-assign]
        book.write_failed = lambda changes, pending: None  # type: ignore[method-assign]
        try:
            self._add(batch)
        except SimulatedCrash:
            pass
        finally:
            del backend.write
        self._reopen()

    @invariant()
    def store_equals_the_model(self) -> None:
        assert self.store.count() == len(self.model)
        got = self.store.get_by_ids([*IDS, *self.model])
        assert {d.id: (d.page_content, d.metadata["g"]) for d in got} == self.model
        encoder = self.store.sparse_embedding
        assert isinstance(encoder, BM25SparseEmbeddings)
        stored = [text for text, _ in self.model.values()]
        if stored:
            assert encoder.statistics() == BM25SparseEmbeddings(b=0.0).fit(stored).statistics()
        else:
            assert encoder.statistics().n_docs == 0
        book = self.store._book
        assert isinstance(book, SparseBook) and book.docs is not None
        assert book._ensure_docs()  # built from the stored texts when the file was lost
        ids = list(self.model)
        counted = count_documents(encoder, [self.model[i][0] for i in ids])
        assert book.docs.counts([*IDS, *ids]) == dict(zip(ids, counted, strict=True))
        assert book.docs.totals() == (len(ids), sum(c.length for c in counted))
        self.reference.reset_collection()
        if self.model:
            ids = list(self.model)
            self.reference.add_texts(
                [self.model[i][0] for i in ids], [{"g": self.model[i][1]} for i in ids], ids
            )
        assert results(self.store) == results(self.reference)


@pytest.mark.parametrize("engine", ["chroma", "milvus"])
def test_store_follows_a_dict_model(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # removed documents leave the index's rows in passes of 3, so the steps cross that pass
    monkeypatch.setattr(doc_index, "_GONE_LIMIT", 3)
    machine = type(f"StoreMachine_{engine}", (StoreMachine,), {"engine": engine, "root": tmp_path})
    machine.TestCase.settings = settings(
        max_examples=10,
        stateful_step_count=10,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    machine.TestCase().runTest()
