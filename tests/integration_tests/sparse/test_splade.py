from __future__ import annotations

from pathlib import Path

import pytest
import torch

from langchain_embedkit.sparse.splade import SpladeSparseEmbeddings
from langchain_embedkit.types import SparseVector

from .conftest import WORDS

DOCS = ["what is rag retrieval", "sparse vector search with bm25", "hybrid index store", ""]


@pytest.fixture(scope="module")
def splade(tiny_splade_path: Path) -> SpladeSparseEmbeddings:
    return SpladeSparseEmbeddings(model_name=str(tiny_splade_path), device="cpu")


def _reference(splade: SpladeSparseEmbeddings, texts: list[str], query: bool) -> torch.Tensor:
    encode = splade.client.encode_query if query else splade.client.encode_document
    return encode(texts, convert_to_tensor=True, convert_to_sparse_tensor=False)


def test_vectors_equal_the_model_output(splade: SpladeSparseEmbeddings) -> None:
    assert splade.dim == len(WORDS) + 5
    vectors = splade.embed_documents(DOCS)
    dense = _reference(splade, DOCS, query=False)
    assert len(vectors) == len(DOCS)
    for vector, row in zip(vectors, dense, strict=True):
        expected = torch.nonzero(row).flatten().tolist()
        assert vector.indices == expected and len(expected) > 0
        assert vector.values == pytest.approx(row[expected].tolist(), abs=1e-6)
        assert all(isinstance(v, float) for v in vector.values)
    query = splade.embed_query("what is hybrid search")
    row = _reference(splade, ["what is hybrid search"], query=True)[0]
    assert query.indices == torch.nonzero(row).flatten().tolist()
    assert splade.encode_queries(["what is hybrid search"]) == [query]
    assert splade.encode_documents(DOCS) == vectors


def test_top_k_pruning_keeps_the_largest_weights(tiny_splade_path: Path) -> None:
    pruned = SpladeSparseEmbeddings(
        model_name=str(tiny_splade_path), device="cpu", document_top_k=3, query_top_k=2
    )
    full = SpladeSparseEmbeddings(model_name=str(tiny_splade_path), device="cpu")
    for small, big in zip(pruned.embed_documents(DOCS), full.embed_documents(DOCS), strict=True):
        assert len(small) == 3 < len(big)
        largest = sorted(big.values, reverse=True)[:3]
        assert sorted(small.values, reverse=True) == pytest.approx(largest)
        assert set(small.indices) <= set(big.indices)
    assert len(pruned.embed_query("rag retrieval")) == 2


def test_decode_names_the_tokens(splade: SpladeSparseEmbeddings) -> None:
    vector = splade.embed_query("rag")
    decoded = splade.decode(vector, top_k=3)
    assert len(decoded) == 3
    assert [w for _, w in decoded] == sorted(vector.values, reverse=True)[:3]
    vocabulary = [*WORDS, "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert all(token in vocabulary for token, _ in decoded)


async def test_async_and_edge_cases(splade: SpladeSparseEmbeddings) -> None:
    assert await splade.aembed_query("rag") == splade.embed_query("rag")
    assert await splade.aembed_documents(DOCS[:2]) == splade.embed_documents(DOCS[:2])
    assert splade.embed_documents([]) == []
    with pytest.raises(TypeError, match="list of texts"):
        splade.embed_documents("rag")  # type: ignore[arg-type]
    assert isinstance(splade.embed_query(""), SparseVector)


def test_missing_model_path_fails_offline(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        SpladeSparseEmbeddings(model_name=str(tmp_path / "no-such-model"), device="cpu")
