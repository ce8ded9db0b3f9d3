from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from langchain_embedkit.errors import PersistenceError
from langchain_embedkit.sparse.analyzers import (
    EnglishAnalyzer,
    register_analyzer,
    unregister_analyzer,
)
from langchain_embedkit.sparse.bm25 import FORMAT_VERSION, BM25SparseEmbeddings, _checksum

DOCS = [
    "Artificial intelligence was founded as an academic discipline in 1956.",
    "Alan Turing was the first person to conduct substantial research in AI.",
    "Born in Maida Vale, London, Turing was raised in southern England.",
    "RAG是一种检索增强生成技术",
    "向量数据库存储文档的嵌入表示 (vector databases store embeddings)",
]
QUERIES = ["Who was Turing?", "RAG是什么?", "向量数据库", "unknown words only"]


def _vectors(encoder: BM25SparseEmbeddings) -> dict[str, list[list[Any]]]:
    return {
        "docs": [[v.indices, v.values] for v in encoder.embed_documents(DOCS)],
        "queries": [[v.indices, v.values] for v in encoder.encode_queries(QUERIES)],
    }


@pytest.fixture
def saved(tmp_path: Path) -> tuple[BM25SparseEmbeddings, Path]:
    encoder = BM25SparseEmbeddings(k1=1.2, b=0.6, idf="okapi", epsilon=0.1)
    encoder.partial_fit(DOCS[:3]).partial_fit(DOCS[3:])
    path = encoder.save(tmp_path / "state" / "bm25.json")
    return encoder, path


def test_load_in_a_new_process_gives_identical_vectors(
    saved: tuple[BM25SparseEmbeddings, Path],
) -> None:
    encoder, path = saved
    code = (
        "import json, sys\n"
        "from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings\n"
        "e = BM25SparseEmbeddings.load(sys.argv[1])\n"
        f"docs, queries = {DOCS!r}, {QUERIES!r}\n"
        "print(json.dumps({'dim': e.dim, 'params': [e.k1, e.b, e.idf, e.epsilon],\n"
        "  'docs': [[v.indices, v.values] for v in e.embed_documents(docs)],\n"
        "  'queries': [[v.indices, v.values] for v in e.encode_queries(queries)]}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    assert loaded.pop("dim") == encoder.dim
    assert loaded.pop("params") == [1.2, 0.6, "okapi", 0.1]
    assert loaded == _vectors(encoder)  # exact: floats survive JSON unchanged


def test_file_is_plain_json_with_everything_needed(
    saved: tuple[BM25SparseEmbeddings, Path],
) -> None:
    encoder, path = saved
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert payload["format"] == "langchain-embedkit/bm25"
    assert payload["format_version"] == FORMAT_VERSION
    assert payload["params"] == {"k1": 1.2, "b": 0.6, "idf": "okapi", "epsilon": 0.1}
    assert payload["analyzer"]["name"] == "auto"
    assert "the" in payload["analyzer"]["en"]["stopwords"]
    assert payload["analyzer"]["en"]["stemmer"] == "english"
    assert payload["stats"] == {"n_docs": 5, "total_tokens": int(encoder.avgdl * 5)}
    assert payload["vocab"] == list(encoder.vocabulary)
    assert "检索" in payload["vocab"]
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_load_on_an_instance_fills_it_in_place(
    saved: tuple[BM25SparseEmbeddings, Path],
) -> None:
    encoder, path = saved
    # pymilvus-model habit: make an instance, then load into it
    bm25 = BM25SparseEmbeddings(analyzer="en", show_progress_bar=True)
    assert bm25.load(path) is bm25
    assert bm25.is_fitted
    assert (bm25.k1, bm25.b, bm25.idf, bm25.epsilon) == (1.2, 0.6, "okapi", 0.1)
    assert bm25.analyzer_function == encoder.analyzer_function  # the file's, not "en"
    assert bm25.show_progress_bar is True
    assert bm25.statistics() == encoder.statistics()
    assert _vectors(bm25) == _vectors(encoder)
    loaded = BM25SparseEmbeddings.load(path)
    assert loaded is not bm25
    assert _vectors(loaded) == _vectors(encoder)


def test_loaded_encoder_keeps_learning(saved: tuple[BM25SparseEmbeddings, Path]) -> None:
    encoder, path = saved
    loaded = BM25SparseEmbeddings.load(path)
    loaded.partial_fit(["Turing award winners"])
    encoder.partial_fit(["Turing award winners"])
    assert loaded.vocabulary == encoder.vocabulary
    assert loaded.embed_query("Turing award") == encoder.embed_query("Turing award")


def _rewrite(path: Path, change: Callable[[dict[str, Any]], None], *, reseal: bool) -> None:
    payload = json.loads(path.read_text(encoding="utf-8"))
    change(payload)
    if reseal:
        payload["checksum"] = _checksum(payload)
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def test_truncated_file_names_the_file(saved: tuple[BM25SparseEmbeddings, Path]) -> None:
    _, path = saved
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(PersistenceError, match=rf"{path.name} is not valid JSON.*truncated"):
        BM25SparseEmbeddings.load(path)


def test_edited_file_fails_its_checksum(saved: tuple[BM25SparseEmbeddings, Path]) -> None:
    _, path = saved

    def edit(payload: dict[str, Any]) -> None:
        payload["df"][0] += 1

    _rewrite(path, edit, reseal=False)
    with pytest.raises(PersistenceError, match=rf"{path.name} fails its checksum.*edited"):
        BM25SparseEmbeddings.load(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["df"].pop(), "same length"),
        (lambda p: p["vocab"].__setitem__(1, p["vocab"][0]), "duplicate"),
        (lambda p: p["df"].__setitem__(0, 10**6), r"outside 0\.\.n_docs"),
        (lambda p: p["params"].__setitem__("k1", -3), "invalid parameters"),
        (lambda p: p["params"].__setitem__("typo", 1), "invalid parameters"),
        (lambda p: p.pop("stats"), "lacks the required key 'stats'"),
        (lambda p: p.__setitem__("analyzer", {"name": "klingon"}), "not registered"),
    ],
)
def test_structural_edits_are_named(
    saved: tuple[BM25SparseEmbeddings, Path],
    change: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    _, path = saved
    _rewrite(path, change, reseal=True)
    with pytest.raises(PersistenceError, match=rf"{path.name} .*{message}"):
        BM25SparseEmbeddings.load(path)


def test_newer_format_version_asks_for_an_upgrade(
    saved: tuple[BM25SparseEmbeddings, Path],
) -> None:
    _, path = saved
    _rewrite(path, lambda p: p.__setitem__("format_version", FORMAT_VERSION + 1), reseal=False)
    expected = rf"{path.name} has format version 2, newer.*Upgrade"
    with pytest.raises(PersistenceError, match=expected):
        BM25SparseEmbeddings.load(path)


def test_other_files_are_refused(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(PersistenceError, match=r"missing\.json does not exist"):
        BM25SparseEmbeddings.load(missing)
    other = tmp_path / "other.json"
    other.write_text('{"hello": "world"}', encoding="utf-8")
    with pytest.raises(PersistenceError, match=r"other\.json is not a langchain-embedkit BM25"):
        BM25SparseEmbeddings.load(other)


def test_unregistered_callable_analyzer_cannot_be_saved(tmp_path: Path) -> None:
    encoder = BM25SparseEmbeddings(analyzer=lambda text: text.lower().split()).fit(DOCS)
    with pytest.raises(ValueError, match=r"registered by name to be saved.*register_analyzer"):
        encoder.save(tmp_path / "bm25.json")
    assert not (tmp_path / "bm25.json").exists()


def test_registered_analyzer_round_trips(tmp_path: Path) -> None:
    def lower_split(text: str) -> list[str]:
        return text.lower().split()

    register_analyzer("lower-split-test", lower_split)
    try:
        encoder = BM25SparseEmbeddings(analyzer="lower-split-test").fit(DOCS)
        path = encoder.save(tmp_path / "bm25.json")
        assert json.loads(path.read_text(encoding="utf-8"))["analyzer"] == {
            "name": "lower-split-test"
        }
        assert BM25SparseEmbeddings.load(path).embed_query("turing") == encoder.embed_query(
            "turing"
        )
    finally:
        unregister_analyzer("lower-split-test")
    with pytest.raises(PersistenceError, match=r"register_analyzer\('lower-split-test'"):
        BM25SparseEmbeddings.load(path)


def test_analyzer_objects_are_saved_with_their_options(tmp_path: Path) -> None:
    encoder = BM25SparseEmbeddings(analyzer=EnglishAnalyzer(stemmer=None)).fit(DOCS)
    loaded = BM25SparseEmbeddings.load(encoder.save(tmp_path / "bm25.json"))
    assert loaded.analyzer_function == EnglishAnalyzer(stemmer=None)
    assert "turing" in loaded.vocabulary
