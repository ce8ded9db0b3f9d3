"""Local reranking with a sentence-transformers ``CrossEncoder``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ConfigDict, Field, PrivateAttr

from langchain_embedkit._imports import require
from langchain_embedkit.embeddings import ModelNotFoundError
from langchain_embedkit.rerankers.base import BaseReranker

__all__ = ["DEFAULT_CROSS_ENCODER", "CrossEncoderReranker", "logits_to_scores"]

DEFAULT_CROSS_ENCODER = "BAAI/bge-reranker-base"
"""Multilingual (Chinese and English) reranker, 278M parameters, one-logit head."""


def logits_to_scores(logits: np.ndarray) -> np.ndarray:
    """Map cross-encoder logits to relevance probabilities in [0, 1].

    One logit per pair: sigmoid. Two logits (negative, positive): the softmax
    probability of the positive class, which equals ``sigmoid(l1 - l0)``.

    Example:
        >>> logits_to_scores(np.array([0.0, 2.0])).round(3).tolist()
        [0.5, 0.881]
        >>> logits_to_scores(np.array([[0.0, 0.0], [-1.0, 1.0]])).round(3).tolist()
        [0.5, 0.881]
    """
    values = np.asarray(logits, dtype=np.float64)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim == 2 and values.shape[1] == 2:
        values = values[:, 1] - values[:, 0]
    elif values.ndim != 1:
        msg = (
            f"Cross-encoder returned logits of shape {values.shape}; rerankers need one logit "
            "(relevance) or two (not relevant, relevant) per pair."
        )
        raise ValueError(msg)
    # tanh form of the sigmoid: no overflow for large |x|.
    return 0.5 * (1.0 + np.tanh(0.5 * values))


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith(("/", ".", "~"))
        or "\\" in name
        or name.count("/") > 1
        or Path(name).suffix in {".onnx", ".bin", ".safetensors"}
    )


class CrossEncoderReranker(BaseReranker):
    """Rerank documents with a local cross-encoder (BGE, mMARCO, MiniLM rerankers).

    Scores are probabilities in [0, 1]: a sigmoid over one-logit heads, the positive
    class' softmax over two-logit heads. Nothing is downloaded: ``model_name`` is a
    local folder or a model already in the Hugging Face cache; anything else raises
    ``ModelNotFoundError`` (a ``FileNotFoundError``) saying how to fetch it.

    Example:
        .. code-block:: python

            from langchain_core.documents import Document
            from langchain_embedkit.rerankers import CrossEncoderReranker

            reranker = CrossEncoderReranker(model_name="./models/bge-reranker-base", top_n=2)
            docs = [
                Document("Paris is the capital of France.", id="1"),
                Document("BM25 is a ranking function.", id="2"),
                Document("巴黎是法国的首都。", id="3"),
            ]
            for doc in reranker.compress_documents(docs, "What is the capital of France?"):
                print(doc.id, round(doc.metadata["relevance_score"], 2))
            # 1 0.99
            # 3 0.97

        In a retriever: ``ContextualCompressionRetriever(base_compressor=reranker,
        base_retriever=retriever)`` (from ``langchain_classic.retrievers``).
    """

    model_name: str = DEFAULT_CROSS_ENCODER
    """Local folder, or a Hugging Face id already in the local cache."""

    batch_size: int = 32
    """Pairs scored per forward pass."""

    device: str | None = None
    """``"cpu"``, ``"cuda"``, ``"mps"``...; ``None`` lets sentence-transformers choose."""

    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for sentence-transformers' ``CrossEncoder``, e.g.
    ``{"max_length": 512, "trust_remote_code": True}``."""

    local_files_only: bool = True
    """Never reach the Hub; set ``False`` to let sentence-transformers download."""

    show_progress_bar: bool = False
    """Show a progress bar over batches (useful for hundreds of documents)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    _model: Any = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        if self.batch_size < 1:
            msg = f"CrossEncoderReranker batch_size must be >= 1; got {self.batch_size}."
            raise ValueError(msg)
        self._model = self._load()

    def _load(self) -> Any:
        name = self.model_name
        path = Path(name).expanduser()
        if not path.exists() and _looks_like_path(name):
            msg = (
                f"Cross-encoder model path {str(path)!r} does not exist. Pass model_name= a "
                "folder holding config.json, the tokenizer files and the weights, e.g. one "
                f"made with: hf download {DEFAULT_CROSS_ENCODER} --local-dir "
                "./models/bge-reranker-base"
            )
            raise ModelNotFoundError(msg)
        if path.is_dir() and not (path / "config.json").is_file():
            msg = (
                f"Cross-encoder folder {str(path)!r} has no config.json, so it holds no saved "
                "model. Point model_name at the folder that save_pretrained() or "
                f"'hf download {DEFAULT_CROSS_ENCODER} --local-dir DIR' wrote."
            )
            raise ModelNotFoundError(msg)
        st = require("sentence_transformers", "local")
        kwargs: dict[str, Any] = {
            "device": self.device,
            "local_files_only": self.local_files_only,
            **self.model_kwargs,
        }
        try:
            model = st.CrossEncoder(str(path) if path.exists() else name, **kwargs)
        except OSError as exc:
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            if path.exists():
                fix = "Check that it holds config.json, the tokenizer files and the weights."
            else:
                local = f"./models/{name.rstrip('/').split('/')[-1]}"
                fix = (
                    f"Download it once with: hf download {name} --local-dir {local} and pass "
                    f"model_name={local!r}"
                    + (
                        " (or set local_files_only=False to let it download)."
                        if self.local_files_only
                        else "."
                    )
                )
            where = f"folder {str(path)!r}" if path.exists() else f"Hugging Face id {name!r}"
            msg = f"Could not load the cross-encoder from {where}: {reason} {fix}"
            raise ModelNotFoundError(msg) from exc
        num_labels = int(model.num_labels)
        if num_labels not in (1, 2):
            msg = (
                f"Model {name!r} has {num_labels} output labels; a reranker needs 1 (a "
                "relevance logit) or 2 (not relevant, relevant). NLI models with 3 labels "
                "do not score relevance."
            )
            raise ValueError(msg)
        return model

    @property
    def num_labels(self) -> int:
        """1 or 2: the size of the loaded model's classification head."""
        return int(self._model.num_labels)

    def _score(self, query: str, texts: list[str]) -> list[tuple[int, float]]:
        torch = require("torch", "local")
        logits = self._model.predict(
            [(query, text) for text in texts],
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            # Raw logits: the model's saved activation varies, the maths here does not.
            activation_fn=torch.nn.Identity(),
            convert_to_numpy=True,
        )
        scores = logits_to_scores(np.asarray(logits))
        return [(i, float(s)) for i, s in enumerate(scores)]

    def score(self, query: str, texts: list[str]) -> list[float]:
        """Relevance in [0, 1] of each text to ``query``, in input order.

        Example:
            .. code-block:: python

                reranker.score("capital of France", ["Paris is...", "BM25 is..."])
                # [0.99, 0.01]
        """
        if not texts:
            return []
        return [s for _, s in self._score(query, texts)]
