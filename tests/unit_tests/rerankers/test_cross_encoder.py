"""Cross-encoder score maths and path errors (the model itself is tested in integration)."""

from __future__ import annotations

import numpy as np
import pytest

from langchain_embedkit.embeddings import ModelNotFoundError
from langchain_embedkit.rerankers.cross_encoder import CrossEncoderReranker, logits_to_scores


def test_one_logit_heads_use_the_sigmoid() -> None:
    logits = np.array([-3.0, 0.0, 2.5])
    assert logits_to_scores(logits) == pytest.approx(1 / (1 + np.exp(-logits)))
    assert logits_to_scores(logits[:, None]) == pytest.approx(1 / (1 + np.exp(-logits)))


def test_two_logit_heads_use_the_positive_class_softmax() -> None:
    logits = np.array([[2.0, -1.0], [0.3, 0.3], [-4.0, 5.0]])
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert logits_to_scores(logits) == pytest.approx(softmax[:, 1])


def test_scores_stay_in_the_unit_interval_for_extreme_logits() -> None:
    scores = logits_to_scores(np.array([-1e4, 1e4]))
    assert scores.tolist() == [0.0, 1.0]


def test_three_logit_heads_are_refused() -> None:
    with pytest.raises(ValueError, match="one logit"):
        logits_to_scores(np.zeros((2, 3)))


def test_missing_local_path_names_the_path_and_the_fix(tmp_path: object) -> None:
    missing = f"{tmp_path}/no-such-model"
    with pytest.raises(FileNotFoundError, match="no-such-model") as info:
        CrossEncoderReranker(model_name=missing)
    assert "hf download" in str(info.value)
    assert isinstance(info.value, ModelNotFoundError)
