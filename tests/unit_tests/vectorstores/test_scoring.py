from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_embedkit.fusion import rrf
from langchain_embedkit.vectorstores.scoring import (
    dense_relevance,
    fuse,
    mmr_select,
    rrf_best,
    sparse_relevance,
)

finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(finite, finite)
def test_dense_relevance_is_bounded_and_monotone(a: float, b: float) -> None:
    for metric in ("cosine", "ip"):
        ra, rb = dense_relevance(a, metric), dense_relevance(b, metric)
        assert 0.0 <= ra <= 1.0
        if a <= b:
            assert ra <= rb
    da, db = abs(a), abs(b)
    if da <= db:  # l2 distances: smaller is more relevant
        assert dense_relevance(da, "l2") >= dense_relevance(db, "l2")


@given(st.floats(0, 1e9, allow_nan=False), st.floats(0, 1e9, allow_nan=False))
def test_sparse_relevance_is_bounded_and_monotone(a: float, b: float) -> None:
    ra, rb = sparse_relevance(a, 10.0), sparse_relevance(b, 10.0)
    assert 0.0 <= ra <= 1.0
    if a <= b:
        assert ra <= rb


def test_metrics_agree_on_unit_vectors() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = rng.standard_normal((2, 8))
        a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
        cos = float(a @ b)
        l2 = float(((a - b) ** 2).sum())
        assert dense_relevance(cos, "cosine") == pytest.approx(dense_relevance(l2, "l2"))
        assert dense_relevance(cos, "ip") == pytest.approx(dense_relevance(cos, "cosine"))


def test_fuse_rrf_is_the_shared_fusion_and_normalizes_to_one() -> None:
    dense = [("a", 0.9), ("b", 0.5)]
    sparse = [("a", 12.0), ("c", 3.0)]
    fused = fuse(dense, sparse, method="rrf", rrf_k=60, weights=None, normalization="none")
    assert fused == rrf([dense, sparse], k=60)
    assert fused[0] == ("a", pytest.approx(rrf_best(60, [1, 1])))


def test_fuse_weighted_stays_in_unit_range() -> None:
    fused = fuse(
        [("a", 0.9), ("b", 0.2)],
        [("b", 0.8)],
        method="weighted",
        rrf_k=60,
        weights=[3, 1],
        normalization="none",
    )
    assert dict(fused) == pytest.approx({"a": 0.675, "b": 0.35})
    with pytest.raises(ValueError, match="'rrf', 'weighted'"):
        fuse([], [], method="max", rrf_k=60, weights=None, normalization="none")  # type: ignore[arg-type]


def test_mmr_prefers_diverse_candidates() -> None:
    query = [1.0, 0.0]
    candidates = [[1.0, 0.0], [0.99, 0.01], [0.7, 0.7]]
    assert mmr_select(query, candidates, k=2, lambda_mult=0.3) == [0, 2]
    assert mmr_select(query, [], k=2, lambda_mult=0.3) == []
