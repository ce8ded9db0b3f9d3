"""The internal interface every engine adapter implements.

The store does ids, batching, embedding, scoring and fusion once; a backend only moves
records in and out of one engine. Raw scores follow :mod:`..scoring`: cosine and ip
similarities (higher better) and squared l2 distance (lower better), whatever the engine
reports natively.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from langchain_embedkit.types import SparseVector

__all__ = ["Backend", "Hit", "NativeHybrid", "Record", "Row", "native_hybrid"]

Filter = Mapping[str, Any]


@dataclass
class Record:
    """One stored document as an engine returns it."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    vector: list[float] | None = None


@dataclass
class Hit:
    """A search result: the record and its raw score."""

    record: Record
    score: float


@dataclass
class Row:
    """One document ready to write."""

    id: str
    text: str
    metadata: dict[str, Any]
    dense: list[float]
    sparse: SparseVector | None = None


class Backend(Protocol):
    """What :class:`~langchain_embedkit.vectorstores.EmbedKitVectorStore` needs from an engine."""

    name: str
    upsert_needs_stored_keys: bool
    """Whether :meth:`write` needs the stored metadata keys of replaced rows (Chroma merges
    metadata on upsert), so only :meth:`existing` can say which ids are stored."""

    @property
    def blind_upserts(self) -> bool:
        """Whether an explicit id is better upserted without asking whether it is stored:
        the look-up costs more than the upsert (a Milvus server's Strong read waits for its
        next time tick)."""

    def max_rows_per_write(self) -> int:
        """Most rows one write request may carry."""

    def max_bytes_per_write(self) -> int | None:
        """Largest request size in bytes, or None when rows are the only limit."""

    def dimension(self) -> int | None:
        """Dense vector size of the collection, None while it holds nothing."""

    def check_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Raise ValueError naming the first key whose value the engine cannot store."""

    def existing(self, ids: Sequence[str]) -> dict[str, set[str]]:
        """The stored ids among ``ids``, each with its stored metadata keys."""

    def write(self, rows: Sequence[Row], existing: Mapping[str, set[str]]) -> None:
        """Insert or replace ``rows``; ``existing`` are ids already stored, with their keys."""

    def end_of_writes(self) -> None:
        """Called once an ``add`` call has written everything (flush where it speeds reads)."""

    def get(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]:
        """Records of the ids that exist, in any order."""

    def delete(self, ids: Sequence[str]) -> None:
        """Delete these ids; unknown ids are ignored."""

    def delete_where(self, filter: Filter) -> int:
        """Delete every record that matches a portable filter; return how many."""

    def count(self) -> int:
        """Number of stored records."""

    def peek(self, limit: int) -> list[Record]:
        """Up to ``limit`` records, in engine order."""

    def iter_texts(self, batch_size: int) -> Iterator[list[str]]:
        """Every stored text, a page at a time (to refit a sparse encoder)."""

    def iter_records(self, filter: Filter | None, batch_size: int) -> Iterator[list[Record]]:
        """Ids and texts (no metadata) of the records matching ``filter``, a page at a time."""

    def write_sparse(self, ids: Sequence[str], vectors: Sequence[SparseVector]) -> None:
        """Replace the sparse vectors of stored records (re-encoding); nothing else changes."""

    def drop(self) -> None:
        """Delete the collection itself; the next write creates it again."""

    def dense_search(
        self,
        vector: Sequence[float],
        k: int,
        filter: Filter | None,
        *,
        with_vectors: bool = False,
        ids_only: bool = False,
    ) -> list[Hit]:
        """Top ``k`` by the collection's metric (``ids_only``: records carry only the id)."""

    def sparse_search(
        self, vector: SparseVector, k: int, filter: Filter | None, *, ids_only: bool = False
    ) -> list[Hit]:
        """Top ``k`` by sparse dot product; an empty query vector gives no hits."""

    def state_path(self) -> Path | None:
        """Where the sparse encoder's fit state is saved, None for servers."""

    def close(self) -> None:
        """Release connections and files."""


@runtime_checkable
class NativeHybrid(Protocol):
    """An optional capability: the engine fuses both legs of a hybrid search itself.

    A backend without it (Chroma) is searched leg by leg and fused client-side; one with it
    says per connection whether the engine it reached can (``has_native_hybrid``: a Milvus
    2.3 server cannot).
    """

    has_native_hybrid: bool

    def hybrid_search(
        self,
        dense: Sequence[float],
        sparse: SparseVector,
        k: int,
        fetch_k: int,
        filter: Filter | None,
        rrf_k: int,
    ) -> list[Hit]:
        """Engine-side RRF of the two legs."""


def native_hybrid(backend: Backend) -> NativeHybrid | None:
    """``backend`` when its engine fuses hybrid searches itself, else None."""
    if isinstance(backend, NativeHybrid) and backend.has_native_hybrid:
        return backend
    return None
