"""SPLADE sparse embeddings through sentence-transformers' ``SparseEncoder``.

A SPLADE model maps a text to a weight for every token of its vocabulary (most of
them zero); the index of a weight is the tokenizer's token id, so ``dim`` is the
vocabulary size. Queries go through ``encode_query`` and documents through
``encode_document``, which apply the model's own query/document prompts or routes
when it has them. ``query_top_k`` / ``document_top_k`` keep only the largest weights
(sentence-transformers' ``max_active_dims``), trading a little quality for smaller
vectors and faster search.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from langchain_embedkit._imports import require
from langchain_embedkit.sparse.base import SparseEmbeddings
from langchain_embedkit.types import SparseVector

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SparseEncoder

__all__ = ["DEFAULT_SPLADE_MODEL", "SpladeSparseEmbeddings"]

DEFAULT_SPLADE_MODEL = "naver/splade-cocondenser-ensembledistil"
"""The SPLADE model used when none is named (the one pymilvus-model defaults to)."""


class SpladeSparseEmbeddings(BaseModel, SparseEmbeddings):
    """Learned sparse embeddings from a SPLADE model (sentence-transformers ``SparseEncoder``).

    The model loads once, when the object is built, from a Hugging Face model id or a
    local folder saved with ``SparseEncoder.save``.

    Example:
        With a SPLADE model on disk or from the Hub::

            splade = SpladeSparseEmbeddings(model_name="path/to/splade")
            vector = splade.embed_query("what is hybrid search?")
            len(vector) <= splade.dim  # True
    """

    model_config = ConfigDict(frozen=True, protected_namespaces=(), extra="forbid")

    model_name: str = DEFAULT_SPLADE_MODEL
    """Hugging Face model id or path of a saved sentence-transformers SparseEncoder."""
    device: str | None = None
    """Torch device ("cpu", "cuda", "mps"); ``None`` picks the best available."""
    cache_folder: str | None = None
    """Where downloaded models are cached (``SENTENCE_TRANSFORMERS_HOME`` by default)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra keyword arguments for ``SparseEncoder(...)`` (``trust_remote_code``,
    ``revision``, ``backend``, ``model_kwargs``...)."""
    encode_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra keyword arguments for ``encode_document`` (e.g. ``prompt_name``)."""
    query_encode_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra keyword arguments for ``encode_query``."""
    batch_size: int = Field(default=32, ge=1)
    """Texts per forward pass."""
    query_top_k: int | None = Field(default=None, ge=1)
    """Keep only this many largest weights per query (``None``: all non-zero)."""
    document_top_k: int | None = Field(default=None, ge=1)
    """Keep only this many largest weights per document (``None``: all non-zero)."""
    show_progress_bar: bool = False
    """Show a progress bar while encoding documents."""

    _client: SparseEncoder = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        module = require("sentence_transformers", "local")
        self._client = module.SparseEncoder(
            self.model_name,
            device=self.device,
            cache_folder=self.cache_folder,
            **self.model_kwargs,
        )

    @property
    def client(self) -> SparseEncoder:
        """The underlying ``SparseEncoder``."""
        return self._client

    @property
    def dim(self) -> int:
        """Vocabulary size: every index is below it."""
        dimension = self._client.get_embedding_dimension()
        if dimension is None:  # pragma: no cover - every SPLADE head knows its size
            dimension = len(self._client.tokenizer)
        return int(dimension)

    @property
    def is_fitted(self) -> bool:
        """Always ``True``: a pretrained model needs no fitting."""
        return True

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        """Encode documents with the model's document path (``encode_document``)."""
        texts = _check_texts(texts, "embed_documents")
        if not texts:
            return []
        embeddings = self._client.encode_document(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            convert_to_tensor=True,
            convert_to_sparse_tensor=True,
            save_to_cpu=True,
            max_active_dims=self.document_top_k,
            **self.encode_kwargs,
        )
        return _to_vectors(embeddings, len(texts))

    def embed_query(self, text: str) -> SparseVector:
        """Encode one query with the model's query path (``encode_query``)."""
        if not isinstance(text, str):
            msg = f"embed_query() takes one str; got {type(text).__name__}."
            raise TypeError(msg)
        return self.encode_queries([text])[0]

    def encode_queries(self, texts: list[str]) -> list[SparseVector]:
        """Encode several queries in batches (the pymilvus-model name)."""
        texts = _check_texts(texts, "encode_queries")
        if not texts:
            return []
        embeddings = self._client.encode_query(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_tensor=True,
            convert_to_sparse_tensor=True,
            save_to_cpu=True,
            max_active_dims=self.query_top_k,
            **self.query_encode_kwargs,
        )
        return _to_vectors(embeddings, len(texts))

    def encode_documents(self, texts: list[str]) -> list[SparseVector]:
        """Alias of :meth:`embed_documents` (the pymilvus-model name)."""
        return self.embed_documents(texts)

    def decode(self, vector: SparseVector, top_k: int | None = None) -> list[tuple[str, float]]:
        """The tokens behind a vector, largest weight first: for inspecting what matches."""
        pairs = sorted(zip(vector.values, vector.indices, strict=True), reverse=True)[:top_k]
        tokens = self._client.tokenizer.convert_ids_to_tokens([index for _, index in pairs])
        return [
            (str(token), float(weight)) for token, (weight, _) in zip(tokens, pairs, strict=True)
        ]


def _check_texts(texts: list[str], method: str) -> list[str]:
    if isinstance(texts, str):
        msg = f"{method}() takes a list of texts; got one str. Wrap it in a list: [text]."
        raise TypeError(msg)
    texts = list(texts)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            msg = f"{method}() takes a list of str; item {position} is {type(text).__name__}."
            raise TypeError(msg)
    return texts


def _to_vectors(embeddings: torch.Tensor, count: int) -> list[SparseVector]:
    """Rows of a (count, vocab) sparse COO tensor as SparseVectors."""
    if not embeddings.is_sparse:
        embeddings = embeddings.to_sparse()
    embeddings = embeddings.coalesce()
    rows, cols = embeddings.indices().tolist()
    values = embeddings.values().float().tolist()
    per_row: list[dict[int, float]] = [{} for _ in range(count)]
    for row, col, value in zip(rows, cols, values, strict=True):
        if value != 0.0:
            per_row[row][col] = value
    return [SparseVector.from_dict(entries) for entries in per_row]
