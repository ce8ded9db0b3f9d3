from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from langchain_embedkit.sparse import search as search_module
from langchain_embedkit.sparse.search import (
    SparseIndex,
    Ties,
    decode_sparse,
    encode_sparse,
    sparse_top_k,
    to_csr,
)
from langchain_embedkit.types import SparseVector


def _random_vectors(rng: np.random.Generator, count: int, dim: int) -> list[SparseVector]:
    vectors = []
    for _ in range(count):
        size = int(rng.integers(0, 6))
        indices = sorted(rng.choice(dim, size=size, replace=False).tolist())
        vectors.append(SparseVector(indices, rng.random(size).round(2).tolist()))
    return vectors


def test_top_k_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    docs = _random_vectors(rng, 300, 40)
    queries = _random_vectors(rng, 25, 40)
    results = sparse_top_k(queries, docs, k=5)
    for query, found in zip(queries, results, strict=True):
        scores = [(query.dot(doc), row) for row, doc in enumerate(docs)]
        expected = sorted(((-s, r) for s, r in scores if s > 0))[:5]
        assert [row for row, _ in found] == [row for _, row in expected]
        assert [score for _, score in found] == pytest.approx([-s for s, _ in expected])
        assert all(isinstance(row, int) and isinstance(s, float) for row, s in found)


def test_ties_keep_the_lower_row_and_zero_scores_are_left_out() -> None:
    docs = [SparseVector([1], [1.0])] * 4 + [SparseVector([2], [5.0])]
    assert sparse_top_k([SparseVector([1], [2.0])], docs, k=3) == [[(0, 2.0), (1, 2.0), (2, 2.0)]]
    assert sparse_top_k([SparseVector([9], [1.0]), SparseVector()], docs, k=3) == [[], []]


def test_prebuilt_matrix_and_query_dimensions_beyond_it() -> None:
    matrix = to_csr([SparseVector([0, 3], [1.0, 2.0]), SparseVector([1], [1.0])], dim=4)
    assert matrix.shape == (2, 4)
    # index 10 is a token learnt after the documents were stacked: it matches nothing
    query = SparseVector([3, 10], [1.0, 7.0])
    assert sparse_top_k([query], matrix, k=10) == [[(0, 2.0)]]
    assert sparse_top_k(to_csr([query]), matrix, k=10) == [[(0, 2.0)]]


def test_to_csr_checks_dim_and_k() -> None:
    with pytest.raises(ValueError, match="index 5, outside dim=3"):
        to_csr([SparseVector([5], [1.0])], dim=3)
    assert to_csr([]).shape == (0, 0)
    with pytest.raises(ValueError, match="k must be an integer >= 1; got 0"):
        sparse_top_k([SparseVector()], [SparseVector()], k=0)


def test_importing_the_sparse_package_stays_light() -> None:
    code = (
        "import sys, json\n"
        "import langchain_embedkit.sparse as sparse\n"
        "from langchain_embedkit.sparse import BM25SparseEmbeddings, sparse_top_k\n"
        "BM25SparseEmbeddings(analyzer='en').fit(['plain english words'])\n"
        "heavy = ['scipy', 'jieba', 'torch', 'sentence_transformers', 'transformers']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


# ------------------------------------------------------------------ SparseIndex

# Weights exact in binary floating point, so sums are exact and ties are real ties.
_weights = st.sampled_from([0.5, 1.0, 2.0, 3.0])
_vectors = st.dictionaries(st.integers(0, 12), _weights, max_size=4).map(SparseVector.from_dict)
_ids = st.sampled_from([f"d{i}" for i in range(25)] + ["", "Z", "é"])


def _expected(
    model: dict[str, tuple[int, SparseVector]],
    query: SparseVector,
    k: int,
    allowed: set[str] | None,
    ties: str,
) -> list[tuple[str, float]]:
    """Brute force: every held document scored, sorted by score, then by the tie rule."""
    scored = [
        (doc_id, query.dot(vector), written)
        for doc_id, (written, vector) in model.items()
        if allowed is None or doc_id in allowed
    ]
    positive = [entry for entry in scored if entry[1] > 0]
    if ties == "id":  # score desc, then id desc
        positive.sort(key=lambda entry: entry[0], reverse=True)
        positive.sort(key=lambda entry: entry[1], reverse=True)
    else:  # score desc, then the earlier (last) write first
        positive.sort(key=lambda entry: (-entry[1], entry[2]))
    return [(doc_id, score) for doc_id, score, _ in positive[:k]]


class SparseIndexMachine(RuleBasedStateMachine):
    """Random writes, deletes and searches, each search checked against a dict model.

    Ids and scores are compared, in order, under both tie rules at once.
    """

    def __init__(self) -> None:
        super().__init__()
        self.indexes = {"id": SparseIndex(), "insertion": SparseIndex(ties="insertion")}
        self.model: dict[str, tuple[int, SparseVector]] = {}  # id -> (write number, vector)
        self.writes = 0

    @rule(ids=st.lists(_ids, max_size=6), data=st.data())
    def upsert(self, ids: list[str], data: st.DataObject) -> None:
        vectors = data.draw(st.lists(_vectors, min_size=len(ids), max_size=len(ids)))
        for index in self.indexes.values():
            index.upsert(ids, vectors)
        for doc_id, vector in zip(ids, vectors, strict=True):  # a repeated id: the last wins
            self.writes += 1
            self.model[doc_id] = (self.writes, vector)

    @rule(ids=st.lists(_ids, max_size=8))
    def delete(self, ids: list[str]) -> None:
        for index in self.indexes.values():
            index.delete(ids)
        for doc_id in ids:
            self.model.pop(doc_id, None)

    @rule(
        queries=st.lists(_vectors, min_size=1, max_size=3),
        k=st.integers(1, 8),
        allowed=st.none() | st.sets(_ids, max_size=10),
    )
    def search(self, queries: list[SparseVector], k: int, allowed: set[str] | None) -> None:
        for ties, index in self.indexes.items():
            found = index.search(queries, k, allowed=allowed)
            expected = [_expected(self.model, query, k, allowed, ties) for query in queries]
            assert found == expected  # ids and scores, in order
            assert index.search(queries[0], k, allowed) == expected[0]

    @invariant()
    def holds_what_the_model_holds(self) -> None:
        for index in self.indexes.values():
            assert len(index) == len(self.model)
            assert sorted(index.doc_ids) == sorted(self.model)


SparseIndexMachine.TestCase.settings = settings(
    max_examples=80, stateful_step_count=30, deadline=None
)


@pytest.fixture
def compact_early(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "_COMPACT_MIN_DEAD", 2)


@pytest.mark.usefixtures("compact_early")
class TestSparseIndex(SparseIndexMachine.TestCase):  # type: ignore[name-defined,misc]
    """The machine, with compaction after a few deletions so that it is exercised.

    Its searches send 1 to 3 queries: each is scored from its postings.
    """


@pytest.fixture
def matrix_product(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "_BATCH_MIN_QUERIES", 1)


@pytest.mark.usefixtures("compact_early", "matrix_product")
class TestSparseIndexMatrixProduct(SparseIndexMachine.TestCase):  # type: ignore[name-defined,misc]
    """The machine again, every search scored by the sparse matrix product."""


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(
        st.dictionaries(st.integers(0, 30), st.floats(0.1, 5.0), max_size=6).map(
            SparseVector.from_dict
        ),
        min_size=1,
        max_size=40,
    ),
    query=st.dictionaries(st.integers(0, 30), st.floats(0.1, 5.0), max_size=6).map(
        SparseVector.from_dict
    ),
    deleted=st.sets(st.integers(0, 39)),
    k=st.integers(1, 10),
    ties=st.sampled_from(["id", "insertion"]),
)
def test_any_float_weights_match_brute_force(
    docs: list[SparseVector], query: SparseVector, deleted: set[int], k: int, ties: Ties
) -> None:
    """Arbitrary weights: ids and scores against a brute force in float64."""
    index = SparseIndex(ties=ties)
    index.upsert([f"d{i}" for i in range(len(docs))], docs)
    index.delete([f"d{i}" for i in deleted])
    model = {f"d{i}": (i, v) for i, v in enumerate(docs) if i not in deleted}
    expected = _expected(model, query, k, None, ties)
    got = index.search(query, k)
    assert [doc_id for doc_id, _ in got] == [doc_id for doc_id, _ in expected]
    assert [s for _, s in got] == pytest.approx([s for _, s in expected])
    assert len(index) == len(model)
    # a batch large enough for the matrix product gives the very same floats
    batch = [query] * search_module._BATCH_MIN_QUERIES
    assert index.search(batch, k) == [got] * len(batch)


def test_insertion_ties_follow_the_last_write() -> None:
    q = SparseVector([1], [1.0])
    index = SparseIndex(ties="insertion")
    index.upsert(["b", "a", "c"], [q, q, SparseVector([1], [2.0])])
    assert index.search(q, 5) == [("c", 2.0), ("b", 1.0), ("a", 1.0)]
    index.upsert(["b"], [q])  # rewritten: now the latest of the tied pair
    assert index.search(q, 5) == [("c", 2.0), ("a", 1.0), ("b", 1.0)]
    assert index.search(q, 5, {"b", "c"}) == [("c", 2.0), ("b", 1.0)]
    assert SparseIndex(["b", "a"], [q, q]).search(q, 5) == [("b", 1.0), ("a", 1.0)]
    assert SparseIndex(["a", "b"], [q, q]).search(q, 5) == [("b", 1.0), ("a", 1.0)]
    with pytest.raises(ValueError, match="unknown ties='rank'; choose one of 'id', 'insertion'"):
        SparseIndex(ties="rank")  # type: ignore[arg-type]


def test_sparse_text_round_trip() -> None:
    v = SparseVector([1, 5], [0.25, 2.0])
    assert decode_sparse(encode_sparse(v)) == v


def test_index_segments_merge_and_compaction_keeps_results() -> None:
    index = SparseIndex()
    n = 3000
    for start in range(0, n, 100):  # 30 writes: segments merge as they accumulate
        rows = range(start, start + 100)
        index.upsert([str(i) for i in rows], [SparseVector([i % 7], [1.0 + i]) for i in rows])
    assert len(index._segments) <= 12
    index.delete([str(i) for i in range(0, n, 3)])
    index.delete([str(i) for i in range(1, n, 3)])
    assert len(index) == n // 3
    assert len(index._ids) == n // 3  # compacted: dead rows dropped
    # the best survivor holds term 2 (i % 7 == 2) and i % 3 == 2: i = 2984
    assert index.search(SparseVector([2], [1.0]), 1) == [("2984", 2985.0)]
    assert index.search(SparseVector([2], [1.0]), 2) == [("2984", 2985.0), ("2963", 2964.0)]


def test_index_tokens_beyond_every_document_and_bad_arguments() -> None:
    index = SparseIndex(["a", "b"], [SparseVector([0], [1.0]), SparseVector([1], [1.0])])
    # a token learnt after the documents were written matches nothing
    assert index.search([SparseVector([1, 40], [2.0, 9.0])], 3) == [[("b", 2.0)]]
    index.upsert(["c"], [SparseVector([40], [1.0])])
    assert index.search(SparseVector([1, 40], [2.0, 9.0]), 3) == [("c", 9.0), ("b", 2.0)]
    assert index.search([SparseVector(), SparseVector([7], [1.0])], 3) == [[], []]
    assert SparseIndex().search(SparseVector([1], [1.0]), 3) == []
    with pytest.raises(ValueError, match="top_k must be an integer >= 1; got 0"):
        index.search(SparseVector([1], [1.0]), 0)
    with pytest.raises(TypeError, match=r"got one str \('abc'\)"):
        index.delete("abc")
    with pytest.raises(ValueError, match="one vector per id; got 2 ids and 1 vectors"):
        index.upsert(["x", "y"], [SparseVector()])
    with pytest.raises(ValueError, match="one vector per id"):
        SparseIndex(["x"], [])
    assert len(index) == 3


def test_evaluation_uses_the_same_sparse_index() -> None:
    from langchain_embedkit.evaluation import search as evaluation_search

    assert evaluation_search.SparseIndex is SparseIndex
