"""BM25 as asymmetric sparse vectors that persist, update incrementally and speak Chinese.

Documents carry the saturated, length-normalised term weight and queries carry the
IDF, so the inner product of the two vectors is the BM25 score::

    doc[t]   = tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
    query[t] = idf(t) * (times t occurs in the query)
    dot(query, doc) = BM25(query, doc)

``dl`` counts a document's tokens after analysis (stop words removed, tokens unknown
to the vocabulary included); ``avgdl`` is the mean over every document seen by
``fit``/``partial_fit``. Two IDF formulas are offered (``N`` documents, ``df``
documents containing the token):

- ``idf="lucene"`` (default): ``ln(1 + (N - df + 0.5) / (df + 0.5))``. Always positive
  and independent of the rest of the vocabulary; Lucene, Elasticsearch, Milvus'
  built-in BM25 and bm25s' ``"lucene"`` method use it.
- ``idf="okapi"``: ``ln((N - df + 0.5) / (df + 0.5))``, where negative values (tokens
  in more than half the documents) are replaced by ``epsilon`` times the mean IDF of
  the vocabulary, exactly as ``rank_bm25.BM25Okapi`` does.

Because IDF lives on the query side, :meth:`BM25SparseEmbeddings.partial_fit` and
:meth:`BM25SparseEmbeddings.partial_unfit` never invalidate stored document vectors:
token ids are append-only (a token no document contains any more keeps its id), and
adding or removing a document only changes ``N``, ``df`` and ``avgdl``. Documents
encoded earlier keep the ``avgdl`` of their time (it drifts slowly as a corpus
changes); re-encode them for scores identical to a fresh ``fit``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from itertools import chain, pairwise, repeat
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from langchain_embedkit._fs import atomic_write_text
from langchain_embedkit.errors import NotFittedError, PersistenceError
from langchain_embedkit.sparse.analyzers import Analyzer, analyzer_to_config, get_analyzer
from langchain_embedkit.sparse.base import SparseEmbeddings, SparseStatistics
from langchain_embedkit.sparse.bm25_batch import Batch, count_batch, index_batch, texts_key
from langchain_embedkit.sparse.bm25_format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MAX_FILE_BYTES,
    parse_payload,
    read_payload,
    to_payload,
)
from langchain_embedkit.types import SparseVector

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "BM25SparseEmbeddings"]


# partial_fit keeps its analysed batch for the next embed_documents up to this many entries.
_KEEP_BATCH_ENTRIES = 2_000_000


_UNSET: Any = object()


_LOAD_DOC = """Read a file written by ``save``: a new encoder, or this one filled in place.

On the class, ``BM25SparseEmbeddings.load(path)`` returns a new fitted encoder. On an
instance, ``bm25.load(path)`` (as pymilvus-model's ``BM25EmbeddingFunction`` is used)
replaces that encoder's parameters, analyzer and statistics with the file's and
returns it; its ``show_progress_bar`` is kept unless given.

Args:
    path: The file ``save`` wrote.
    show_progress_bar: Progress bar while analysing documents later (default: off
        on the class, unchanged on an instance).
    max_bytes: Refuse files larger than this (default 1 GiB).

Raises:
    PersistenceError: The file is missing, too large, truncated, edited (checksum or
        structure), from a newer format version, or names a custom analyzer that is
        not registered in this process. The message names the file and the field.
"""


class _Loader(Protocol):
    def __call__(
        self,
        path: str | os.PathLike[str],
        *,
        show_progress_bar: bool | None = None,
        max_bytes: int = MAX_FILE_BYTES,
    ) -> BM25SparseEmbeddings: ...


class _ClassOrInstanceLoad:
    """``load`` that builds a new encoder on the class and fills an instance in place.

    ``BM25SparseEmbeddings.load(path)`` returns a new encoder;
    ``bm25 = BM25SparseEmbeddings(); bm25.load(path)`` (the pymilvus-model habit)
    fills ``bm25`` itself and returns it.
    """

    def __get__(
        self, instance: BM25SparseEmbeddings | None, owner: type[BM25SparseEmbeddings]
    ) -> _Loader:
        def load(
            path: str | os.PathLike[str],
            *,
            show_progress_bar: bool | None = None,
            max_bytes: int = MAX_FILE_BYTES,
        ) -> BM25SparseEmbeddings:
            loaded = owner._read(
                path, show_progress_bar=bool(show_progress_bar), max_bytes=max_bytes
            )
            if instance is None:
                return loaded
            return instance._take_state(loaded, show_progress_bar=show_progress_bar)

        load.__doc__ = _LOAD_DOC
        return load


class BM25SparseEmbeddings(BaseModel, SparseEmbeddings):
    """BM25 sparse embeddings: fit, update with ``partial_fit``, save and load as JSON.

    ``dot(embed_query(q), embed_documents([d])[0])`` is the BM25 score of ``d`` for
    ``q`` (see the module docstring for the formulas). A query made only of unknown
    tokens gives an empty :class:`SparseVector`; using the encoder before ``fit``,
    ``partial_fit`` or ``load`` raises :class:`~langchain_embedkit.NotFittedError`.

    Example:
        >>> docs = [
        ...     "Artificial intelligence was founded as an academic discipline in 1956.",
        ...     "Alan Turing was the first person to conduct substantial research in AI.",
        ...     "Born in Maida Vale, London, Turing was raised in southern England.",
        ... ]
        >>> bm25 = BM25SparseEmbeddings(analyzer="en").fit(docs)
        >>> print("Dim:", bm25.dim)
        Dim: 21
        >>> query = bm25.embed_query("Who started AI research?")
        >>> [round(query.dot(d), 3) for d in bm25.embed_documents(docs)]
        [0.0, 1.885, 0.0]
        >>> bm25.embed_query("quantum chromodynamics")
        SparseVector(indices=[], values=[])

    The three sentences above are the usual pymilvus-model sample; its default
    analyzer (NLTK stop words, Snowball stemming) gives ``Dim: 21`` as well.
    """

    model_config = ConfigDict(
        frozen=True,
        arbitrary_types_allowed=True,
        extra="forbid",
        ignored_types=(_ClassOrInstanceLoad,),
    )

    analyzer: str | dict[str, Any] | Callable[[str], list[str]] = "auto"
    """``"auto"`` (Chinese through jieba, the rest through ``"en"``), ``"en"``, ``"zh"``,
    the name of an analyzer registered with ``register_analyzer``, an analyzer object
    (``EnglishAnalyzer(stemmer=None)``) or any callable ``str -> list[str]`` (register it
    by name to be able to ``save``)."""
    k1: float = Field(default=1.5, ge=0.0, allow_inf_nan=False)
    """Term-frequency saturation: 0 ignores repeats, larger values reward them longer."""
    b: float = Field(default=0.75, ge=0.0, le=1.0, allow_inf_nan=False)
    """Length normalisation: 0 ignores document length, 1 normalises fully."""
    idf: Literal["lucene", "okapi"] = "lucene"
    """IDF formula: ``"lucene"`` (always positive) or ``"okapi"`` (``rank_bm25.BM25Okapi``)."""
    epsilon: float = Field(default=0.25, ge=0.0, allow_inf_nan=False)
    """With ``idf="okapi"``: negative IDFs become ``epsilon`` times the mean IDF."""
    show_progress_bar: bool = False
    """Show a progress bar while analysing documents in ``fit``/``partial_fit``."""

    _analyze: Analyzer = PrivateAttr()
    _lock: threading.RLock = PrivateAttr(default_factory=threading.RLock)
    _vocab: dict[str, int] = PrivateAttr(default_factory=dict)
    _tokens: list[str] = PrivateAttr(default_factory=list)
    _df: np.ndarray = PrivateAttr(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _n_docs: int = PrivateAttr(default=0)
    _total_tokens: int = PrivateAttr(default=0)
    _idf_cache: np.ndarray | None = PrivateAttr(default=None)
    _last_batch: Batch | None = PrivateAttr(default=None)

    def __init__(self, analyzer: Any = _UNSET, /, **data: Any) -> None:
        # The analyzer may come first and unnamed, as in BM25EmbeddingFunction(analyzer).
        if analyzer is not _UNSET:
            if "analyzer" in data:
                msg = "BM25SparseEmbeddings got the analyzer twice (by position and by name)."
                raise TypeError(msg)
            data["analyzer"] = analyzer
        super().__init__(**data)

    def model_post_init(self, context: Any, /) -> None:
        self._analyze = get_analyzer(self.analyzer)

    # ------------------------------------------------------------------ state

    @property
    def is_fitted(self) -> bool:
        """Whether the statistics hold at least one document (after fit, partial_fit, load)."""
        return self._n_docs > 0

    @property
    def dim(self) -> int:
        """Vocabulary size: every token id is below it (0 before fitting)."""
        return len(self._tokens)

    @property
    def n_docs(self) -> int:
        """Number of documents in the statistics."""
        return self._n_docs

    @property
    def avgdl(self) -> float:
        """Mean document length in tokens, after analysis."""
        return self._total_tokens / self._n_docs if self._n_docs else 0.0

    @property
    def vocabulary(self) -> Mapping[str, int]:
        """Read-only ``{token: id}`` view; ids never change once given."""
        return MappingProxyType(self._vocab)

    @property
    def analyzer_function(self) -> Analyzer:
        """The resolved analyzer (``str -> list[str]``) this encoder applies."""
        return self._analyze

    def document_frequencies(self) -> np.ndarray:
        """Copy of the number of documents containing each token id."""
        with self._lock:
            return self._df[: len(self._tokens)].copy()

    def statistics(self) -> SparseStatistics:
        """Snapshot of ``N``, the token total and ``df`` (tokens with ``df > 0``), by token.

        Equal for two encoders that counted the same multiset of documents, whatever
        order they saw them in and whatever they counted and removed since.

        Example:
            >>> bm25 = BM25SparseEmbeddings(analyzer="en").fit(["red apples", "green apples"])
            >>> bm25.partial_unfit(["green apples"]).statistics()
            SparseStatistics(n_docs=1, total_tokens=2, df=<2 tokens>)
            >>> dict(bm25.statistics().df)
            {'appl': 1, 'red': 1}
        """
        with self._lock:
            df = self._df[: len(self._tokens)]
            alive = np.flatnonzero(df).tolist()
            counts = df[alive].tolist()
            tokens = self._tokens
            return SparseStatistics(
                n_docs=self._n_docs,
                total_tokens=self._total_tokens,
                df={tokens[i]: c for i, c in zip(alive, counts, strict=True)},
            )

    def idf_weights(self) -> np.ndarray:
        """Copy of the IDF of each token id (the query-side weights)."""
        return self._idf().copy()

    def _require_fitted(self, action: str) -> None:
        if not self.is_fitted:
            msg = (
                f"BM25SparseEmbeddings cannot {action} before it has statistics: call "
                "fit(texts) (or partial_fit(texts)) on your corpus, or "
                "BM25SparseEmbeddings.load(path) to restore a saved encoder."
            )
            raise NotFittedError(msg)

    def _idf(self) -> np.ndarray:
        with self._lock:
            cached = self._idf_cache
            if cached is not None:
                return cached
            df = self._df[: len(self._tokens)].astype(np.float64)
            n = float(self._n_docs)
            if self.idf == "lucene":
                weights = np.log1p((n - df + 0.5) / (df + 0.5))
            else:
                weights = np.log(n - df + 0.5) - np.log(df + 0.5)
                # The mean runs over tokens some document contains, as after a fresh fit.
                alive = df > 0
                if alive.any():
                    floor = self.epsilon * float(weights[alive].mean())
                    weights[(weights < 0) & alive] = floor
            self._idf_cache = weights
            return weights

    # ---------------------------------------------------------------- fitting

    def fit(self, texts: Sequence[str]) -> BM25SparseEmbeddings:
        """Forget previous statistics and compute them on ``texts``; returns ``self``."""
        texts = self._check_texts(texts, "fit")
        if not texts:
            msg = "fit() needs at least one document; got an empty list."
            raise ValueError(msg)
        token_lists = self._token_lists(texts)
        vocab: dict[str, int] = {}
        tokens: list[str] = []
        batch = index_batch(texts, token_lists, vocab, tokens)
        with self._lock:
            self._vocab = vocab
            self._tokens = tokens
            self._df = np.zeros(0, dtype=np.int64)
            self._n_docs = 0
            self._total_tokens = 0
            self._add(batch)
        return self

    def partial_fit(self, texts: Sequence[str]) -> BM25SparseEmbeddings:
        """Add documents to the statistics without refitting; returns ``self``.

        New tokens get new ids after the existing ones, so vectors stored earlier stay
        valid. On an unfitted encoder the first call fits; an empty list is a no-op.
        ``partial_fit(a)`` then ``partial_fit(b)`` gives the same statistics as
        ``fit(a + b)``. The analysed batch is kept, so ``embed_documents`` on the same
        texts right after costs no second analysis (the batch is kept for that one call).
        """
        texts = self._check_texts(texts, "partial_fit")
        if not texts:
            return self
        token_lists = self._token_lists(texts)
        with self._lock:
            batch = index_batch(texts, token_lists, self._vocab, self._tokens)
            self._add(batch)
        return self

    def partial_unfit(self, texts: Sequence[str]) -> BM25SparseEmbeddings:
        """Remove documents from the statistics: the exact inverse of ``partial_fit``.

        Call it with the texts of documents that are deleted (or replaced by a new
        version) so that ``N``, ``df`` and the token total are those of a fresh ``fit``
        on the documents that remain. Token ids are never reassigned or removed: a
        token no document contains any more keeps its id (queries then ignore it), so
        stored vectors keep their meaning. An empty list is a no-op; returns ``self``.

        Raises:
            ValueError: ``texts`` were not all counted: a token never seen, or more
                documents, occurrences or tokens removed than were added. Nothing
                changes in that case.

        Example:
            >>> bm25 = BM25SparseEmbeddings(analyzer="en").fit(["red apples"])
            >>> bm25.partial_fit(["green pears"]).partial_unfit(["green pears"]).statistics()
            SparseStatistics(n_docs=1, total_tokens=2, df=<2 tokens>)
        """
        texts = self._check_texts(texts, "partial_unfit")
        if not texts:
            return self
        token_lists = self._token_lists(texts)
        flat = list(chain.from_iterable(token_lists))
        with self._lock:
            ids = np.fromiter(
                map(self._vocab.get, flat, repeat(-1)), dtype=np.int64, count=len(flat)
            )
            if (ids < 0).any():
                unknown = sorted({t for t, i in zip(flat, ids.tolist(), strict=True) if i < 0})
                msg = (
                    f"partial_unfit() got texts that were never counted: the tokens "
                    f"{unknown[:5]!r} are not in the vocabulary. Remove only texts that were "
                    "passed to fit/partial_fit, exactly as they were passed."
                )
                raise ValueError(msg)
            batch = count_batch(texts, ids, token_lists)
            dim = len(self._tokens)
            removed = np.bincount(batch.cols, minlength=dim)
            df = self._df[:dim] - removed
            n_docs = self._n_docs - len(texts)
            total = self._total_tokens - int(batch.lengths.sum())
            if n_docs < 0 or total < 0 or (df < 0).any():
                msg = (
                    f"partial_unfit() would remove more than was counted (the statistics "
                    f"hold {self._n_docs} documents; {len(texts)} given, "
                    f"{int((df < 0).sum())} tokens in more removed documents than counted). "
                    "Remove only texts that were passed to fit/partial_fit and not removed yet."
                )
                raise ValueError(msg)
            self._df[:dim] = df
            self._n_docs = n_docs
            self._total_tokens = total
            self._idf_cache = None
            self._last_batch = None
        return self

    def _check_texts(self, texts: Sequence[str], method: str) -> list[str]:
        if isinstance(texts, str):
            msg = (
                f"{method}() takes a list of texts; got one str ({texts[:40]!r}). "
                f"Wrap it in a list: {method}([text])."
            )
            raise TypeError(msg)
        texts = list(texts)
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                msg = (
                    f"{method}() takes a list of str; item {position} is "
                    f"{type(text).__name__}. Pass doc.page_content for Documents."
                )
                raise TypeError(msg)
        return texts

    def _token_lists(self, texts: list[str]) -> list[list[str]]:
        analyze = self._analyze
        if self.show_progress_bar and len(texts) > 1:
            from tqdm.auto import tqdm

            return [analyze(text) for text in tqdm(texts, desc="BM25 analyse", unit="doc")]
        return [analyze(text) for text in texts]

    def _add(self, batch: Batch) -> None:
        dim = len(self._tokens)
        if len(self._df) < dim:
            grown = np.zeros(max(dim, 2 * len(self._df)), dtype=np.int64)
            grown[: len(self._df)] = self._df
            self._df = grown
        self._df[:dim] += np.bincount(batch.cols, minlength=dim)
        self._n_docs += len(batch.lengths)
        self._total_tokens += int(batch.lengths.sum())
        self._idf_cache = None
        self._last_batch = batch if len(batch.rows) <= _KEEP_BATCH_ENTRIES else None

    # --------------------------------------------------------------- encoding

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        """Encode documents: saturated, length-normalised term weights.

        Tokens unknown to the vocabulary count towards the document length but get no
        dimension: call ``partial_fit`` on new documents first (a vector store does)
        so that their new words become searchable.
        """
        texts = self._check_texts(texts, "embed_documents")
        self._require_fitted("encode documents")
        if not texts:
            return []
        with self._lock:
            batch = self._last_batch
            if batch is not None and batch.key == texts_key(texts):
                self._last_batch = None  # used once: the store's partial_fit-then-embed
            else:
                batch = None
            n_docs, total = self._n_docs, self._total_tokens
        if batch is None:
            token_lists = self._token_lists(texts)
            flat = list(chain.from_iterable(token_lists))
            ids = np.fromiter(
                map(self._vocab.get, flat, repeat(-1)), dtype=np.int64, count=len(flat)
            )
            batch = count_batch(texts, ids, token_lists)
        avgdl = total / n_docs if total else 1.0
        k1, b = self.k1, self.b
        norm = k1 * (1.0 - b + b * batch.lengths / avgdl)
        tf = batch.tf.astype(np.float64)
        weights = tf * (k1 + 1.0) / (tf + norm[batch.rows])
        bounds = np.searchsorted(batch.rows, np.arange(len(texts) + 1)).tolist()
        cols = batch.cols.tolist()
        values = weights.tolist()
        # Rows come out of np.unique with their columns sorted and unique.
        make = SparseVector._from_sorted
        return [make(cols[start:end], values[start:end]) for start, end in pairwise(bounds)]

    def embed_query(self, text: str) -> SparseVector:
        """Encode a query: the IDF of each known token, times its count in the query."""
        if not isinstance(text, str):
            msg = f"embed_query() takes one str; got {type(text).__name__}."
            raise TypeError(msg)
        self._require_fitted("encode queries")
        counts: dict[int, int] = {}
        vocab_get = self._vocab.get
        for token in self._analyze(text):
            token_id = vocab_get(token)
            if token_id is not None:
                counts[token_id] = counts.get(token_id, 0) + 1
        if not counts:
            return SparseVector()
        with self._lock:
            df = self._df
            # Tokens no counted document contains (all removed again) score nothing.
            counts = {i: c for i, c in counts.items() if df[i] > 0}
        if not counts:
            return SparseVector()
        idf = self._idf()
        indices = sorted(counts)
        weights = (idf[indices] * np.fromiter((counts[i] for i in indices), np.float64)).tolist()
        return SparseVector._from_sorted(indices, weights)

    def encode_documents(self, texts: list[str]) -> list[SparseVector]:
        """Alias of :meth:`embed_documents` (the pymilvus-model name)."""
        return self.embed_documents(texts)

    def encode_queries(self, texts: list[str]) -> list[SparseVector]:
        """Encode several queries (the pymilvus-model name); see :meth:`embed_query`."""
        texts = self._check_texts(texts, "encode_queries")
        return [self.embed_query(text) for text in texts]

    def embed_queries(self, texts: list[str]) -> list[SparseVector]:
        """Alias of :meth:`encode_queries`."""
        return self.encode_queries(texts)

    # ------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able state :meth:`save` writes (checksum included)."""
        if not self._n_docs and not self._tokens:
            self._require_fitted("be saved")
        analyzer = analyzer_to_config(self._analyze)
        params = {"k1": self.k1, "b": self.b, "idf": self.idf, "epsilon": self.epsilon}
        with self._lock:
            return to_payload(
                params,
                analyzer,
                list(self._tokens),
                self._df[: len(self._tokens)],
                self._n_docs,
                self._total_tokens,
            )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted state as one UTF-8 JSON file (atomically); returns its path.

        The file holds the format version, every parameter, the analyzer's full
        configuration (stop words included), the vocabulary in id order, document
        frequencies and a SHA-256 checksum. No pickle.

        Raises:
            NotFittedError: Nothing to save yet.
            ValueError: The analyzer is a custom callable that was never registered.
        """
        return atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=False))

    load = _ClassOrInstanceLoad()

    def _take_state(
        self, other: BM25SparseEmbeddings, *, show_progress_bar: bool | None
    ) -> BM25SparseEmbeddings:
        """Become ``other`` (parameters, analyzer, statistics) in place; returns ``self``."""
        fields = {name: getattr(other, name) for name in ("analyzer", "k1", "b", "idf", "epsilon")}
        if show_progress_bar is not None:
            fields["show_progress_bar"] = show_progress_bar
        with self._lock:
            # The model is frozen against accidental edits; loading replaces it whole.
            self.__dict__.update(fields)
            self._analyze = other._analyze
            self._vocab = other._vocab
            self._tokens = other._tokens
            self._df = other._df
            self._n_docs = other._n_docs
            self._total_tokens = other._total_tokens
            self._idf_cache = None
            self._last_batch = None
        return self

    @classmethod
    def _read(
        cls,
        path: str | os.PathLike[str],
        *,
        show_progress_bar: bool = False,
        max_bytes: int = MAX_FILE_BYTES,
    ) -> BM25SparseEmbeddings:
        payload = read_payload(path, max_bytes=max_bytes)
        return cls.from_dict(payload, source=str(path), show_progress_bar=show_progress_bar)

    @classmethod
    def from_dict(
        cls,
        payload: Any,
        *,
        source: str = "<dict>",
        show_progress_bar: bool = False,
    ) -> BM25SparseEmbeddings:
        """Rebuild an encoder from :meth:`to_dict` output, checking every field.

        Raises:
            PersistenceError: See :meth:`load`; the message names the field.
        """
        state = parse_payload(payload, source=source)
        try:
            encoder = cls(
                analyzer=state.analyzer, show_progress_bar=show_progress_bar, **state.params
            )
        except (TypeError, ValueError) as exc:
            msg = f"BM25 file {source} has invalid parameters {state.params!r}: {exc}"
            raise PersistenceError(msg) from exc
        encoder._tokens = state.tokens
        encoder._vocab = dict(zip(state.tokens, range(len(state.tokens)), strict=True))
        encoder._df = state.df
        encoder._n_docs = state.n_docs
        encoder._total_tokens = state.total_tokens
        return encoder
