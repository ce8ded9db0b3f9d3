"""A tiny random BGE-M3: an XLM-RoBERTa encoder saved with ``sparse_linear.pt`` and
``colbert_linear.pt`` beside it, the layout ``BAAI/bge-m3`` ships.

The tokenizer is a small Unigram model trained here with the XLM-R special tokens
(``<s>``, ``<pad>``, ``</s>``, ``<unk>``, ``<mask>`` at ids 0-4) and the ``<s> $A </s>``
template, so ids, special tokens and padding behave as the real sentencepiece tokenizer's.
The two heads are ``torch.save``\\ d state dicts, the format BGE-M3 publishes.
"""

from __future__ import annotations

import json
from pathlib import Path

TINY_M3_DIM = 32

_CORPUS = [
    "BGE-M3 gives dense, sparse and multi-vector representations in one pass.",
    "Hybrid search combines sparse keyword scores with dense vector scores.",
    "BM25 ranks documents by term frequency and inverse document frequency.",
    "Chroma is an open-source embedding database. Milvus stores vectors.",
    "人工智能作为一门学科成立于1956年。图灵是第一个在人工智能领域进行大量研究的人。",
    "向量检索通过比较向量之间的相似度来查找文档。稀疏向量记录词的权重。",
    "What is the capital of France? Paris is the capital and largest city of France.",
    "foo bar baz qux 0123456789 !?.,;:'\"()[]{}<>-_/\\",
]
_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def build_tiny_bge_m3(folder: Path) -> Path:
    """Build and save the tiny model under ``folder``; returns ``folder``."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

    unigram = Tokenizer(models.Unigram())
    unigram.normalizer = normalizers.NFKC()
    unigram.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=300, special_tokens=_SPECIALS, unk_token="<unk>", show_progress=False
    )
    unigram.train_from_iterator(_CORPUS, trainer=trainer)
    unigram.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    tokenizer = XLMRobertaTokenizerFast(
        tokenizer_object=unigram,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=8192,
    )
    config = XLMRobertaConfig(
        vocab_size=unigram.get_vocab_size(),
        hidden_size=TINY_M3_DIM,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=514,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    torch.manual_seed(0)
    XLMRobertaModel(config).eval().save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    sparse = torch.nn.Linear(TINY_M3_DIM, 1)
    # A positive bias keeps most tokens' ReLU weights above zero, as in the trained head.
    torch.nn.init.constant_(sparse.bias, 0.2)
    torch.save(sparse.state_dict(), folder / "sparse_linear.pt")
    torch.save(torch.nn.Linear(TINY_M3_DIM, TINY_M3_DIM).state_dict(), folder / "colbert_linear.pt")
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {}, "default_prompt_name": None, "similarity_fn_name": "cosine"}),
        encoding="utf-8",
    )
    return folder
