from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_embedkit.types import SparseVector
from langchain_embedkit.vectorstores.sparse_index import SparseIndex, decode_sparse, encode_sparse

vectors = st.dictionaries(st.integers(0, 30), st.floats(0.1, 5.0), max_size=6).map(
    SparseVector.from_dict
)


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(vectors, min_size=1, max_size=40),
    query=vectors,
    deleted=st.sets(st.integers(0, 39)),
    k=st.integers(1, 10),
)
def test_search_matches_brute_force(
    docs: list[SparseVector], query: SparseVector, deleted: set[int], k: int
) -> None:
    index = SparseIndex()
    ids = [f"d{i}" for i in range(len(docs))]
    index.upsert(ids, docs)
    index.delete(f"d{i}" for i in deleted)
    alive = {f"d{i}": v for i, v in enumerate(docs) if i not in deleted}
    expected = sorted(
        ((d, query.dot(v)) for d, v in alive.items() if query.dot(v) > 0),
        key=lambda item: (-item[1], int(item[0][1:])),
    )[:k]
    got = index.search(query, k)
    assert [s for _, s in got] == pytest.approx([s for _, s in expected])
    assert len(index) == len(alive)


def test_upsert_replaces_and_allowed_restricts() -> None:
    index = SparseIndex()
    index.upsert(["a", "b"], [SparseVector([1], [1.0]), SparseVector([1], [2.0])])
    index.upsert(["a"], [SparseVector([1], [3.0])])
    q = SparseVector([1], [1.0])
    assert index.search(q, 5) == [("a", 3.0), ("b", 2.0)]
    assert index.search(q, 5, allowed={"b"}) == [("b", 2.0)]
    assert index.search(SparseVector(), 5) == []
    assert index.search(SparseVector([9], [1.0]), 5) == []


def test_compaction_keeps_results() -> None:
    index = SparseIndex()
    n = 3000
    index.upsert([str(i) for i in range(n)], [SparseVector([i % 7], [1.0 + i]) for i in range(n)])
    index.delete(str(i) for i in range(0, n, 3))
    index.delete(str(i) for i in range(1, n, 3))
    assert len(index) == n // 3
    # the best survivor holds term 2 (i % 7 == 2) and i % 3 == 2: i = 2984
    assert index.search(SparseVector([2], [1.0]), 1) == [("2984", 2985.0)]


def test_round_trip_text() -> None:
    v = SparseVector([1, 5], [0.25, 2.0])
    assert decode_sparse(encode_sparse(v)) == v
