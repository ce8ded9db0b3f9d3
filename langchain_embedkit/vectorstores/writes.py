"""The write half of :class:`~langchain_embedkit.vectorstores.EmbedKitVectorStore`.

Adds (texts, documents, precomputed vectors), upserts, deletes and dropping the
collection; each keeps a fittable sparse encoder's statistics equal to the stored
documents through :class:`~.sparse_state.SparseBook`, under the collection's write lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document

from langchain_embedkit.vectorstores.arguments import (
    check_ids,
    no_extra,
    search_filter,
    write_items,
)
from langchain_embedkit.vectorstores.backends.base import Backend
from langchain_embedkit.vectorstores.ingest import Item, ingest
from langchain_embedkit.vectorstores.sparse_state import Change, SparseBook

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from langchain_embedkit.sparse.base import SparseEmbeddings

__all__ = ["StoreWrites"]


class StoreWrites:
    """Write methods; the store sets the attributes below."""

    embedding: Embeddings
    sparse_embedding: SparseEmbeddings | None
    batch_size: int
    show_progress_bar: bool
    _backend: Backend
    _book: SparseBook | None
    _lock: threading.RLock

    @staticmethod
    def _validate_filter(filter: Mapping[str, Any] | None) -> None:
        from langchain_embedkit.vectorstores import filters

        filters.validate_filter(filter)

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        ids: Iterable[str | None] | None = None,
        *,
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and store texts in batches; return their ids.

        Args:
            texts: Texts (any iterable; consumed batch by batch when it comes alone).
            metadatas: One metadata dict per text (keys set to ``None`` are not stored).
            ids: One id per text; a missing one (``None``) is derived from the text and
                metadata, so adding the same content again is a no-op.
            batch_size: Overrides the store's ``batch_size``.

        Returns:
            One id per text, in order.

        Raises:
            ValueError: ``metadatas`` or ``ids`` and ``texts`` differ in length (checked
                before anything is written).
        """
        no_extra(kwargs, "add_texts")
        items, total = write_items("add_texts", texts, metadatas, ids, None)
        return self._ingest(items, batch_size, total)

    def add_documents(self, documents: Iterable[Document], **kwargs: Any) -> list[str]:
        """Store documents, keeping ``Document.id`` (an ``ids=`` argument takes precedence)."""
        ids = kwargs.pop("ids", None)
        batch_size = kwargs.pop("batch_size", None)
        no_extra(kwargs, "add_documents")
        if ids is None:
            docs = documents if isinstance(documents, Sequence) else None
            if docs is None:
                stream = ((d.page_content, d.metadata, d.id, None) for d in documents)
                return self._ingest(stream, batch_size, None)
            ids = [d.id for d in docs]
        elif isinstance(ids, str):
            check_ids(ids)
        docs = list(documents)
        items, total = write_items(
            "add_documents",
            [d.page_content for d in docs],
            [d.metadata for d in docs],
            ids,
            None,
            what="documents",
        )
        return self._ingest(items, batch_size, total)

    def add_embeddings(
        self,
        texts: Iterable[str],
        embeddings: Iterable[Sequence[float]],
        metadatas: Iterable[Mapping[str, Any] | None] | None = None,
        ids: Iterable[str | None] | None = None,
        *,
        batch_size: int | None = None,
    ) -> list[str]:
        """Store texts with precomputed dense vectors (checked like the model's).

        The sparse side is still encoded from the texts. Vectors must be finite and of
        the collection's size.
        """
        items, total = write_items("add_embeddings", texts, metadatas, ids, embeddings)
        return self._ingest(items, batch_size, total)

    def update_documents(self, ids: Sequence[str], documents: Sequence[Document]) -> None:
        """Replace the documents stored under ``ids`` (one document per id; upsert)."""
        self.add_documents(list(documents), ids=check_ids(ids))

    def _ingest(
        self, items: Iterable[Item], batch_size: int | None, total: int | None
    ) -> list[str]:
        return ingest(
            items,
            backend=self._backend,
            embedding=self.embedding,
            sparse=self.sparse_embedding,
            book=self._book,
            lock=self._lock,
            batch_size=batch_size if batch_size is not None else self.batch_size,
            show_progress_bar=self.show_progress_bar,
            total=total,
        )

    def delete(
        self,
        ids: list[str] | None = None,
        *,
        filter: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> bool | None:
        """Delete by ids, or every document matching ``filter``; unknown ids are ignored.

        Chroma's ``where=`` / ``where_document=`` are read as a filter.
        """
        where = search_filter(filter, kwargs, "delete")
        if ids is None and where is None:
            msg = "delete() needs ids=[...] or filter={...}; neither was given."
            raise ValueError(msg)
        if ids is not None and where is not None:
            msg = "delete() takes ids or filter, not both; call it twice."
            raise ValueError(msg)
        if where is not None:
            self._validate_filter(where)
            if not where:
                msg = (
                    "delete(filter={}) would delete everything; pass a non-empty filter, or "
                    "call delete_collection()."
                )
                raise ValueError(msg)
            with self._lock:
                if self._book is None or self._book.fittable is None:
                    self._backend.delete_where(where)
                    return True
                pages = list(self._backend.iter_records(where, 1000))
            for page in pages:
                self._delete_ids([r.id for r in page])
        else:
            self._delete_ids(list(dict.fromkeys(check_ids(ids))))
        return True

    def _delete_ids(self, ids: list[str]) -> None:
        book = self._book
        with self._lock:
            if book is None or book.fittable is None or not ids:
                self._backend.delete(ids)
                return
            changes = [Change(i, old, None) for i, old in book.old_versions(ids).items()]
            pending = book.before_write(changes)
            try:
                self._backend.delete(ids)
            except BaseException:
                book.write_failed(changes, pending)
                raise
            book.after_write(pending)

    def delete_collection(self) -> None:
        """Delete the collection and everything in it (the next write creates it again)."""
        with self._lock:
            self._backend.drop()
            if self._book is not None:
                self._book.rebuild()

    def reset_collection(self) -> None:
        """Empty the collection: delete it and start a new one under the same name."""
        self.delete_collection()
