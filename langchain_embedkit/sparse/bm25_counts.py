"""What BM25 counted for each document, so it can be taken out again without its text.

``partial_fit`` adds one to the document frequency of each distinct token of a document
and its length to the token total. :class:`DocumentCounts` keeps exactly that (the length
and the distinct token ids), so a store can remove a deleted or replaced document from
the statistics with :func:`unfit_counts` instead of reading and analysing its old text.
Token ids never change meaning (the vocabulary is append-only), so counts taken at write
time stay valid until the encoder is fitted afresh.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any

import numpy as np

from langchain_embedkit.sparse.bm25_batch import Batch, count_batch, texts_key

if TYPE_CHECKING:
    from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings

__all__ = [
    "DocumentCounts",
    "check_unfit",
    "count_documents",
    "read_counts",
    "refit_counts",
    "unfit_counts",
]

_TOKEN_DTYPE = np.dtype("<u4")


@dataclass(frozen=True, eq=False)
class DocumentCounts:
    """One document as BM25 counted it: its length and its distinct token ids (ascending)."""

    length: int
    tokens: np.ndarray

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DocumentCounts):
            return NotImplemented
        return self.length == other.length and np.array_equal(self.tokens, other.tokens)

    __hash__ = None  # type: ignore[assignment]

    def token_bytes(self) -> bytes:
        """The token ids as little-endian uint32 bytes (how stores keep them)."""
        return self.tokens.astype(_TOKEN_DTYPE).tobytes()

    @classmethod
    def from_bytes(cls, length: int, data: bytes) -> DocumentCounts:
        """Read :meth:`token_bytes` back; raises ValueError when they cannot be counts."""
        if type(length) is not int or length < 0 or len(data) % _TOKEN_DTYPE.itemsize:
            msg = f"not document counts: length {length!r}, {len(data)} token bytes"
            raise ValueError(msg)
        tokens = np.frombuffer(data, dtype=_TOKEN_DTYPE).astype(np.int64)
        if len(tokens) > length or (len(tokens) > 1 and (np.diff(tokens) <= 0).any()):
            msg = "not document counts: token ids not ascending and distinct, or past the length"
            raise ValueError(msg)
        return cls(length, tokens)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (the token ids base64-encoded)."""
        return {"n": self.length, "t": base64.b64encode(self.token_bytes()).decode("ascii")}

    @classmethod
    def from_json(cls, payload: Any) -> DocumentCounts:
        """Read :meth:`to_json` back; raises ValueError on anything else."""
        if not isinstance(payload, dict) or not isinstance(payload.get("t"), str):
            msg = f"not document counts: {str(payload)[:80]}"
            raise ValueError(msg)
        try:
            data = base64.b64decode(payload["t"], validate=True)
        except ValueError as exc:
            msg = "not document counts: the token ids are not base64"
            raise ValueError(msg) from exc
        return cls.from_bytes(payload.get("n"), data)  # type: ignore[arg-type]


def read_counts(rows: Sequence[tuple[object, ...]]) -> list[DocumentCounts]:
    """Counts from stored ``(id, length, token bytes)`` rows, checked in one pass.

    Raises:
        ValueError: A row cannot be counts (see :meth:`DocumentCounts.from_bytes`).
    """
    lengths = [row[1] for row in rows]
    blobs = [row[2] for row in rows]
    if not all(type(n) is int and n >= 0 for n in lengths) or not all(
        isinstance(b, bytes) and len(b) % _TOKEN_DTYPE.itemsize == 0 for b in blobs
    ):
        msg = "not document counts: a length is not a count, or token bytes are cut"
        raise ValueError(msg)
    size = _TOKEN_DTYPE.itemsize
    sizes = np.fromiter((len(b) // size for b in blobs), np.int64, len(blobs))  # type: ignore[arg-type]
    tokens = np.frombuffer(b"".join(blobs), dtype=_TOKEN_DTYPE).astype(np.int64)  # type: ignore[arg-type]
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    steps = np.diff(tokens)
    inner = bounds[1:-1]
    steps[inner[(inner > 0) & (inner < len(tokens))] - 1] = 1  # between documents: any order
    if (steps <= 0).any() or (sizes > np.asarray(lengths, dtype=np.int64)).any():
        msg = "not document counts: token ids not ascending and distinct, or past the length"
        raise ValueError(msg)
    starts = bounds.tolist()
    return [
        DocumentCounts(length, tokens[starts[i] : starts[i + 1]])  # type: ignore[arg-type]
        for i, length in enumerate(lengths)
    ]


def _split(batch: Batch, n: int) -> list[DocumentCounts]:
    bounds = np.searchsorted(batch.rows, np.arange(n + 1)).tolist()
    cols = batch.cols
    lengths = batch.lengths.tolist()
    return [DocumentCounts(lengths[i], cols[bounds[i] : bounds[i + 1]]) for i in range(n)]


def count_documents(encoder: BM25SparseEmbeddings, texts: list[str]) -> list[DocumentCounts]:
    """What ``partial_fit(texts)`` counts for each text (tokens unknown to the vocabulary
    count in the length only). Right after ``partial_fit`` on the same texts the batch it
    analysed is reused (and left for ``embed_documents``), so nothing is analysed twice.
    """
    if not texts:
        return []
    with encoder._lock:
        batch = encoder._last_batch
    if batch is None or batch.key != texts_key(texts):
        token_lists = encoder._token_lists(texts)
        flat = list(chain.from_iterable(token_lists))
        vocab_get = encoder._vocab.get
        ids = np.fromiter(map(vocab_get, flat, repeat(-1)), dtype=np.int64, count=len(flat))
        batch = count_batch(texts, ids, token_lists)
    return _split(batch, len(texts))


def unfit_counts(encoder: BM25SparseEmbeddings, counts: Sequence[DocumentCounts]) -> None:
    """Take documents out of the statistics by their counts: ``partial_unfit`` without texts.

    Raises:
        ValueError: The counts were not all counted (a token id outside the vocabulary, or
            more documents, occurrences or tokens removed than were added). Nothing
            changes in that case.
    """
    _change(encoder, counts, -1)


def check_unfit(encoder: BM25SparseEmbeddings, counts: Sequence[DocumentCounts]) -> None:
    """Raise the ValueError :func:`unfit_counts` would raise, changing nothing."""
    _change(encoder, counts, -1, apply=False)


def refit_counts(encoder: BM25SparseEmbeddings, counts: Sequence[DocumentCounts]) -> None:
    """Put documents taken out by :func:`unfit_counts` back (same checks)."""
    _change(encoder, counts, 1)


def _change(
    encoder: BM25SparseEmbeddings,
    counts: Sequence[DocumentCounts],
    sign: int,
    *,
    apply: bool = True,
) -> None:
    if not counts:
        return
    tokens = np.concatenate([c.tokens for c in counts])
    length = sum(c.length for c in counts)
    with encoder._lock:
        dim = len(encoder._tokens)
        if len(tokens) and (tokens.min() < 0 or tokens.max() >= dim):
            msg = (
                f"The document counts name token ids outside the vocabulary of {dim} tokens; "
                "they belong to another fit of the encoder."
            )
            raise ValueError(msg)
        df = encoder._df[:dim] + sign * np.bincount(tokens, minlength=dim)
        n_docs = encoder._n_docs + sign * len(counts)
        total = encoder._total_tokens + sign * length
        if n_docs < 0 or total < 0 or (df < 0).any():
            msg = (
                f"The document counts remove more than was counted (the statistics hold "
                f"{encoder._n_docs} documents and {encoder._total_tokens} tokens; "
                f"{len(counts)} documents and {length} tokens given)."
            )
            raise ValueError(msg)
        if not apply:
            return
        encoder._df[:dim] = df
        encoder._n_docs = n_docs
        encoder._total_tokens = total
        encoder._idf_cache = None
        encoder._last_batch = None
