"""cosine_similarity, l2_distance and inner_product against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_embedkit.errors import DimensionMismatchError
from langchain_embedkit.similarity import cosine_similarity, inner_product, l2_distance


def test_pairs_return_python_floats() -> None:
    a, b = [1.0, 2.0, 2.0], [2.0, 0.0, 0.0]
    assert inner_product(a, b) == 2.0
    assert cosine_similarity(a, b) == pytest.approx(2.0 / (3.0 * 2.0))
    assert l2_distance(a, b) == pytest.approx(math.sqrt(1 + 4 + 4))
    for value in (inner_product(a, b), cosine_similarity(a, b), l2_distance(a, b)):
        assert type(value) is float


def test_numpy_inputs_and_float32() -> None:
    a = np.array([3.0, 4.0], dtype=np.float32)
    assert l2_distance(a, np.zeros(2)) == 5.0
    assert cosine_similarity(a, a) == 1.0


def test_vector_against_matrix_gives_one_score_per_row() -> None:
    query = [1.0, 0.0]
    docs = [[1.0, 0.0], [0.0, 1.0], [-2.0, 0.0]]
    assert cosine_similarity(query, docs).tolist() == [1.0, 0.0, -1.0]
    assert inner_product(query, docs).tolist() == [1.0, 0.0, -2.0]
    assert l2_distance(query, docs).tolist() == pytest.approx([0.0, math.sqrt(2), 3.0])
    assert cosine_similarity(docs, query).tolist() == [1.0, 0.0, -1.0]


def test_matrix_against_matrix() -> None:
    a = [[1.0, 0.0], [0.0, 1.0]]
    b = [[1.0, 1.0], [0.0, 2.0], [3.0, 0.0]]
    sims = cosine_similarity(a, b)
    assert sims.shape == (2, 3)
    r = 1 / math.sqrt(2)
    np.testing.assert_allclose(sims, [[r, 0.0, 1.0], [r, 1.0, 0.0]], atol=1e-12)
    assert inner_product(a, b).tolist() == [[1.0, 0.0, 3.0], [1.0, 2.0, 0.0]]
    np.testing.assert_allclose(
        l2_distance(a, b), [[1.0, math.sqrt(5), 2.0], [1.0, 1.0, math.sqrt(10)]], atol=1e-12
    )


def test_zero_vector_has_cosine_zero_not_nan() -> None:
    assert cosine_similarity([0.0, 0.0], [1.0, 2.0]) == 0.0
    assert cosine_similarity([[0.0, 0.0]], [[1.0, 2.0]]).tolist() == [[0.0]]


def test_size_mismatch_is_explained() -> None:
    with pytest.raises(DimensionMismatchError, match="a has 3 values, b has 2"):
        cosine_similarity([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(DimensionMismatchError):
        l2_distance([[1.0, 2.0]], [[1.0, 2.0, 3.0]])


@pytest.mark.parametrize(
    ("a", "error", "pattern"),
    [
        (None, TypeError, "a is None"),
        ([], ValueError, "a is empty"),
        ([[[1.0]]], ValueError, "1-D .* or 2-D"),
        (["x", "y"], ValueError, "could not read it as numbers"),
    ],
)
def test_bad_inputs(a: object, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        inner_product(a, [1.0, 2.0])  # type: ignore[arg-type]


vectors = st.lists(
    st.floats(min_value=-100, max_value=100, allow_nan=False), min_size=3, max_size=3
).filter(lambda v: np.linalg.norm(v) > 1e-3)


@given(vectors, vectors)
def test_unit_vector_identities(a: list[float], b: list[float]) -> None:
    ua, ub = np.asarray(a) / np.linalg.norm(a), np.asarray(b) / np.linalg.norm(b)
    cos = cosine_similarity(a, b)
    assert -1.0 <= cos <= 1.0
    assert cos == pytest.approx(inner_product(ua, ub), abs=1e-9)
    assert l2_distance(ua, ub) ** 2 == pytest.approx(2 - 2 * cos, abs=1e-9)
    assert cosine_similarity(a, b) == pytest.approx(cosine_similarity(b, a))
