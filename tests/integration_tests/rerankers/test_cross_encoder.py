"""CrossEncoderReranker on tiny saved models, loaded by path like a real model."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_embedkit.rerankers import CrossEncoderReranker

QUERY = "what is the capital of france"
DOCS = [
    Document("paris is the capital city of france", id="paris", metadata={"lang": "en"}),
    Document("bm25 ranks words", id="bm25"),
    Document("cats and dogs", id="pets"),
    Document("巴黎是法国的首都", id="zh"),
    Document("berlin is the capital of germany", id=None, metadata={"n": 5}),
]


def reference_scores(path: Path, query: str, texts: list[str]) -> np.ndarray:
    """Score with plain transformers: sigmoid of one logit, positive softmax of two."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    batch = tokenizer([query] * len(texts), texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    if logits.shape[1] == 1:
        return torch.sigmoid(logits[:, 0]).numpy()
    return torch.softmax(logits, dim=1)[:, 1].numpy()


@pytest.mark.parametrize("num_labels", [1, 2])
def test_scores_match_a_plain_transformers_forward(
    tiny_cross_encoders: dict[int, Path], num_labels: int
) -> None:
    path = tiny_cross_encoders[num_labels]
    reranker = CrossEncoderReranker(model_name=str(path), top_n=None, batch_size=2)
    assert reranker.num_labels == num_labels
    texts = [d.page_content for d in DOCS]
    expected = reference_scores(path, QUERY, texts)
    assert reranker.score(QUERY, texts) == pytest.approx(expected.tolist(), abs=1e-5)
    assert len(set(np.round(expected, 3))) > 2  # the scores really differ

    before = copy.deepcopy(DOCS)
    out = reranker.compress_documents(DOCS, QUERY)
    assert before == DOCS
    scores = [d.metadata["relevance_score"] for d in out]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert [d.id for d in out] == [DOCS[i].id for i in np.argsort(-expected, kind="stable")]
    by_content = {d.page_content: d for d in out}
    assert by_content[DOCS[0].page_content].metadata["lang"] == "en"
    assert by_content[DOCS[4].page_content].id is None


def test_top_n_and_score_threshold(tiny_cross_encoders: dict[int, Path]) -> None:
    path = str(tiny_cross_encoders[1])
    all_docs = CrossEncoderReranker(model_name=path, top_n=None).compress_documents(DOCS, QUERY)
    top2 = CrossEncoderReranker(model_name=path, top_n=2).compress_documents(DOCS, QUERY)
    assert top2 == all_docs[:2]
    cut = all_docs[2].metadata["relevance_score"]
    kept = CrossEncoderReranker(
        model_name=path, top_n=None, score_threshold=cut
    ).compress_documents(DOCS, QUERY)
    assert kept == all_docs[:3]


async def test_async_matches_sync(tiny_cross_encoders: dict[int, Path]) -> None:
    reranker = CrossEncoderReranker(model_name=str(tiny_cross_encoders[2]), top_n=3)
    assert await reranker.acompress_documents(DOCS, QUERY) == reranker.compress_documents(
        DOCS, QUERY
    )


def test_inside_contextual_compression_retriever(tiny_cross_encoders: dict[int, Path]) -> None:
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=16))
    store.add_documents(DOCS[:4])
    reranker = CrossEncoderReranker(model_name=str(tiny_cross_encoders[1]), top_n=2)
    retriever = ContextualCompressionRetriever(
        base_compressor=reranker, base_retriever=store.as_retriever(search_kwargs={"k": 4})
    )
    got = retriever.invoke(QUERY)
    expected = reranker.compress_documents(store.similarity_search(QUERY, k=4), QUERY)
    assert [d.id for d in got] == [d.id for d in expected]
    assert len(got) == 2
    assert all("relevance_score" in d.metadata for d in got)


def test_three_label_models_are_refused(tiny_cross_encoders: dict[int, Path]) -> None:
    with pytest.raises(ValueError, match="3 output labels"):
        CrossEncoderReranker(model_name=str(tiny_cross_encoders[3]))


def test_model_not_in_the_cache_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        CrossEncoderReranker(model_kwargs={"cache_folder": str(tmp_path)})
    message = str(info.value)
    assert "BAAI/bge-reranker-base" in message
    assert "hf download BAAI/bge-reranker-base --local-dir ./models/bge-reranker-base" in message


def test_folder_without_a_model_is_explained(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        CrossEncoderReranker(model_name=str(tmp_path))
