from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from langchain_embedkit.errors import NotFittedError
from langchain_embedkit.sparse.analyzers import (
    EnglishAnalyzer,
    register_analyzer,
    unregister_analyzer,
)
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.sparse.search import to_csr
from langchain_embedkit.types import SparseVector

SEED_SENTENCES = [
    "Artificial intelligence was founded as an academic discipline in 1956.",
    "Alan Turing was the first person to conduct substantial research in AI.",
    "Born in Maida Vale, London, Turing was raised in southern England.",
]

CHINESE_DOCS = [
    "向量数据库存储文档的嵌入表示",
    "RAG是一种检索增强生成技术",
    "LangChain是一个用于构建大模型应用的框架",
    "BM25是一种经典的关键词排序算法",
]


def _scores(encoder: BM25SparseEmbeddings, docs: list[str], query: str) -> np.ndarray:
    matrix = to_csr(encoder.embed_documents(docs), dim=encoder.dim)
    query_vector = encoder.embed_query(query)
    dense = np.zeros(encoder.dim)
    dense[query_vector.indices] = query_vector.values
    return np.asarray(matrix @ dense)


def _by_token(encoder: BM25SparseEmbeddings, vector: SparseVector) -> dict[str, float]:
    tokens = {index: token for token, index in encoder.vocabulary.items()}
    return {tokens[i]: v for i, v in zip(vector.indices, vector.values, strict=True)}


# ------------------------------------------------------------------ parity


@pytest.mark.parametrize("common_word", [None, "ubiquitous"])
def test_scores_match_rank_bm25_okapi(
    scifact_sample: tuple[list[str], list[str]], common_word: str | None
) -> None:
    from rank_bm25 import BM25Okapi

    docs, queries = scifact_sample
    if common_word:  # a token in every document: negative raw IDF, epsilon floor applies
        docs = [f"{doc} {common_word}" for doc in docs]
        queries = [f"{query} {common_word}" for query in queries]
    encoder = BM25SparseEmbeddings(analyzer="en", idf="okapi").fit(docs)
    analyze = encoder.analyzer_function
    reference = BM25Okapi([analyze(doc) for doc in docs])  # identical tokens
    if common_word:
        (stem,) = analyze(common_word)
        assert reference.idf[stem] == pytest.approx(0.25 * reference.average_idf)
    matrix = to_csr(encoder.embed_documents(docs), dim=encoder.dim)
    for query in queries:
        vector = encoder.embed_query(query)
        dense = np.zeros(encoder.dim)
        dense[vector.indices] = vector.values
        expected = reference.get_scores(analyze(query))
        assert expected.max() > 0
        np.testing.assert_allclose(matrix @ dense, expected, rtol=0, atol=1e-5)


def test_scores_match_bm25s_lucene(scifact_sample: tuple[list[str], list[str]]) -> None:
    import bm25s

    docs, queries = scifact_sample
    encoder = BM25SparseEmbeddings(analyzer="en", k1=1.2, b=0.7).fit(docs)
    analyze = encoder.analyzer_function
    reference = bm25s.BM25(method="lucene", k1=1.2, b=0.7, dtype="float64")
    reference.index([analyze(doc) for doc in docs], show_progress=False)
    for query in queries:
        tokens = [t for t in analyze(query) if t in encoder.vocabulary]
        # bm25s' Lucene variant drops the constant (k1 + 1) factor of the document side
        expected = reference.get_scores(tokens) * (1.2 + 1)
        np.testing.assert_allclose(_scores(encoder, docs, query), expected, rtol=0, atol=1e-5)


def test_dot_product_is_bm25_by_hand() -> None:
    docs = ["apple apple banana", "banana cherry", "cherry cherry cherry durian"]
    encoder = BM25SparseEmbeddings(analyzer="en", k1=1.5, b=0.75).fit(docs)
    n, avgdl = 3, 3.0
    idf_banana = np.log(1 + (n - 2 + 0.5) / (2 + 0.5))
    idf_apple = np.log(1 + (n - 1 + 0.5) / (1 + 0.5))
    doc0 = 2 * 2.5 / (2 + 1.5 * (0.25 + 0.75 * 3 / avgdl))  # apple, tf=2
    doc0_banana = 1 * 2.5 / (1 + 1.5 * (0.25 + 0.75 * 3 / avgdl))
    query = encoder.embed_query("apple banana banana")
    vectors = encoder.embed_documents(docs)
    expected = idf_apple * doc0 + 2 * idf_banana * doc0_banana
    assert query.dot(vectors[0]) == pytest.approx(expected, abs=1e-12)


# ------------------------------------------------------------- behaviour


def test_seed_sentences_give_dim_21() -> None:
    encoder = BM25SparseEmbeddings(analyzer="en").fit(SEED_SENTENCES)
    assert encoder.dim == 21
    assert all(max(v.indices) < 21 for v in encoder.embed_documents(SEED_SENTENCES))
    assert BM25SparseEmbeddings(analyzer="auto").fit(SEED_SENTENCES).dim == 21


def test_unknown_query_gives_empty_vector() -> None:
    encoder = BM25SparseEmbeddings(analyzer="en").fit(SEED_SENTENCES)
    for query in ["quantum chromodynamics", "", "the of and", "量子色动力学"]:
        vector = encoder.embed_query(query)
        assert vector == SparseVector() and len(vector) == 0
    assert encoder.encode_queries(["xyzzy", "Turing"])[0] == SparseVector()


def test_unfitted_encoder_says_fit_or_load(tmp_path: object) -> None:
    encoder = BM25SparseEmbeddings()
    assert not encoder.is_fitted and encoder.dim == 0
    for call in (
        lambda: encoder.embed_query("q"),
        lambda: encoder.embed_documents(["d"]),
        lambda: encoder.save("never.json"),
    ):
        with pytest.raises(NotFittedError, match=r"call fit\(texts\).*load\(path\)"):
            call()


def test_chinese_query_ranks_the_sharing_passage_first() -> None:
    for analyzer in ("auto", "zh"):
        encoder = BM25SparseEmbeddings(analyzer=analyzer).fit(CHINESE_DOCS)
        scores = _scores(encoder, CHINESE_DOCS, "RAG是什么?")
        assert int(np.argmax(scores)) == 1 and scores[1] > 0
        assert np.count_nonzero(scores) == 1
        scores = _scores(encoder, CHINESE_DOCS, "怎么用向量数据库存文档?")
        assert int(np.argmax(scores)) == 0


def test_mixed_text_keeps_english_and_chinese_tokens() -> None:
    encoder = BM25SparseEmbeddings().fit(["RAG是一种检索增强生成技术", "BM25 ranks words"])
    assert {"rag", "检索", "bm25", "rank"} <= set(encoder.vocabulary)
    query = _by_token(encoder, encoder.embed_query("RAG 检索"))
    assert set(query) == {"rag", "检索"}


def test_duplicate_query_tokens_count() -> None:
    encoder = BM25SparseEmbeddings(analyzer="en").fit(SEED_SENTENCES)
    once = encoder.embed_query("Turing")
    twice = encoder.embed_query("Turing turing")
    assert twice.indices == once.indices
    assert twice.values[0] == pytest.approx(2 * once.values[0])


def test_documents_and_queries_are_asymmetric() -> None:
    encoder = BM25SparseEmbeddings(analyzer="en").fit(SEED_SENTENCES)
    as_doc = encoder.embed_documents(["Turing"])[0]
    as_query = encoder.embed_query("Turing")
    assert as_doc.indices == as_query.indices
    turing_idf = encoder.idf_weights()[as_query.indices[0]]
    assert as_query.values == [pytest.approx(turing_idf)]
    assert as_doc.values != as_query.values
    assert encoder.encode_documents(SEED_SENTENCES) == encoder.embed_documents(SEED_SENTENCES)


def test_documents_with_unknown_words_count_them_in_length() -> None:
    encoder = BM25SparseEmbeddings(analyzer="en", b=1.0).fit(SEED_SENTENCES)
    short, long = encoder.embed_documents(["Turing", "Turing zebra giraffe okapi"])
    assert short.indices == long.indices
    assert long.values[0] < short.values[0]
    assert encoder.embed_documents([""])[0] == SparseVector()
    assert encoder.embed_documents([]) == []


def test_wrong_input_types_are_explained() -> None:
    encoder = BM25SparseEmbeddings(analyzer="en").fit(SEED_SENTENCES)
    with pytest.raises(TypeError, match=r"list of texts; got one str"):
        encoder.embed_documents("one text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="item 1 is int"):
        encoder.fit(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least one document"):
        encoder.fit([])


def test_parameters_are_validated_and_frozen() -> None:
    with pytest.raises(ValidationError):
        BM25SparseEmbeddings(k1=-1)
    with pytest.raises(ValidationError):
        BM25SparseEmbeddings(b=1.5)
    with pytest.raises(ValidationError):
        BM25SparseEmbeddings(idf="bm25+")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Unknown analyzer 'fr'"):
        BM25SparseEmbeddings(analyzer="fr")
    encoder = BM25SparseEmbeddings()
    with pytest.raises(ValidationError):
        encoder.k1 = 2.0  # type: ignore[misc]


async def test_async_twins_match() -> None:
    encoder = BM25SparseEmbeddings(analyzer="en").fit(SEED_SENTENCES)
    assert await encoder.aembed_query("Turing AI") == encoder.embed_query("Turing AI")
    assert await encoder.aembed_documents(SEED_SENTENCES) == encoder.embed_documents(SEED_SENTENCES)


# ------------------------------------------------------------ partial_fit


def test_partial_fit_equals_fit_on_the_union(
    scifact_sample: tuple[list[str], list[str]],
) -> None:
    docs, queries = scifact_sample
    a, b = docs[:150], docs[150:]
    incremental = BM25SparseEmbeddings(analyzer="en").partial_fit(a).partial_fit(b)
    full = BM25SparseEmbeddings(analyzer="en").fit(a + b)
    assert incremental.n_docs == full.n_docs == len(docs)
    assert incremental.avgdl == full.avgdl
    assert incremental.dim == full.dim
    assert set(incremental.vocabulary) == set(full.vocabulary)
    df_inc = dict(
        zip(incremental.vocabulary, incremental.document_frequencies().tolist(), strict=True)
    )
    df_full = dict(zip(full.vocabulary, full.document_frequencies().tolist(), strict=True))
    assert df_inc == df_full
    for query in queries[:10]:
        assert _by_token(incremental, incremental.embed_query(query)) == _by_token(
            full, full.embed_query(query)
        )
    for mine, theirs in zip(
        incremental.embed_documents(b[:20]), full.embed_documents(b[:20]), strict=True
    ):
        assert _by_token(incremental, mine) == _by_token(full, theirs)


def test_partial_fit_fits_an_unfitted_encoder_and_keeps_ids() -> None:
    encoder = BM25SparseEmbeddings(analyzer="en")
    encoder.partial_fit([])
    assert not encoder.is_fitted
    encoder.partial_fit(SEED_SENTENCES[:2])
    assert encoder.is_fitted and encoder.n_docs == 2
    stored = encoder.embed_documents(SEED_SENTENCES[:2])
    before = dict(encoder.vocabulary)
    stored_tokens = [_by_token(encoder, vector) for vector in stored]
    encoder.partial_fit([SEED_SENTENCES[2], "Turing machines compute"])
    assert encoder.n_docs == 4 and encoder.dim > len(before)
    assert {t: encoder.vocabulary[t] for t in before} == before  # ids are append-only
    assert [set(_by_token(encoder, v)) for v in stored] == [set(t) for t in stored_tokens]
    # the stored vectors are still searched correctly by new queries
    query = encoder.embed_query("academic discipline")
    assert query.dot(stored[0]) > 0 and query.dot(stored[1]) == 0


def test_partial_fit_analyses_only_the_new_documents() -> None:
    calls: list[str] = []
    base = EnglishAnalyzer()

    def counting(text: str) -> list[str]:
        calls.append(text)
        return base(text)

    register_analyzer("counting-test", counting)
    try:
        encoder = BM25SparseEmbeddings(analyzer="counting-test").fit(SEED_SENTENCES * 30)
        calls.clear()
        new = ["Turing machines compute", "Lovelace wrote the first program"]
        encoder.partial_fit(new)
        assert calls == new
        vectors = encoder.embed_documents(list(new))  # reuses the analysed batch once
        assert calls == new
        assert encoder.embed_documents(new) == vectors  # analysed again, same result
        assert calls == [*new, *new]
        encoder.partial_fit(["another one"])
        encoder.embed_documents(["something else"])
        assert calls == [*new, *new, "another one", "something else"]
    finally:
        unregister_analyzer("counting-test")


def test_refit_starts_over() -> None:
    encoder = BM25SparseEmbeddings(analyzer="en").fit(SEED_SENTENCES)
    encoder.fit(["only these words"])
    assert encoder.n_docs == 1
    assert set(encoder.vocabulary) == {"word"}


def test_vectors_built_without_checks_pass_them(
    scifact_sample: tuple[list[str], list[str]],
) -> None:
    docs, queries = scifact_sample
    encoder = BM25SparseEmbeddings(analyzer="en").fit(docs[:200])
    # Documents after the first 200 hold words the vocabulary lacks, and repeated words.
    vectors = encoder.embed_documents(docs) + encoder.encode_queries(queries)
    assert sum(map(len, vectors)) > 0
    for vector in vectors:
        assert vector == SparseVector(vector.indices, vector.values)
        assert all(isinstance(i, int) for i in vector.indices)
