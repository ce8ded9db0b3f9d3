"""A tiny random SPLADE model, built once per session and saved like a real one."""

from __future__ import annotations

from pathlib import Path

import pytest

WORDS = [
    *("the", "a", "of", "is", "what", "how", "rag", "retrieval", "augmented", "generation"),
    *("vector", "database", "search", "bm25", "sparse", "dense", "query", "document"),
    *("model", "text", "hybrid", "index", "store", "embedding", "##s", "##ing", "##ed"),
]


@pytest.fixture(scope="session")
def tiny_splade_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a SparseEncoder (random BertForMaskedLM + SpladePooling) with a WordPiece vocab."""
    import torch
    from sentence_transformers import SparseEncoder
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sparse_encoder.modules import SpladePooling
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    root = tmp_path_factory.mktemp("tiny-splade")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (root / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(root / "vocab.txt"))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    mlm = root / "mlm"
    BertForMaskedLM(config).save_pretrained(mlm)
    tokenizer.save_pretrained(mlm)
    encoder = SparseEncoder(
        modules=[
            Transformer(str(mlm), transformer_task="fill-mask"),
            SpladePooling("max", embedding_dimension=len(vocab)),
        ],
        device="cpu",
    )
    target = root / "splade"
    encoder.save(str(target))
    return target
