from __future__ import annotations

import pytest

from langchain_embedkit.fusion import rrf, weighted


def test_rrf_matches_hand_computed_scores() -> None:
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.1)]
    sparse = [("c", 11.0), ("a", 3.0)]
    fused = dict(rrf([dense, sparse], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert [d for d, _ in rrf([dense, sparse], k=60)] == ["a", "c", "b"]


def test_rrf_normalized_puts_unanimous_winner_at_one() -> None:
    fused = rrf([[("x", 1.0), ("y", 0.5)], [("x", 2.0)]], k=60, normalize=True)
    assert fused[0] == ("x", pytest.approx(1.0))
    assert all(0.0 <= s <= 1.0 for _, s in fused)


def test_rrf_weights_and_duplicates() -> None:
    fused = dict(rrf([[("a", 1.0), ("a", 0.5)], [("b", 1.0)]], k=0, weights=[1.0, 3.0]))
    assert fused == {"a": pytest.approx(1.0), "b": pytest.approx(3.0)}


def test_weighted_minmax_and_missing_documents() -> None:
    fused = weighted([[("a", 0.9), ("b", 0.5)], [("b", 7.0), ("c", 1.0)]], weights=[0.4, 0.6])
    assert dict(fused) == pytest.approx({"a": 0.4, "b": 0.6, "c": 0.0})
    assert fused[0][0] == "b"


def test_weighted_none_adds_raw_scores() -> None:
    fused = weighted([[("a", 0.5)], [("a", 0.25)]], normalization="none")
    assert fused == [("a", 0.75)]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rrf([[("a", 1.0)]], weights=[1.0, 2.0]), "2 weights for 1 rankings"),
        (lambda: rrf([[("a", 1.0)]], k=-1), "k must be >= 0"),
        (lambda: weighted([[("a", 1.0)]], normalization="zscore"), "supported: 'minmax'"),  # type: ignore[arg-type]
        (lambda: weighted([[("a", 1.0)]], weights=[-1.0]), "must be >= 0"),
    ],
)
def test_bad_arguments_name_the_problem(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
