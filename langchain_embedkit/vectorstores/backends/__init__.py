"""Engine adapters behind :class:`~langchain_embedkit.vectorstores.EmbedKitVectorStore`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_embedkit.vectorstores.backends.base import (
    Backend,
    Hit,
    NativeHybrid,
    Record,
    Row,
    native_hybrid,
)

if TYPE_CHECKING:
    from langchain_embedkit.vectorstores.options import BackendOptions
    from langchain_embedkit.vectorstores.scoring import Metric

__all__ = ["Backend", "Hit", "NativeHybrid", "Record", "Row", "create_backend", "native_hybrid"]


def create_backend(
    options: BackendOptions, *, collection_name: str, metric: Metric, with_sparse: bool
) -> Backend:
    """The engine adapter that ``options`` (``MilvusOptions`` or ``ChromaOptions``) describe."""
    return options.open(collection_name=collection_name, metric=metric, with_sparse=with_sparse)
