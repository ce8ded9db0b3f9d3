"""Tiny random cross-encoders built once per session and saved like real ones."""

from __future__ import annotations

from pathlib import Path

import pytest

_VOCAB = (
    "[PAD] [UNK] [CLS] [SEP] [MASK] the a is of in what how capital city paris france "
    "berlin germany bm25 ranks words vector search dense sparse retrieval cats dogs "
    "向 量 检 索 是 什 么 巴 黎 法 国 首 都"
)
WORDS = _VOCAB.split()


def build_cross_encoder(directory: Path, num_labels: int, seed: int) -> Path:
    """Save a 1-layer BERT sequence classifier and its WordPiece tokenizer to ``directory``."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(WORDS),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=num_labels,
        initializer_range=0.3,  # wide enough that documents get clearly different scores
    )
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_cross_encoders(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """``{num_labels: model folder}`` for heads with 1, 2 and 3 labels."""
    root = tmp_path_factory.mktemp("cross-encoders")
    return {n: build_cross_encoder(root / f"labels-{n}", n, seed=n) for n in (1, 2, 3)}
