"""Changes of BM25 statistics as small records: taken from an encoder, checked, applied.

A write to a collection changes a few document frequencies, the document count, the token
total and maybe appends new tokens. :func:`take_snapshot` before the write and
:func:`delta_since` after it give a JSON-able record of exactly that change, so a store
can persist a write in time proportional to the change instead of the vocabulary.
:func:`apply_delta` checks a record read back from disk field by field (raising
:class:`~langchain_embedkit.PersistenceError` naming the file, the record and the field)
before it changes anything.

Record layout::

    {"dim": 120,                 # vocabulary size the record applies to
     "new": ["tok", ...],        # tokens appended (ids dim, dim + 1, ...)
     "new_df": [1, ...],         # their document frequencies
     "ids": [3, 17],             # existing token ids whose frequency changed (ascending)
     "df": [1, -2],              # the change of each
     "n_docs": 5, "total_tokens": 40}   # changes of the two totals
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from langchain_embedkit.errors import PersistenceError
from langchain_embedkit.sparse.bm25_format import MAX_COUNT

if TYPE_CHECKING:
    from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings

__all__ = ["DELTA_KEYS", "Snapshot", "apply_delta", "delta_since", "take_snapshot"]

DELTA_KEYS = frozenset({"dim", "new", "new_df", "ids", "df", "n_docs", "total_tokens"})
"""The keys of a record, all required."""


@dataclass(frozen=True)
class Snapshot:
    """The statistics before a change (``df`` is a copy)."""

    dim: int
    df: np.ndarray
    n_docs: int
    total_tokens: int


def take_snapshot(encoder: BM25SparseEmbeddings) -> Snapshot:
    """Copy what :func:`delta_since` compares against (one array copy of the vocabulary)."""
    with encoder._lock:
        dim = len(encoder._tokens)
        return Snapshot(dim, encoder._df[:dim].copy(), encoder._n_docs, encoder._total_tokens)


def delta_since(encoder: BM25SparseEmbeddings, before: Snapshot) -> dict[str, Any]:
    """The record turning ``before`` into the encoder's statistics now.

    Only valid when the encoder changed by ``partial_fit`` / ``partial_unfit`` since
    ``before`` (token ids kept); after ``fit`` the whole state must be saved instead.
    """
    with encoder._lock:
        dim = len(encoder._tokens)
        df = encoder._df[:dim]
        changed = np.flatnonzero(df[: before.dim] != before.df)
        return {
            "dim": before.dim,
            "new": encoder._tokens[before.dim : dim],
            "new_df": df[before.dim :].tolist(),
            "ids": changed.tolist(),
            "df": (df[changed] - before.df[changed]).tolist(),
            "n_docs": encoder._n_docs - before.n_docs,
            "total_tokens": encoder._total_tokens - before.total_tokens,
        }


def _ints(record: dict[str, Any], key: str, fail: Any) -> list[int]:
    value = record[key]
    if not isinstance(value, list) or not all(type(x) is int for x in value):
        raise fail(key, "expected a list of integers")
    return value


def apply_delta(encoder: BM25SparseEmbeddings, record: Any, *, where: str) -> None:
    """Check ``record`` against the encoder, then apply it; nothing changes on an error.

    Args:
        encoder: The encoder holding the statistics the record was taken against.
        record: A parsed record (untrusted).
        where: The file and record, for messages (``"/x/state.log line 3"``).

    Raises:
        PersistenceError: A missing or extra key, a value of the wrong type, or a
            change that does not fit the statistics (named in the message).
    """

    def fail(field: str, problem: str) -> PersistenceError:
        return PersistenceError(
            f"BM25 change log {where}, field {field!r}: {problem}. The log does not match "
            "the saved statistics; delete the state files to refit them from the stored "
            "texts on the next open (or restore them from a backup)."
        )

    if not isinstance(record, dict) or set(record) != DELTA_KEYS:
        keys = sorted(record) if isinstance(record, dict) else type(record).__name__
        raise fail("<record>", f"expected the keys {sorted(DELTA_KEYS)}, got {keys}")
    with encoder._lock:
        dim = len(encoder._tokens)
        if record["dim"] != dim or type(record["dim"]) is not int:
            raise fail(
                "dim", f"the record applies to {record['dim']!r} tokens, the state has {dim}"
            )
        new = record["new"]
        if not isinstance(new, list) or not all(type(t) is str for t in new):
            raise fail("new", "expected a list of tokens")
        vocab = encoder._vocab
        if len(set(new)) != len(new) or any(t in vocab for t in new):
            raise fail("new", "a token appears twice or is already in the vocabulary")
        new_df = _ints(record, "new_df", fail)
        ids = _ints(record, "ids", fail)
        changes = _ints(record, "df", fail)
        if len(new_df) != len(new) or len(changes) != len(ids):
            raise fail("df", "the lists of tokens and of counts differ in length")
        for key in ("n_docs", "total_tokens"):
            if type(record[key]) is not int or abs(record[key]) > MAX_COUNT:
                raise fail(key, f"expected an integer change, got {record[key]!r}")
        n_docs = encoder._n_docs + record["n_docs"]
        total = encoder._total_tokens + record["total_tokens"]
        if not 0 <= n_docs <= MAX_COUNT or not 0 <= total <= MAX_COUNT:
            raise fail("n_docs", f"the totals would become {n_docs} documents, {total} tokens")
        index = np.asarray(ids, dtype=np.int64)
        if len(index) and (
            int(index.min()) < 0 or int(index.max()) >= dim or (np.diff(index) <= 0).any()
        ):
            raise fail("ids", f"expected ascending token ids below {dim}")
        updated = encoder._df[:dim][index] + np.asarray(changes, dtype=np.int64)
        appended = np.asarray(new_df, dtype=np.int64)
        for values, key in ((updated, "df"), (appended, "new_df")):
            if len(values) and (int(values.min()) < 0 or int(values.max()) > n_docs):
                raise fail(key, f"a document frequency would leave 0..n_docs ({n_docs})")
        size = dim + len(new)
        if len(encoder._df) < size:
            grown = np.zeros(max(size, 2 * len(encoder._df)), dtype=np.int64)
            grown[:dim] = encoder._df[:dim]
            encoder._df = grown
        encoder._df[index] = updated
        encoder._df[dim:size] = appended
        for offset, token in enumerate(new):
            vocab[token] = dim + offset
        encoder._tokens.extend(new)
        encoder._n_docs = n_docs
        encoder._total_tokens = total
        encoder._idf_cache = None
        encoder._last_batch = None
