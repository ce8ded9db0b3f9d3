"""partial_fit / partial_unfit keep BM25 statistics equal to a fresh fit, ids stable."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from langchain_embedkit.errors import NotFittedError
from langchain_embedkit.sparse.base import FittableSparseEmbeddings, SparseStatistics
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.sparse.search import to_csr
from langchain_embedkit.types import SparseVector

# Overlapping words so that df varies, some tokens sit in more than half the documents
# (negative raw Okapi IDF) and one text is made of stop words only (zero tokens).
POOL = [
    "red apples and green apples",
    "green pears",
    "apples pears plums",
    "the and of",
    "red red red wine",
    "plums in wine",
    "Apples!",
]
QUERIES = ["red apples", "green wine plums", "pears", "zebra", "apples apples", "wine"]


def _decode(encoder: BM25SparseEmbeddings, vector: SparseVector) -> dict[str, float]:
    tokens = {index: token for token, index in encoder.vocabulary.items()}
    return {tokens[i]: v for i, v in zip(vector.indices, vector.values, strict=True)}


def _fresh(texts: list[str], idf: str) -> BM25SparseEmbeddings:
    return BM25SparseEmbeddings(analyzer="en", idf=idf).fit(texts)  # type: ignore[arg-type]


class PartialUnfitMachine(RuleBasedStateMachine):
    """Random adds and removals of a multiset of documents, checked against a refit."""

    def __init__(self) -> None:
        super().__init__()
        self.idf = "lucene"
        self.encoder = BM25SparseEmbeddings(analyzer="en")
        self.model: Counter[str] = Counter()
        self.ids_seen: dict[str, int] = {}
        # (vector as stored at write time, its tokens at write time)
        self.stored: list[tuple[SparseVector, dict[str, float]]] = []

    @initialize(idf=st.sampled_from(["lucene", "okapi"]))
    def choose_idf(self, idf: str) -> None:
        self.idf = idf
        self.encoder = BM25SparseEmbeddings(analyzer="en", idf=idf)  # type: ignore[arg-type]

    @rule(texts=st.lists(st.sampled_from(POOL), max_size=4))
    def add(self, texts: list[str]) -> None:
        assert self.encoder.partial_fit(texts) is self.encoder
        self.model.update(texts)
        for vector in self.encoder.embed_documents(texts) if texts else []:
            self.stored.append((vector, _decode(self.encoder, vector)))

    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        present = sorted(self.model.elements())
        order = data.draw(st.permutations(present))
        count = data.draw(st.integers(0, len(present)))
        removed = order[:count]
        assert self.encoder.partial_unfit(removed) is self.encoder
        self.model.subtract(removed)
        self.model = +self.model

    @rule(extra=st.sampled_from(POOL))
    def remove_more_documents_than_counted(self, extra: str) -> None:
        texts = [*sorted(self.model.elements()), extra]
        self._refused(texts, "more than was counted|never counted")

    @rule(text=st.sampled_from(["zebras", "red zebras", "apples quux"]))
    def remove_a_text_never_counted(self, text: str) -> None:
        self._refused([text], "never counted")

    def _refused(self, texts: list[str], message: str) -> None:
        before = self.encoder.statistics()
        vocabulary = dict(self.encoder.vocabulary)
        with pytest.raises(ValueError, match=message):
            self.encoder.partial_unfit(texts)
        assert self.encoder.statistics() == before
        assert dict(self.encoder.vocabulary) == vocabulary

    @invariant()
    def statistics_equal_a_fresh_fit(self) -> None:
        texts = list(self.model.elements())
        stats = self.encoder.statistics()
        if not texts:
            assert stats == SparseStatistics(n_docs=0, total_tokens=0, df={})
            assert not self.encoder.is_fitted
            return
        fresh = _fresh(texts, self.idf)
        assert stats == fresh.statistics()
        assert self.encoder.avgdl == fresh.avgdl
        for query in QUERIES:
            ours = _decode(self.encoder, self.encoder.embed_query(query))
            theirs = _decode(fresh, fresh.embed_query(query))
            assert ours == pytest.approx(theirs, rel=1e-12), query

    @invariant()
    def token_ids_never_change_meaning(self) -> None:
        vocabulary = self.encoder.vocabulary
        assert all(vocabulary[token] == index for token, index in self.ids_seen.items())
        self.ids_seen = dict(vocabulary)
        for vector, tokens in self.stored:
            assert _decode(self.encoder, vector) == tokens


PartialUnfitMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestPartialUnfit = PartialUnfitMachine.TestCase


_steps = st.lists(
    st.tuples(st.booleans(), st.lists(st.sampled_from(POOL), min_size=1, max_size=3)),
    min_size=1,
    max_size=8,
)


def _replay(
    steps: list[tuple[bool, list[str]]], idf: str
) -> tuple[BM25SparseEmbeddings, list[str]]:
    """Adds, and removals of whatever of each batch is present; returns what remains."""
    encoder = BM25SparseEmbeddings(analyzer="en", idf=idf)  # type: ignore[arg-type]
    model: Counter[str] = Counter()
    for add, texts in steps:
        if add:
            encoder.partial_fit(texts)
            model.update(texts)
        else:
            removable = list((Counter(texts) & model).elements())
            encoder.partial_unfit(removable)
            model.subtract(removable)
    return encoder, list((+model).elements())


@settings(max_examples=40, deadline=None)
@given(steps=_steps)
def test_scores_after_removals_match_rank_bm25_on_what_remains(
    steps: list[tuple[bool, list[str]]],
) -> None:
    from rank_bm25 import BM25Okapi

    encoder, remaining = _replay(steps, "okapi")
    if not remaining:
        with pytest.raises(NotFittedError):
            encoder.embed_query("apples")
        return
    analyze = encoder.analyzer_function
    corpus = [analyze(text) for text in remaining]
    if not any(corpus):  # rank_bm25 divides by the mean length
        return
    reference = BM25Okapi(corpus)
    # Re-encoded documents (current avgdl) score exactly as a fresh index does.
    matrix = to_csr(encoder.embed_documents(remaining), dim=encoder.dim)
    for query in QUERIES:
        vector = encoder.embed_query(query)
        dense = np.zeros(encoder.dim)
        dense[vector.indices] = vector.values
        np.testing.assert_allclose(
            matrix @ dense, reference.get_scores(analyze(query)), rtol=0, atol=1e-9
        )


@settings(max_examples=40, deadline=None)
@given(steps=_steps)
def test_scores_after_removals_match_bm25s_lucene_on_what_remains(
    steps: list[tuple[bool, list[str]]],
) -> None:
    import bm25s

    encoder, remaining = _replay(steps, "lucene")
    analyze = encoder.analyzer_function
    corpus = [analyze(text) for text in remaining]
    if not remaining or not any(corpus):
        return
    reference = bm25s.BM25(method="lucene", k1=encoder.k1, b=encoder.b, dtype="float64")
    reference.index(corpus, show_progress=False)
    matrix = to_csr(encoder.embed_documents(remaining), dim=encoder.dim)
    for query in QUERIES:
        vector = encoder.embed_query(query)
        dense = np.zeros(encoder.dim)
        dense[vector.indices] = vector.values
        known = [token for token in analyze(query) if token in reference.vocab_dict]
        expected = reference.get_scores(known) if known else np.zeros(len(remaining))
        # bm25s' Lucene variant drops the constant (k1 + 1) factor of the document side
        expected = expected * (encoder.k1 + 1)
        np.testing.assert_allclose(matrix @ dense, expected, rtol=0, atol=1e-9)


def test_bm25_is_a_fittable_sparse_encoder() -> None:
    assert isinstance(BM25SparseEmbeddings(), FittableSparseEmbeddings)


def test_unfit_to_empty_keeps_ids_and_refits_on_top() -> None:
    encoder = BM25SparseEmbeddings(analyzer="en").fit(["red apples", "green pears"])
    ids = dict(encoder.vocabulary)
    stored = encoder.embed_documents(["green pears"])[0]
    encoder.partial_unfit(["red apples", "green pears"])
    assert not encoder.is_fitted
    assert encoder.statistics() == SparseStatistics(0, 0, {})
    with pytest.raises(NotFittedError):
        encoder.embed_query("pears")
    encoder.partial_fit(["yellow pears", "red wine"])
    assert {token: encoder.vocabulary[token] for token in ids} == ids
    assert _decode(encoder, stored).keys() == {"green", "pear"}
    # A token whose documents all left gives a query nothing, as after a fresh fit.
    fresh = _fresh(["yellow pears", "red wine"], "lucene")
    ours = _decode(encoder, encoder.embed_query("green pears"))
    assert ours == pytest.approx(_decode(fresh, fresh.embed_query("green pears")))
    assert list(ours) == ["pear"]


def test_unfit_is_refused_before_anything_changes() -> None:
    encoder = BM25SparseEmbeddings(analyzer="en").fit(["red apples", "green pears"])
    before = encoder.statistics()
    with pytest.raises(ValueError, match=r"never counted.*'zebra'"):
        encoder.partial_unfit(["red apples", "zebra"])
    with pytest.raises(ValueError, match="more than was counted"):
        encoder.partial_unfit(["red apples", "red apples"])
    with pytest.raises(TypeError, match=r"partial_unfit\(\[text\]\)"):
        encoder.partial_unfit("red apples")
    assert encoder.statistics() == before
    assert encoder.partial_unfit([]) is encoder
    assert encoder.statistics() == before


def test_state_with_removed_tokens_saves_and_loads(tmp_path: object) -> None:
    from pathlib import Path

    encoder = BM25SparseEmbeddings(analyzer="en").fit(["red apples", "green pears"])
    encoder.partial_unfit(["red apples", "green pears"])
    path = encoder.save(Path(str(tmp_path)) / "bm25.json")
    loaded = BM25SparseEmbeddings.load(path)
    assert loaded.vocabulary == encoder.vocabulary
    assert loaded.statistics() == SparseStatistics(0, 0, {})
    loaded.partial_fit(["red wine"])
    assert loaded.vocabulary["appl"] == encoder.vocabulary["appl"]


def test_okapi_floor_averages_over_tokens_still_counted() -> None:
    # "pear" leaves; "appl" is in every remaining document (negative raw IDF, floored)
    encoder = BM25SparseEmbeddings(analyzer="en", idf="okapi")
    encoder.partial_fit(["red apples and green apples", "green pears", "apples wine"])
    encoder.partial_unfit(["green pears"])
    fresh = _fresh(["red apples and green apples", "apples wine"], "okapi")
    ours = _decode(encoder, encoder.embed_query("red apples"))
    assert ours == pytest.approx(_decode(fresh, fresh.embed_query("red apples")), rel=1e-12)
