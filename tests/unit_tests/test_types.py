from __future__ import annotations

import pytest

from langchain_embedkit import SparseVector


def test_from_dict_sorts_and_drops_zeros() -> None:
    v = SparseVector.from_dict({9: 0.5, 3: 2.0, 4: 0.0})
    assert v.indices == [3, 9]
    assert v.values == [2.0, 0.5]
    assert v.as_dict() == {3: 2.0, 9: 0.5}
    assert SparseVector.from_dict(v.as_dict()) == v


def test_dot_and_len() -> None:
    a = SparseVector([1, 5, 8], [1.0, 2.0, 3.0])
    b = SparseVector([5, 8, 10], [0.5, 1.0, 9.0])
    assert a.dot(b) == pytest.approx(4.0)
    assert len(a) == 3
    assert SparseVector().dot(a) == 0.0


@pytest.mark.parametrize(
    ("indices", "values", "message"),
    [([1, 1], [1.0, 2.0], "sorted and unique"), ([2, 1], [1.0, 1.0], "sorted"),
     ([-1], [1.0], "non-negative"), ([1], [], "as many values")],
)
def test_invalid_vectors_are_rejected(
    indices: list[int], values: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SparseVector(indices, values)
