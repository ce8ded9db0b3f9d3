from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    [
        ([1, 1], [1.0, 2.0], "sorted and unique"),
        ([2, 1], [1.0, 1.0], "sorted"),
        ([-1], [1.0], "non-negative"),
        ([1], [], "as many values"),
    ],
)
def test_invalid_vectors_are_rejected(
    indices: list[int], values: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SparseVector(indices, values)


@given(
    st.dictionaries(
        st.integers(min_value=0, max_value=2**31 - 1),
        st.floats(allow_nan=False, allow_infinity=False).filter(bool),
        max_size=50,
    )
)
def test_from_sorted_equals_the_validated_vector(mapping: dict[int, float]) -> None:
    validated = SparseVector.from_dict(mapping)
    trusted = SparseVector._from_sorted(list(validated.indices), list(validated.values))
    assert type(trusted) is SparseVector
    assert trusted == validated == SparseVector(trusted.indices, trusted.values)
    assert repr(trusted) == repr(validated)
    assert trusted.as_dict() == validated.as_dict()
    assert len(trusted) == len(validated)
    with pytest.raises(FrozenInstanceError):
        trusted.indices = []  # type: ignore[misc]


def test_from_sorted_keeps_the_given_lists() -> None:
    indices, values = [2, 7], [1.0, 0.5]
    vector = SparseVector._from_sorted(indices, values)
    assert vector.indices is indices and vector.values is values
    assert vector == SparseVector([2, 7], [1.0, 0.5])
    assert SparseVector._from_sorted([], []) == SparseVector()
