"""Analysed BM25 batches: one (document, token id, term frequency) triple per distinct token.

``fit``/``partial_fit`` give a batch's new tokens the next ids (append-only, so ids
never change meaning) and count term frequencies with one ``np.unique`` over
``row * width + id`` keys instead of a Python dict per document.
"""

from __future__ import annotations

from itertools import chain

import numpy as np

__all__ = ["Batch", "count_batch", "index_batch", "texts_key"]


def texts_key(texts: list[str]) -> tuple[int, int]:
    """Identifies a batch without keeping its texts alive (str hashes are cached by Python)."""
    return len(texts), hash(tuple(texts))


class Batch:
    """Analysed documents: one (doc, token id, term frequency) triple per distinct token."""

    __slots__ = ("cols", "key", "lengths", "rows", "tf")

    def __init__(
        self,
        key: tuple[int, int],
        rows: np.ndarray,
        cols: np.ndarray,
        tf: np.ndarray,
        lengths: np.ndarray,
    ) -> None:
        self.key = key
        self.rows = rows
        self.cols = cols
        self.tf = tf
        self.lengths = lengths


def count_batch(texts: list[str], ids: np.ndarray, token_lists: list[list[str]]) -> Batch:
    """Term frequencies from the flat token ids of a batch (ids < 0, unknown tokens, drop)."""
    lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
    rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    known = ids >= 0
    if not known.all():
        rows, ids = rows[known], ids[known]
    width = int(ids.max()) + 1 if len(ids) else 1
    keys, tf = np.unique(rows * width + ids, return_counts=True)
    return Batch(texts_key(texts), keys // width, keys % width, tf, lengths)


def index_batch(
    texts: list[str], token_lists: list[list[str]], vocab: dict[str, int], tokens: list[str]
) -> Batch:
    """Give the batch's new tokens the next ids (in sorted order, so runs agree), then count."""
    flat = list(chain.from_iterable(token_lists))
    for token in sorted(set(flat).difference(vocab)):
        vocab[token] = len(tokens)
        tokens.append(token)
    ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    return count_batch(texts, ids, token_lists)
