"""Engine adapters behind :class:`~langchain_embedkit.vectorstores.EmbedKitVectorStore`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from langchain_embedkit.vectorstores.backends.base import Backend, Hit, Record, Row
from langchain_embedkit.vectorstores.scoring import Metric

__all__ = ["Backend", "Hit", "Record", "Row", "create_backend"]


def secret(token: str | SecretStr | None, env: str) -> SecretStr | None:
    """The token as a ``SecretStr``, else read from ``env``, else None."""
    if isinstance(token, SecretStr):
        return token
    if token:
        return SecretStr(token)
    from_env = os.environ.get(env)
    return SecretStr(from_env) if from_env else None


def create_backend(
    name: str,
    *,
    collection_name: str,
    metric: Metric,
    with_sparse: bool,
    uri: str,
    token: str | SecretStr | None,
    db_name: str | None,
    index_type: str | None,
    index_params: Mapping[str, Any] | None,
    search_params: Mapping[str, Any] | None,
    text_max_length: int,
    persist_directory: str | None,
    host: str | None,
    port: int,
    ssl: bool,
    headers: Mapping[str, str] | None,
    client: Any,
    space: str | None,
    hnsw: Mapping[str, int | None],
) -> Backend:
    """Open the engine adapter named ``name`` (``"milvus"`` or ``"chroma"``)."""
    if name == "milvus":
        from langchain_embedkit.vectorstores.backends.milvus import MilvusBackend

        return MilvusBackend(
            uri=uri,
            token=secret(token, "MILVUS_TOKEN"),
            db_name=db_name,
            collection_name=collection_name,
            metric=metric,
            with_sparse=with_sparse,
            index_type=index_type,
            index_params=index_params,
            search_params=search_params,
            text_max_length=text_max_length,
        )
    if name == "chroma":
        from langchain_embedkit.vectorstores.backends.chroma import ChromaBackend

        if space is not None and space != metric:
            msg = (
                f"space={space!r} and metric={metric!r} disagree; pass one of them "
                "(space is Chroma's name for metric)."
            )
            raise ValueError(msg)
        return ChromaBackend(
            collection_name=collection_name,
            metric=metric,
            with_sparse=with_sparse,
            persist_directory=persist_directory,
            host=host,
            port=port,
            ssl=ssl,
            token=secret(token, "CHROMA_TOKEN") if host else None,
            headers=headers,
            client=client,
            hnsw={key: value for key, value in hnsw.items() if value is not None},
        )
    msg = f"Unknown backend {name!r}; supported: 'milvus', 'chroma'."
    raise ValueError(msg)
