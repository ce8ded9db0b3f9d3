"""BGE-M3: dense vectors and sparse lexical weights from one forward pass.

``BAAI/bge-m3`` is an XLM-RoBERTa encoder with two small heads saved beside it. The
dense vector is the normalised hidden state of the first token (``<s>``); the sparse
vector gives every input token the weight ``relu(sparse_linear(hidden_state))`` (the
largest one when a token repeats), minus the special tokens. The index of a sparse
weight is the tokenizer's token id, so the lexical score of a query and a document is
the dot product of their sparse vectors: the score ``BGEM3FlagModel`` calls
``compute_lexical_matching_score``.

:class:`BGEM3Embeddings` is the dense LangChain ``Embeddings``; its :attr:`sparse`
companion is the :class:`~langchain_embedkit.sparse.base.SparseEmbeddings` that the
store's ``sparse`` and ``hybrid`` modes take. Both share one loaded model, and each
forward pass keeps the other side's result for the same texts until it is asked for,
so a store that embeds a batch densely and then sparsely runs the model once.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from langchain_embedkit._imports import require
from langchain_embedkit.embeddings._inputs import check_query, check_texts
from langchain_embedkit.embeddings._sentence_transformers import (
    ModelNotFoundError,
    resolve_model_source,
)
from langchain_embedkit.sparse.base import SparseEmbeddings
from langchain_embedkit.types import SparseVector

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["BGEM3_MODEL", "BGEM3Embeddings", "BGEM3Output", "BGEM3SparseEmbeddings"]

BGEM3_MODEL = "BAAI/bge-m3"
"""The Hugging Face id of BGE-M3."""

SPARSE_HEAD_FILE = "sparse_linear.pt"
"""The file, in the model folder, holding the sparse head's ``torch.save``\\ d state dict."""

_NOT_M3 = (
    "BGEM3Embeddings needs a BGE-M3 folder: an XLM-RoBERTa model with "
    f"'{SPARSE_HEAD_FILE}' beside config.json (as in BAAI/bge-m3)."
)


class BGEM3Output(dict[str, Any]):
    """What :meth:`BGEM3Embeddings.encode_documents` returns, keyed like pymilvus-model.

    ``["dense"]`` is a list of ``list[float]`` and ``["sparse"]`` a list of
    :class:`SparseVector`, one of each per text, in input order.
    """

    @property
    def dense(self) -> list[list[float]]:
        """One dense vector per text."""
        vectors: list[list[float]] = self["dense"]
        return vectors

    @property
    def sparse(self) -> list[SparseVector]:
        """One sparse vector (token id -> weight) per text."""
        vectors: list[SparseVector] = self["sparse"]
        return vectors


class BGEM3Embeddings(BaseModel, Embeddings):
    """BGE-M3 dense embeddings, with the model's own sparse weights on :attr:`sparse`.

    The model loads once, when the object is built, from a local folder or the hub id
    (``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` apply). BGE-M3 needs no query instruction:
    queries and documents go through the same encoder, queries cut at
    ``query_max_length`` tokens and documents at ``max_length``.

    Example:
        .. code-block:: python

            from langchain_embedkit.embeddings.bge_m3 import BGEM3Embeddings
            from langchain_embedkit.vectorstores import EmbedKitVectorStore

            m3 = BGEM3Embeddings(model_name="BAAI/bge-m3")
            out = m3.encode_documents(["BGE-M3 是一个多语言模型。"])  # one forward pass
            print(len(out["dense"][0]), len(out["sparse"][0]) > 0)
            # 1024 True
            store = EmbedKitVectorStore(m3, sparse_embedding=m3.sparse, backend="chroma")
            store.add_texts(["BGE-M3 是一个多语言模型。"])
            store.similarity_search("多语言", k=1, retrieval_mode="hybrid")
    """

    model_config = ConfigDict(protected_namespaces=(), extra="forbid")

    model_name: str = BGEM3_MODEL
    """Hugging Face id or local folder of BGE-M3 (``config.json`` + ``sparse_linear.pt``)."""
    device: str | None = None
    """Torch device (``"cpu"``, ``"cuda"``, ``"mps"``); ``None`` picks CUDA when present."""
    cache_folder: str | None = None
    """Where hub downloads are cached (the Hugging Face cache by default)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra keyword arguments for ``AutoModel.from_pretrained`` (``revision``, ``torch_dtype``)."""
    batch_size: int = Field(default=16, ge=1)
    """Texts per forward pass."""
    max_length: int = Field(default=8192, ge=2)
    """Tokens kept per document (BGE-M3 reads up to 8192)."""
    query_max_length: int = Field(default=512, ge=2)
    """Tokens kept per query."""
    normalize_embeddings: bool = True
    """Scale dense vectors to unit length, so inner product is cosine similarity."""
    show_progress_bar: bool = False
    """Show a progress bar while encoding documents."""

    _tokenizer: PreTrainedTokenizerBase = PrivateAttr()
    _model: PreTrainedModel = PrivateAttr()
    _sparse_head: torch.nn.Linear = PrivateAttr()
    _skip_ids: frozenset[int] = PrivateAttr()
    _device: str = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _pending: dict[str, tuple[str, tuple[str, ...], list[Any]]] = PrivateAttr(default_factory=dict)
    _companion: BGEM3SparseEmbeddings | None = PrivateAttr(default=None)

    @field_validator("model_name", "cache_folder", mode="before")
    @classmethod
    def _paths_as_str(cls, value: Any) -> Any:
        return str(value) if isinstance(value, Path) else value

    def model_post_init(self, context: Any, /) -> None:
        torch = require("torch", "local")
        transformers = require("transformers", "local")
        source, is_local = resolve_model_source(self.model_name)
        try:
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(
                source, cache_dir=self.cache_folder
            )
            model = transformers.AutoModel.from_pretrained(
                source, cache_dir=self.cache_folder, **self.model_kwargs
            )
            head_path = self._head_file(source, is_local)
        except OSError as exc:
            if is_local and isinstance(exc, ModelNotFoundError):
                raise
            where = "folder" if is_local else "hub id (not in the local Hugging Face cache)"
            msg = (
                f"Could not load BGE-M3 from {where} '{self.model_name}' "
                f"({type(exc).__name__}: {exc}). {_NOT_M3} Download it once with "
                "`huggingface-cli download BAAI/bge-m3` (set HF_ENDPOINT=https://hf-mirror.com "
                "in mainland China) or pass model_name='/path/to/bge-m3'."
            )
            raise ModelNotFoundError(msg) from exc
        hidden = int(model.config.hidden_size)
        state = torch.load(head_path, map_location="cpu", weights_only=True)
        shapes = {key: tuple(value.shape) for key, value in state.items()}
        if shapes != {"weight": (1, hidden), "bias": (1,)}:
            msg = (
                f"'{head_path}' does not hold BGE-M3's sparse head for hidden size {hidden}: "
                f"expected weight (1, {hidden}) and bias (1,), got {shapes}. {_NOT_M3}"
            )
            raise ValueError(msg)
        head = torch.nn.Linear(hidden, 1, dtype=next(model.parameters()).dtype)
        head.load_state_dict(state)
        self._device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._model = model.eval().to(self._device)
        self._sparse_head = head.eval().to(self._device)
        # The tokens FlagEmbedding leaves out of the lexical weights.
        special = self._tokenizer.special_tokens_map
        self._skip_ids = frozenset(
            int(self._tokenizer.convert_tokens_to_ids(special[name]))
            for name in ("cls_token", "eos_token", "pad_token", "unk_token")
            if name in special
        )

    def _head_file(self, source: str, is_local: bool) -> str:
        if is_local:
            path = Path(source) / SPARSE_HEAD_FILE
            if not path.is_file():
                msg = f"Model folder '{source}' has no '{SPARSE_HEAD_FILE}'. {_NOT_M3}"
                raise ModelNotFoundError(msg)
            return str(path)
        hub = require("huggingface_hub", "local")
        return str(hub.hf_hub_download(source, SPARSE_HEAD_FILE, cache_dir=self.cache_folder))

    # -- properties -----------------------------------------------------------------------

    @property
    def sparse(self) -> BGEM3SparseEmbeddings:
        """The sparse side, sharing this model: pass it as ``sparse_embedding=``."""
        if self._companion is None:
            self._companion = BGEM3SparseEmbeddings(self)
        return self._companion

    @property
    def dim(self) -> dict[str, int]:
        """``{"dense": hidden size, "sparse": vocabulary size}``, as pymilvus-model gives it."""
        return {"dense": int(self._model.config.hidden_size), "sparse": len(self._tokenizer)}

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        """The model's tokenizer (sparse indices are its token ids)."""
        return self._tokenizer

    # -- encoding -------------------------------------------------------------------------

    def _forward(self, texts: list[str], max_length: int, progress: bool) -> BGEM3Output:
        """Dense and sparse vectors for ``texts`` from one pass of the model per batch."""
        import torch

        dense: list[list[float]] = []
        sparse: list[SparseVector] = []
        starts = range(0, len(texts), self.batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="BGE-M3", unit="batch")
        with torch.inference_mode():
            for start in starts:
                batch = self._tokenizer(
                    texts[start : start + self.batch_size],
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                    return_tensors="pt",
                ).to(self._device)
                hidden = self._model(**batch, return_dict=True).last_hidden_state
                cls = hidden[:, 0]
                if self.normalize_embeddings:
                    cls = torch.nn.functional.normalize(cls, dim=-1)
                dense.extend(cls.float().cpu().tolist())
                weights = torch.relu(self._sparse_head(hidden)).squeeze(-1).float().cpu()
                ids = batch["input_ids"].cpu()
                for row_ids, row_weights in zip(ids.tolist(), weights.tolist(), strict=True):
                    sparse.append(self._lexical_weights(row_ids, row_weights))
        return BGEM3Output(dense=dense, sparse=sparse)

    def _lexical_weights(self, ids: list[int], weights: list[float]) -> SparseVector:
        best: dict[int, float] = {}
        for token, weight in zip(ids, weights, strict=True):
            if weight > 0 and token not in self._skip_ids and weight > best.get(token, 0.0):
                best[token] = weight
        return SparseVector.from_dict(best)

    def _encode(self, texts: list[str], *, query: bool, want: str) -> list[Any]:
        """One side (``"dense"`` or ``"sparse"``) for ``texts``; the other side is kept.

        A result kept by the previous call for exactly these texts is returned without
        running the model; it is dropped once used, so nothing outlives one exchange.
        """
        if not texts:
            return []
        side = "query" if query else "document"
        other = "sparse" if want == "dense" else "dense"
        with self._lock:
            kept = self._pending.pop(want, None)
        if kept is not None and kept[0] == side and kept[1] == tuple(texts):
            return kept[2]
        length = self.query_max_length if query else self.max_length
        out = self._forward(texts, length, self.show_progress_bar and not query)
        with self._lock:
            self._pending[other] = (side, tuple(texts), out[other])
        return list(out[want])

    def encode_documents(self, texts: list[str]) -> BGEM3Output:
        """Dense and sparse vectors of documents from one pass (pymilvus-model's name).

        Example:
            With a BGE-M3 model on disk::

                out = m3.encode_documents(["text"])
                sorted(out)  # ['dense', 'sparse']
        """
        texts = check_texts(texts, method="encode_documents")
        if not texts:
            return BGEM3Output(dense=[], sparse=[])
        return self._forward(texts, self.max_length, self.show_progress_bar)

    def encode_queries(self, texts: list[str]) -> BGEM3Output:
        """Dense and sparse vectors of queries from one pass (pymilvus-model's name)."""
        texts = check_texts(texts, method="encode_queries")
        if not texts:
            return BGEM3Output(dense=[], sparse=[])
        return self._forward(texts, self.query_max_length, False)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Dense vectors of documents (the sparse ones are kept for :attr:`sparse`)."""
        return self._encode(check_texts(texts), query=False, want="dense")

    def embed_query(self, text: str) -> list[float]:
        """Dense vector of one query (its sparse vector is kept for :attr:`sparse`)."""
        vector: list[float] = self._encode([check_query(text)], query=True, want="dense")[0]
        return vector

    def compute_lexical_matching_score(self, query: SparseVector, document: SparseVector) -> float:
        """Lexical score of two sparse vectors: the sum of shared tokens' weight products."""
        return query.dot(document)


class BGEM3SparseEmbeddings(SparseEmbeddings):
    """The sparse side of a :class:`BGEM3Embeddings`, sharing its model.

    Get it from ``BGEM3Embeddings(...).sparse``; it holds no weights of its own.
    """

    def __init__(self, model: BGEM3Embeddings) -> None:
        """Wrap ``model``; use ``model.sparse`` rather than calling this."""
        self.model = model

    def __repr__(self) -> str:
        return f"BGEM3SparseEmbeddings(model_name={self.model.model_name!r})"

    @property
    def dim(self) -> int:
        """Vocabulary size: every index is below it."""
        return self.model.dim["sparse"]

    @property
    def is_fitted(self) -> bool:
        """Always ``True``: a pretrained model needs no fitting."""
        return True

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        """Lexical weights of documents (from the dense call's pass when it just ran)."""
        return self.model._encode(check_texts(texts), query=False, want="sparse")

    def embed_query(self, text: str) -> SparseVector:
        """Lexical weights of one query."""
        vector: SparseVector = self.model._encode([check_query(text)], query=True, want="sparse")[0]
        return vector

    def encode_documents(self, texts: list[str]) -> list[SparseVector]:
        """Alias of :meth:`embed_documents` (the pymilvus-model name)."""
        return self.embed_documents(texts)

    def encode_queries(self, texts: list[str]) -> list[SparseVector]:
        """Lexical weights of several queries (the pymilvus-model name)."""
        return self.model._encode(check_texts(texts), query=True, want="sparse")

    def decode(self, vector: SparseVector, top_k: int | None = None) -> list[tuple[str, float]]:
        """The tokens behind a vector, largest weight first (``convert_id_to_token``)."""
        pairs = sorted(zip(vector.values, vector.indices, strict=True), reverse=True)[:top_k]
        tokens = self.model.tokenizer.convert_ids_to_tokens([index for _, index in pairs])
        return [
            (str(token), float(weight)) for token, (weight, _) in zip(tokens, pairs, strict=True)
        ]
