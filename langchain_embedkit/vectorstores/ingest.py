"""Streaming, idempotent ingestion: ids, batching, embedding and writes, one batch at a time.

Only ``batch_size`` documents (and their vectors) are held at once, so a generator of
100k chunks ingests in bounded memory. Each batch is split again into write requests that
respect the engine's limits (Chroma's ``get_max_batch_size()``, Milvus' request bytes).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import numpy as np

from langchain_embedkit.errors import DimensionMismatchError
from langchain_embedkit.vectorstores.backends.base import Backend, Row
from langchain_embedkit.vectorstores.ids import resolve_ids
from langchain_embedkit.vectorstores.sparse_state import Change, SparseBook

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from langchain_embedkit.sparse.base import SparseEmbeddings

__all__ = ["Item", "check_finite", "clean_metadata", "ingest", "split_requests"]

Item = tuple[str, Mapping[str, Any] | None, str | None, Sequence[float] | None]
"""One document to ingest: ``(text, metadata, id or None, dense vector or None)``."""

_FLOAT32_MAX = float(np.finfo(np.float32).max)


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


def check_finite(vectors: Sequence[Sequence[float]]) -> None:
    """Raise naming the first vector holding NaN, an infinity or a value float32 cannot hold."""
    if not vectors:
        return
    # Fast path (half the time of the array below): no |x| exceeds its vector's sum of |x|,
    # and a NaN or an infinity makes that sum fail the comparison too.
    with contextlib.suppress(TypeError):
        if all(sum(map(abs, vector)) <= _FLOAT32_MAX for vector in vectors):
            return
    array = np.asarray(vectors, dtype=np.float64)
    bad = ~np.isfinite(array) | (np.abs(array) > _FLOAT32_MAX)
    if bad.any():
        row, col = (int(x) for x in np.argwhere(bad)[0])
        msg = (
            f"Vector {row} holds {array[row, col]!r} at position {col}: vectors must be "
            "finite float32 values (no NaN, no infinity, |x| <= 3.4e38). Nothing was "
            "written; check the embedding model or the server that returned it."
        )
        raise ValueError(msg)


def _as_list(vector: Sequence[float]) -> list[float]:
    # embedding models already return lists; converting 100k x 384 floats again costs seconds
    return vector if isinstance(vector, list) else [float(x) for x in vector]


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


def clean_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy without the keys set to ``None``: a missing value is stored as an absent key."""
    if not metadata:
        return {}
    if not isinstance(metadata, Mapping):
        msg = (
            f"Each metadata must be a dict (or None); got {type(metadata).__name__}: {metadata!r}."
        )
        raise TypeError(msg)
    return {key: value for key, value in metadata.items() if value is not None}


def ingest(
    items: Iterable[Item],
    *,
    backend: Backend,
    embedding: Embeddings,
    sparse: SparseEmbeddings | None,
    book: SparseBook | None,
    lock: AbstractContextManager[Any],
    batch_size: int,
    show_progress_bar: bool = False,
    total: int | None = None,
) -> list[str]:
    """Write ``items`` to ``backend``; return one id per item, in input order.

    Ids come from the item, else from content (:func:`~.ids.content_id`). A content id that
    is already stored is skipped without embedding (same id means same content); explicit
    ids are upserted, so a new version replaces the old one. ``book`` keeps a fittable
    sparse encoder's statistics equal to the stored documents (the old text of a replaced
    document leaves them, the new one enters) and journals the write against crashes.
    An item may carry its dense vector (``add_embeddings``); it is checked like one the
    model returned.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        msg = f"batch_size must be a positive integer; got {batch_size!r}."
        raise ValueError(msg)
    all_ids: list[str] = []
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
        texts = [item[0] for item in batch]
        for text in texts:
            if not isinstance(text, str):
                msg = f"Document text must be a string; got {type(text).__name__}: {text!r}."
                raise TypeError(msg)
        metadatas = [clean_metadata(item[1]) for item in batch]
        for meta in metadatas:
            backend.check_metadata(meta)
        ids, derived = resolve_ids(texts, metadatas, [item[2] for item in batch])
        all_ids.extend(ids)
        with lock:
            wrote = (
                _write_batch(
                    batch, texts, metadatas, ids, derived, backend, embedding, sparse, book
                )
                or wrote
            )
    if wrote:
        with lock:
            backend.end_of_writes()
    return all_ids


def _existing(
    ids: list[str], explicit: list[str], backend: Backend, book: SparseBook | None
) -> dict[str, set[str]]:
    """The stored ids among ``ids``: from the BM25 document index when the engine needs
    nothing else from the look-up (no stored metadata keys), else from the engine.

    Where the engine's look-up costs more than an upsert (``backend.blind_upserts``) and no
    BM25 statistics need the old versions, the ``explicit`` ids are not looked up: they
    are returned as stored, so the write upserts them (same result, one round trip less).
    Content ids are always looked up: a stored one is skipped without embedding.
    """
    if book is not None and not backend.upsert_needs_stored_keys:
        known = book.stored_ids(ids)
        if known is not None:
            return {doc_id: set() for doc_id in known}
    if backend.blind_upserts and explicit and (book is None or book.fittable is None):
        blind = set(explicit)
        asked = [doc_id for doc_id in ids if doc_id not in blind]
        found = backend.existing(asked) if asked else {}
        return {**{doc_id: set() for doc_id in explicit}, **found}
    return backend.existing(ids)


def _write_batch(
    batch: list[Item],
    texts: list[str],
    metadatas: list[dict[str, Any]],
    ids: list[str],
    derived: list[bool],
    backend: Backend,
    embedding: Embeddings,
    sparse: SparseEmbeddings | None,
    book: SparseBook | None,
) -> bool:
    # one write per id: the last occurrence wins, as two sequential upserts would
    last: dict[str, int] = {doc_id: pos for pos, doc_id in enumerate(ids)}
    explicit = [doc_id for doc_id, pos in last.items() if not derived[pos]]
    existing = _existing(list(last), explicit, backend, book)
    todo = [pos for doc_id, pos in last.items() if not (derived[pos] and doc_id in existing)]
    if not todo:
        return False
    write_texts = [texts[pos] for pos in todo]
    given = [batch[pos][3] for pos in todo]
    if all(vector is None for vector in given):
        dense: Sequence[Sequence[float]] = embedding.embed_documents(write_texts)
    else:
        dense = [vector for vector in given if vector is not None]
    if len(dense) != len(write_texts):
        msg = (
            f"The embedding model returned {len(dense)} vectors for {len(write_texts)} "
            "texts; it must return exactly one per text."
        )
        raise ValueError(msg)
    check_dimensions(dense, backend.dimension())
    check_finite(dense)
    changes: list[Change] = []
    pending = None
    if book is not None and book.fittable is not None:
        old = book.old_versions([ids[pos] for pos in todo if ids[pos] in existing])
        changes = [Change(ids[pos], old.get(ids[pos]), texts[pos]) for pos in todo]
        pending = book.before_write(changes)
    try:
        sparse_vectors = sparse.embed_documents(write_texts) if sparse is not None else None
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
    except BaseException:
        if book is not None and changes:
            book.write_failed(changes, pending)
        raise
    if book is not None and changes:
        book.after_write(pending)
    return True
