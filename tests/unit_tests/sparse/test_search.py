from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from langchain_embedkit.sparse.search import sparse_top_k, to_csr
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
    for query, found in zip(queries, results):
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
    with pytest.raises(ValueError, match="k must be >= 1"):
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
