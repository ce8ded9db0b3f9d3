"""``Qwen3Embeddings``: Qwen3-Embedding with task instructions and Matryoshka dimensions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from langchain_embedkit._imports import require
from langchain_embedkit.embeddings._sentence_transformers import SentenceTransformerEmbeddingsBase

__all__ = ["QWEN3_DEFAULT_TASK", "Qwen3Embeddings"]

QWEN3_DEFAULT_TASK = "Given a web search query, retrieve relevant passages that answer the query"
# Qwen3-Embedding is trained for output sizes from 32 up to the full hidden size.
_MIN_DIMENSIONS = 32


class Qwen3Embeddings(SentenceTransformerEmbeddingsBase):
    """Qwen3-Embedding (0.6B/4B/8B) or a local copy, through sentence-transformers.

    Queries become ``"Instruct: {task}\\nQuery:{text}"``; documents get no prompt. Pooling
    (last token) and normalization follow the model's sentence-transformers config.
    ``dimensions`` keeps the first N values (Matryoshka) and re-normalizes them; it must lie
    between 32 and the model's full size. ``dtype="auto"`` runs fp32 on CPU and bf16 (or fp16
    where bf16 is unsupported) on GPU. An empty string is embedded like any text.

    Example:
        >>> from langchain_embedkit.embeddings import Qwen3Embeddings
        >>> embeddings = Qwen3Embeddings(dimensions=256)  # doctest: +SKIP
        >>> len(embeddings.embed_query("What is the capital of China?"))  # doctest: +SKIP
        256
    """

    model_name: str = "Qwen/Qwen3-Embedding-0.6B"
    """Qwen3-Embedding model id (read from the local Hugging Face cache) or a local folder."""

    task: str = QWEN3_DEFAULT_TASK
    """One-sentence task description put into the query instruction (English works best,
    also for Chinese text)."""

    dimensions: int | None = Field(default=None, gt=0)
    """Output size (Matryoshka truncation + re-normalization); None keeps the full size."""

    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    """Weights dtype: ``"auto"`` is float32 on CPU and bfloat16/float16 on GPU."""

    def _resolved_dtype(self) -> str:
        if self.dtype != "auto":
            return self.dtype
        if self.backend == "onnx":
            return "float32"
        torch = require("torch", "local")
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if device.startswith("cuda"):
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        if device.startswith("mps"):
            return "float16"
        return "float32"

    def _constructor_kwargs(self) -> dict[str, Any]:
        kwargs = super()._constructor_kwargs()
        if self.backend == "torch":
            transformers = require("transformers", "local")
            major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
            # transformers 4.56 renamed torch_dtype to dtype (the old name still works, noisily).
            key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
            kwargs["model_kwargs"] = {key: self._resolved_dtype()}
        return kwargs

    def _after_load(self) -> None:
        if self.dimensions is None:
            return
        full = self._full_dimension()
        low = min(_MIN_DIMENSIONS, full)
        if not low <= self.dimensions <= full:
            msg = (
                f"dimensions={self.dimensions} is outside the range model '{self.model_name}' "
                f"supports: {low} to {full} (Matryoshka truncation). Pick a value in that "
                f"range, or dimensions=None for all {full}."
            )
            raise ValueError(msg)

    def _truncate_dim(self) -> int | None:
        return self.dimensions

    def _encode_options(self, *, query: bool) -> dict[str, Any]:
        options = super()._encode_options(query=query)
        if self.dimensions is not None:
            # A truncated prefix of a unit vector is shorter than 1: normalize it again.
            options["normalize_embeddings"] = True
        return options

    def _query_prompt(self) -> str:
        return f"Instruct: {self.task}\nQuery:"

    def _document_prompt(self) -> str:
        return ""
