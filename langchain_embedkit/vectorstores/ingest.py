"""Streaming, idempotent ingestion: ids, batching, embedding and writes, one batch at a time.

Only ``batch_size`` documents (and their vectors) are held at once, so a generator of
100k chunks ingests in bounded memory. Each batch is split again into write requests that
respect the engine's limits (Chroma's ``get_max_batch_size()``, Milvus' request bytes).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_embedkit.errors import DimensionMismatchError
from langchain_embedkit.vectorstores.backends.base import Backend, Row
from langchain_embedkit.vectorstores.ids import resolve_ids

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from langchain_embedkit.sparse.base import SparseEmbeddings

__all__ = ["Item", "ingest", "split_requests"]

Item = tuple[str, Mapping[str, Any] | None, str | None]
"""One document to ingest: ``(text, metadata, id or None)``."""


def row_bytes(row: Row) -> int:
    """An upper estimate of a row's size on the wire."""
    meta = len(repr(row.metadata))
    sparse = 12 * len(row.sparse) if row.sparse is not None else 0
    return 4 * len(row.dense) + 4 * len(row.text) + 2 * meta + sparse + len(row.id) + 64


def split_requests(
    rows: Sequence[Row], max_rows: int, max_bytes: int | None
) -> Iterator[list[Row]]:
    """Consecutive slices of ``rows`` within both limits (a single huge row goes alone)."""
    current: list[Row] = []
    size = 0
    for row in rows:
        need = row_bytes(row) if max_bytes is not None else 0
        if current and (
            len(current) >= max_rows or (max_bytes is not None and size + need > max_bytes)
        ):
            yield current
            current, size = [], 0
        current.append(row)
        size += need
    if current:
        yield current


def check_dimensions(vectors: Sequence[Sequence[float]], expected: int | None) -> int:
    """Return the batch's vector size; raise naming both sizes before anything is written."""
    sizes = {len(v) for v in vectors}
    if len(sizes) > 1:
        msg = (
            f"The embedding model returned vectors of different sizes {sorted(sizes)} in one "
            "batch; every vector of a collection must have the same size."
        )
        raise DimensionMismatchError(msg)
    size = sizes.pop()
    if expected is not None and size != expected:
        msg = (
            f"Embedding dimension mismatch: the collection holds {expected}-dimensional "
            f"vectors but the embedding model returned {size}-dimensional ones; nothing was "
            "written. Use the model the collection was built with, or another "
            "collection_name (or delete this collection) for the new model."
        )
        raise DimensionMismatchError(msg)
    return size


def _as_list(vector: Sequence[float]) -> list[float]:
    # embedding models already return lists; converting 100k x 384 floats again costs seconds
    return vector if isinstance(vector, list) else [float(x) for x in vector]


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


def ingest(
    items: Iterable[Item],
    *,
    backend: Backend,
    embedding: Embeddings,
    sparse: SparseEmbeddings | None,
    batch_size: int,
    save_sparse_state: Callable[[], None],
    show_progress_bar: bool = False,
    total: int | None = None,
) -> list[str]:
    """Write ``items`` to ``backend``; return one id per item, in input order.

    Ids come from the item, else from content (:func:`~.ids.content_id`). A content id that
    is already stored is skipped without embedding (same id means same content); explicit
    ids are upserted, so a new version replaces the old one. A sparse encoder with
    ``partial_fit`` learns the texts that are new to the collection before encoding.
    """
    if batch_size <= 0:
        msg = f"batch_size must be a positive integer; got {batch_size}."
        raise ValueError(msg)
    all_ids: list[str] = []
    partial_fit = getattr(sparse, "partial_fit", None)
    batches: Iterable[list[Item]] = _batches(items, batch_size)
    if show_progress_bar:
        from tqdm.auto import tqdm

        batches = tqdm(
            batches,
            desc="Ingesting",
            unit="batch",
            total=None if total is None else -(-total // batch_size),
        )
    wrote = False
    for batch in batches:
        texts = [text for text, _, _ in batch]
        for text in texts:
            if not isinstance(text, str):
                msg = f"Document text must be a string; got {type(text).__name__}: {text!r}."
                raise TypeError(msg)
        metadatas = [dict(meta or {}) for _, meta, _ in batch]
        for meta in metadatas:
            backend.check_metadata(meta)
        ids, derived = resolve_ids(texts, metadatas, [given for _, _, given in batch])
        all_ids.extend(ids)
        # one write per id: the last occurrence wins, as two sequential upserts would
        last: dict[str, int] = {doc_id: pos for pos, doc_id in enumerate(ids)}
        existing = backend.existing(list(last))
        todo = [pos for doc_id, pos in last.items() if not (derived[pos] and doc_id in existing)]
        if not todo:
            continue
        write_texts = [texts[pos] for pos in todo]
        dense = embedding.embed_documents(write_texts)
        if len(dense) != len(write_texts):
            msg = (
                f"The embedding model returned {len(dense)} vectors for {len(write_texts)} "
                "texts; it must return exactly one per text."
            )
            raise ValueError(msg)
        check_dimensions(dense, backend.dimension())
        sparse_vectors = None
        fitted_new = False
        if sparse is not None:
            new_texts = [texts[pos] for pos in todo if ids[pos] not in existing]
            if partial_fit is not None and new_texts:
                partial_fit(new_texts)
                fitted_new = True
            sparse_vectors = sparse.embed_documents(write_texts)
        rows = [
            Row(
                id=ids[pos],
                text=texts[pos],
                metadata=metadatas[pos],
                dense=_as_list(dense[n]),
                sparse=sparse_vectors[n] if sparse_vectors is not None else None,
            )
            for n, pos in enumerate(todo)
        ]
        for request in split_requests(
            rows, backend.max_rows_per_write(), backend.max_bytes_per_write()
        ):
            backend.write(request, existing)
            wrote = True
        if fitted_new:
            # right after the write, so the saved statistics match the collection even if
            # the process dies before the next batch
            save_sparse_state()
    if wrote:
        backend.end_of_writes()
    return all_ids
