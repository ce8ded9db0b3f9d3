"""BGEM3Embeddings on a tiny random BGE-M3: the standard suite, one pass for both sides,
the sparse companion, and errors for folders that are not BGE-M3."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_embedkit.embeddings import ModelNotFoundError
from langchain_embedkit.embeddings.bge_m3 import BGEM3Embeddings, BGEM3SparseEmbeddings
from langchain_embedkit.sparse.base import SparseEmbeddings
from langchain_embedkit.types import SparseVector
from tests.unit_tests.embeddings.tiny_bge_m3 import TINY_M3_DIM, build_tiny_bge_m3

TEXTS = [
    "Hybrid search combines sparse keyword scores with dense vector scores.",
    "向量检索通过比较向量之间的相似度来查找文档。",
    "BM25 ranks documents.",
]


@pytest.fixture(scope="session")
def tiny_m3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bge_m3(tmp_path_factory.mktemp("tiny-bge-m3"))


@pytest.fixture(scope="module")
def m3(tiny_m3_dir: Path) -> BGEM3Embeddings:
    return BGEM3Embeddings(model_name=str(tiny_m3_dir), device="cpu")


class TestBGEM3EmbeddingsUnit(EmbeddingsUnitTests):
    @pytest.fixture(autouse=True)
    def _dir(self, tiny_m3_dir: Path) -> None:
        self.dir = tiny_m3_dir

    @property
    def embeddings_class(self) -> type[BGEM3Embeddings]:
        return BGEM3Embeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model_name": str(self.dir), "device": "cpu"}


def _count_forward_passes(m3: BGEM3Embeddings, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    forward = m3._model.forward

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return forward(*args, **kwargs)

    monkeypatch.setattr(m3._model, "forward", counted)
    return calls


def test_dense_then_sparse_on_the_same_texts_runs_the_model_once(
    m3: BGEM3Embeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = m3.encode_documents(TEXTS)
    calls = _count_forward_passes(m3, monkeypatch)
    dense = m3.embed_documents(TEXTS)
    sparse = m3.sparse.embed_documents(TEXTS)
    assert len(calls) == 1
    assert dense == expected["dense"]
    assert sparse == expected["sparse"]
    # Sparse first, then dense: the same single pass.
    assert m3.sparse.embed_query("vector search") == m3.encode_queries(["vector search"]).sparse[0]
    calls.clear()
    assert m3.sparse.embed_query("dense keyword") is not None
    assert m3.embed_query("dense keyword") == m3.encode_queries(["dense keyword"]).dense[0]
    assert len(calls) == 2  # one for the pair, one for the check through encode_queries


def test_a_kept_result_is_used_once_and_only_for_the_same_texts(
    m3: BGEM3Embeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_forward_passes(m3, monkeypatch)
    m3.embed_documents(TEXTS)
    m3.sparse.embed_documents(TEXTS[:2])  # other texts: runs the model
    m3.sparse.embed_documents(TEXTS)  # nothing kept for these any more (consumed or replaced)
    m3.sparse.embed_query(TEXTS[0])  # a query is not a document
    assert len(calls) == 4


def test_batches_do_not_change_the_vectors(tiny_m3_dir: Path) -> None:
    one = BGEM3Embeddings(model_name=str(tiny_m3_dir), device="cpu", batch_size=1)
    three = BGEM3Embeddings(model_name=str(tiny_m3_dir), device="cpu", batch_size=3)
    a, b = one.encode_documents(TEXTS), three.encode_documents(TEXTS)
    for x, y in zip(a.dense, b.dense, strict=True):
        assert x == pytest.approx(y, abs=1e-5)
    for x, y in zip(a.sparse, b.sparse, strict=True):
        assert x.indices == y.indices
        assert x.values == pytest.approx(y.values, abs=1e-5)


def test_outputs_are_plain_floats_and_sparse_vectors(m3: BGEM3Embeddings) -> None:
    out = m3.encode_documents(TEXTS)
    assert sorted(out) == ["dense", "sparse"]
    assert len(out.dense) == len(out.sparse) == len(TEXTS)
    assert all(type(x) is float for x in out.dense[0])
    assert len(out.dense[0]) == TINY_M3_DIM == m3.dim["dense"]
    assert sum(x * x for x in out.dense[0]) == pytest.approx(1.0)
    for vector in out.sparse:
        assert isinstance(vector, SparseVector)
        assert len(vector) > 0
        assert all(v > 0 for v in vector.values)
        assert max(vector.indices) < m3.dim["sparse"] == m3.sparse.dim
    special = {m3.tokenizer.cls_token_id, m3.tokenizer.eos_token_id, m3.tokenizer.pad_token_id}
    assert not special & {i for v in out.sparse for i in v.indices}
    assert m3.encode_documents([]) == {"dense": [], "sparse": []}


def test_sparse_companion_is_a_sparse_embeddings_sharing_the_model(m3: BGEM3Embeddings) -> None:
    assert isinstance(m3.sparse, SparseEmbeddings)
    assert isinstance(m3.sparse, BGEM3SparseEmbeddings)
    assert m3.sparse is m3.sparse
    assert m3.sparse.model is m3
    assert m3.sparse.is_fitted
    assert "BGEM3SparseEmbeddings" in repr(m3.sparse)
    vector = m3.sparse.embed_query("向量检索")
    tokens = m3.sparse.decode(vector)
    assert [w for _, w in tokens] == sorted(vector.values, reverse=True)
    assert m3.compute_lexical_matching_score(vector, vector) == pytest.approx(
        sum(v * v for v in vector.values)
    )


def test_query_max_length_cuts_queries_only(tiny_m3_dir: Path) -> None:
    m3 = BGEM3Embeddings(model_name=str(tiny_m3_dir), device="cpu", query_max_length=4)
    long_text = "hybrid search combines sparse keyword scores with dense vector scores"
    assert m3.embed_query(long_text) == m3.encode_queries([long_text]).dense[0]
    assert m3.embed_query(long_text) != pytest.approx(m3.embed_documents([long_text])[0])


def test_bad_inputs_name_the_problem(m3: BGEM3Embeddings) -> None:
    with pytest.raises(TypeError, match="Wrap it"):
        m3.embed_documents("one text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="item 1"):
        m3.sparse.embed_documents(["ok", None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="one string"):
        m3.sparse.embed_query(["a"])  # type: ignore[arg-type]


def test_a_folder_without_the_sparse_head_is_refused(tiny_m3_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "no-head"
    shutil.copytree(tiny_m3_dir, folder)
    (folder / "sparse_linear.pt").unlink()
    with pytest.raises(ModelNotFoundError, match=r"has no 'sparse_linear\.pt'"):
        BGEM3Embeddings(model_name=str(folder))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        BGEM3Embeddings(model_name=str(tmp_path / "missing"))


def test_a_sparse_head_of_the_wrong_shape_is_refused(tiny_m3_dir: Path, tmp_path: Path) -> None:
    import torch

    folder = tmp_path / "wrong-head"
    shutil.copytree(tiny_m3_dir, folder)
    torch.save(torch.nn.Linear(8, 1).state_dict(), folder / "sparse_linear.pt")
    with pytest.raises(ValueError, match=r"expected weight \(1, 32\)"):
        BGEM3Embeddings(model_name=str(folder))


def test_a_hub_id_not_in_the_cache_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="HF_ENDPOINT"):
        BGEM3Embeddings(model_name="BAAI/bge-m3", cache_folder=str(tmp_path))
