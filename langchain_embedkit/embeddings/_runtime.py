"""Encode texts with tokenizers + onnxruntime only: the torch-free path of BERT models.

The graph (built by :mod:`._bert_graph`, fp32 or int8) already pools; this module
tokenizes exactly as sentence-transformers does (the model's ``tokenizer.json``, truncation
to ``max_seq_length``, padding to the longest text of the batch), runs batches sorted by
token count so that little time goes into padding, applies the model's Normalize module,
then ``truncate_dim`` and ``normalize_embeddings`` in sentence-transformers' order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_embedkit._imports import require

if TYPE_CHECKING:
    import numpy as np

    from langchain_embedkit.embeddings._bert_graph import BertLayout

__all__ = ["OnnxSentenceEncoder", "open_session"]


class OnnxSentenceEncoder:
    """One tokenizer and one onnxruntime session over a pooled sentence-embedding graph.

    Sessions are safe to call from several threads at once, so the async methods of the
    embeddings classes share one encoder.
    """

    def __init__(self, layout: BertLayout, graph: Path, *, threads: int | None = None) -> None:
        ort = require("onnxruntime", "onnx")
        tokenizers = require("tokenizers", "onnx")
        self.layout = layout
        self.graph = graph
        self.tokenizer = tokenizers.Tokenizer.from_file(str(layout.folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.max_seq_length = layout.max_seq_length
        self._pad_id = _pad_id(layout.folder, self.tokenizer)
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self.session = open_session(graph, options)
        self.prompts = _read_prompts(layout.folder)

    @property
    def max_seq_length(self) -> int:
        """Inputs are cut to this many tokens (special tokens included)."""
        return self._max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self._max_seq_length = value
        self.tokenizer.enable_truncation(max_length=value)

    @property
    def dimension(self) -> int:
        """Length of the pooled vectors (before any ``truncate_dim``)."""
        return self.layout.hidden_size

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self.tokenizer.encode_batch(texts)]

    def _batches(self, ids: list[list[int]], batch_size: int) -> Iterator[tuple[list[int], Any]]:
        import numpy as np

        # Longest first, as sentence-transformers does: memory peaks on the first batch.
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            width = len(ids[chosen[0]])
            input_ids = np.full((len(chosen), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(chosen), width), dtype=np.int64)
            for row, index in enumerate(chosen):
                tokens = ids[index]
                input_ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            yield chosen, (input_ids, mask)

    def encode(
        self,
        texts: list[str],
        *,
        prompt: str = "",
        batch_size: int = 32,
        normalize_embeddings: bool = True,
        truncate_dim: int | None = None,
        show_progress_bar: bool = False,
    ) -> np.ndarray:
        """Float32 vectors for ``texts`` (``prompt`` put in front of each), in input order."""
        import numpy as np

        ids = self._tokenize([prompt + text for text in texts] if prompt else texts)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        batches = self._batches(ids, batch_size)
        if show_progress_bar:
            from tqdm.auto import tqdm

            batches = tqdm(batches, total=-(-len(ids) // batch_size), desc="Batches")
        for chosen, (input_ids, mask) in batches:
            pooled = self.session.run(
                ["sentence_embedding"],
                {
                    "input_ids": input_ids,
                    "attention_mask": mask,
                    "token_type_ids": np.zeros_like(input_ids),
                },
            )[0]
            out[chosen] = pooled
        if self.layout.normalize:
            out = _unit(out)
        if truncate_dim is not None:
            out = out[:, :truncate_dim]
        if normalize_embeddings:
            out = _unit(out)
        return out


def open_session(graph: Path, options: Any) -> Any:
    """An onnxruntime CPU session over ``graph`` with ``options`` (``ort.SessionOptions``).

    Every session over these graphs goes through here so that the fusions that slow them
    down (:data:`~langchain_embedkit.embeddings._bert_graph.UNFUSED_OPTIMIZERS`) stay off.
    """
    from langchain_embedkit.embeddings._bert_graph import UNFUSED_OPTIMIZERS

    ort = require("onnxruntime", "onnx")
    return ort.InferenceSession(
        str(graph),
        sess_options=options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=list(UNFUSED_OPTIMIZERS),
    )


def _unit(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    # torch.nn.functional.normalize: x / max(||x||, 1e-12)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _pad_id(folder: Path, tokenizer: Any) -> int:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        pad = config.get("pad_token_id")
        if isinstance(pad, int):
            return pad
    except (OSError, ValueError):
        pass
    token = tokenizer.token_to_id("[PAD]")
    return int(token) if token is not None else 0


def _read_prompts(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / "config_sentence_transformers.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    prompts = data.get("prompts") if isinstance(data, dict) else None
    if not isinstance(prompts, dict):
        return {}
    return {str(k): str(v) for k, v in prompts.items() if isinstance(v, str)}
