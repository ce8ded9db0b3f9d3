from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from langchain_embedkit.errors import DimensionMismatchError
from langchain_embedkit.vectorstores.backends.base import Row
from langchain_embedkit.vectorstores.backends.chroma import check_chroma_metadata
from langchain_embedkit.vectorstores.ingest import (
    check_dimensions,
    check_finite,
    row_bytes,
    split_requests,
)


def rows(n: int, dim: int = 4, text: str = "x") -> list[Row]:
    return [Row(id=str(i), text=text, metadata={}, dense=[0.0] * dim) for i in range(n)]


def test_split_requests_respects_rows_and_bytes() -> None:
    assert [len(r) for r in split_requests(rows(10), 4, None)] == [4, 4, 2]
    sample = rows(10, dim=1000)
    size = row_bytes(sample[0])
    assert [len(r) for r in split_requests(sample, 100, 3 * size)] == [3, 3, 3, 1]
    # one row larger than the cap still goes, alone
    assert [len(r) for r in split_requests(rows(2, dim=10_000), 100, 10)] == [1, 1]


def test_check_dimensions_names_both_sizes() -> None:
    assert check_dimensions([[0.0] * 3, [1.0] * 3], None) == 3
    with pytest.raises(DimensionMismatchError, match=r"holds 384-dimensional.*returned 3"):
        check_dimensions([[0.0] * 3], 384)
    with pytest.raises(DimensionMismatchError, match=r"\[2, 3\]"):
        check_dimensions([[0.0] * 3, [0.0] * 2], None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"a": 1}, "a dict"),
        (None, "None"),
        ([], "empty list"),
        ([1, "a"], "mixing"),
        (2**64, "64-bit"),
        (float("inf"), "infinite"),
    ],
)
def test_chroma_metadata_errors_name_key_and_reason(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=f"'bad'.*{reason}"):
        check_chroma_metadata({"ok": 1, "bad": value})


def test_chroma_metadata_accepts_what_it_stores() -> None:
    check_chroma_metadata({"s": "中文", "i": -3, "f": 0.5, "b": True, "l": [1, 2], "t": ["a"]})
    with pytest.raises(ValueError, match="reserved"):
        check_chroma_metadata({"embedkit:sparse": "x"})


@pytest.mark.parametrize(
    ("vectors", "bad"),
    [
        ([[0.1] * 384, [1e37] * 384], None),  # sums past float32's range, every value within it
        ([[0.1, float("nan")]], "nan"),
        ([[0.1, 0.2], [float("-inf"), 0.0]], "-inf"),
        ([[3.5e38, 0.0]], "3.5e+38"),
        ([np.array([0.5, np.inf], dtype=np.float32)], "inf"),
    ],
)
def test_check_finite_names_the_first_bad_value(vectors: list[Any], bad: str | None) -> None:
    if bad is None:
        check_finite(vectors)
        return
    with pytest.raises(ValueError, match=re.escape(bad)):
        check_finite(vectors)
