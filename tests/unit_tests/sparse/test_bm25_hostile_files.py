"""Saved BM25 files are untrusted: every field is checked, nothing hangs or explodes."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from langchain_embedkit.errors import PersistenceError
from langchain_embedkit.sparse.analyzers import TOKEN_PATTERNS, EnglishAnalyzer
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.sparse.bm25_format import checksum

DATA = Path(__file__).parent / "data"
DOCS = [
    "Artificial intelligence was founded as an academic discipline in 1956.",
    "Alan Turing was the first person to conduct substantial research in AI.",
    "Born in Maida Vale, London, Turing was raised in southern England.",
    "RAG是一种检索增强生成技术",
    "向量数据库存储文档的嵌入表示 (vector databases store embeddings)",
]
QUERIES = ["Who was Turing?", "RAG是什么?", "向量数据库", "unknown words only"]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    encoder = BM25SparseEmbeddings(analyzer=EnglishAnalyzer(stemmer=None)).fit(DOCS[:3])
    return encoder.save(tmp_path / "db.docs.sparse.json")


def _forge(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit the file and recompute its checksum, as anyone can."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    change(payload)
    payload["checksum"] = checksum(payload)
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def _set(*keys: str | int, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        target: Any = payload
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


HOSTILE = [
    pytest.param(
        _set("analyzer", "token_pattern", value="(a+)+$"),
        r"'analyzer'.*token_pattern '\(a\+\)\+\$'",
        id="redos-pattern",
    ),
    pytest.param(
        _set("analyzer", "token_pattern", value="(["),
        r"'analyzer'.*token_pattern '\(\['",
        id="invalid-regex",
    ),
    pytest.param(
        _set("vocab", 1, value=["a", "b"]),
        r"'vocab\[1\]'.*expected a string, got list",
        id="list-in-vocab",
    ),
    pytest.param(_set("vocab", value={"turing": 0}), r"'vocab'.*list of tokens", id="vocab-dict"),
    pytest.param(
        _set("df", 0, value=[1]), r"'df\[0\]'.*expected an integer, got list", id="nested-df"
    ),
    pytest.param(
        _set("df", 2, value=1.0), r"'df\[2\]'.*expected an integer, got float", id="float-df"
    ),
    pytest.param(_set("df", 0, value=True), r"'df\[0\]'.*got bool", id="bool-df"),
    pytest.param(_set("df", 0, value=0), r"'df\[0\]'.*outside 1\.\.n_docs", id="zero-df-v1"),
    pytest.param(
        _set("stats", "total_tokens", value=-5), r"'stats\.total_tokens'.*-5", id="negative-total"
    ),
    pytest.param(
        _set("stats", "n_docs", value=10**400),
        r"'stats\.n_docs'.*integer in 1\.\.",
        id="huge-n-docs",
    ),
    pytest.param(
        _set("stats", "n_docs", value=2.0), r"'stats\.n_docs'.*got float", id="float-n-docs"
    ),
    pytest.param(
        _set("stats", "total_tokens", value=3),
        r"'df'.*exceeds stats\.total_tokens",
        id="df-sum-over-total",
    ),
    pytest.param(
        _set("params", "k1", value=float("inf")), r"'params\.k1'.*finite", id="infinite-k1"
    ),
    pytest.param(
        _set("params", "epsilon", value=float("nan")),
        r"'params\.epsilon'.*finite",
        id="nan-epsilon",
    ),
    pytest.param(_set("params", "b", value="0.75"), r"'params\.b'.*got str", id="string-b"),
    pytest.param(_set("params", "idf", value=["okapi"]), r"'params\.idf'.*one of", id="list-idf"),
    pytest.param(
        _set("analyzer", "stopwords", value=[1, 2]), r"'analyzer'.*stopwords", id="int-stopwords"
    ),
    pytest.param(
        _set("analyzer", "lowercase", value="yes"), r"'analyzer'.*lowercase", id="string-lowercase"
    ),
    pytest.param(
        _set("analyzer", "stemmer", value=["english"]), r"'analyzer'.*stemmer", id="list-stemmer"
    ),
    pytest.param(
        _set("analyzer", value={"name": "auto", "en": {"name": "auto"}, "zh": {}}),
        r"'analyzer'.*'en' part",
        id="nested-auto",
    ),
    pytest.param(
        _set("analyzer", value=["en"]), r"'analyzer'.*expected an object", id="analyzer-list"
    ),
    pytest.param(_set("extra", value=1), r"unexpected key.*extra", id="unknown-key"),
    pytest.param(
        _set("format_version", value=True), r"invalid format_version bool", id="bool-version"
    ),
]


@pytest.mark.parametrize(("change", "message"), HOSTILE)
def test_forged_fields_are_refused_naming_file_and_field(
    path: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    _forge(path, change)
    with pytest.raises(PersistenceError, match=rf"{path.name} .*{message}"):
        BM25SparseEmbeddings.load(path)
    instance = BM25SparseEmbeddings(analyzer="en")
    with pytest.raises(PersistenceError):
        instance.load(path)
    assert not instance.is_fitted  # a refused file leaves the instance as it was


def test_a_backtracking_pattern_is_refused_at_once(path: Path) -> None:
    # With the pattern compiled, one 32-character query took minutes.
    _forge(path, _set("analyzer", "token_pattern", value="(a+)+$"))
    start = time.perf_counter()
    with pytest.raises(PersistenceError, match="named patterns"):
        BM25SparseEmbeddings.load(path)
    assert time.perf_counter() - start < 5


def test_json_constants_nan_and_infinity_are_refused(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    payload = json.loads(text)
    payload["params"]["k1"] = float("nan")
    payload["checksum"] = checksum(payload)
    path.write_text(json.dumps(payload), encoding="utf-8")  # writes the bare NaN token
    assert '"k1": NaN' in path.read_text(encoding="utf-8")
    with pytest.raises(PersistenceError, match=r"'params\.k1'.*finite"):
        BM25SparseEmbeddings.load(path)


def test_files_over_the_size_limit_are_not_read(path: Path, tmp_path: Path) -> None:
    size = path.stat().st_size
    with pytest.raises(PersistenceError, match=rf"{path.name} is larger than.*max_bytes"):
        BM25SparseEmbeddings.load(path, max_bytes=size - 1)
    assert BM25SparseEmbeddings.load(path, max_bytes=size).is_fitted
    # 4 GiB that take no disk space: refused by size, never read into memory
    big = tmp_path / "big.json"
    with big.open("wb") as stream:
        stream.truncate(4 << 30)
    start = time.perf_counter()
    with pytest.raises(PersistenceError, match=r"big\.json is larger than the 1,073,741,824"):
        BM25SparseEmbeddings.load(big)
    assert time.perf_counter() - start < 5


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX-only")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "db.docs.sparse.json"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            BM25SparseEmbeddings.load(fifo)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # unblock the reader so the thread can end
        with fifo.open("w") as stream:
            stream.write("{}")
        pytest.fail("load() blocked on a FIFO")
    assert len(outcome) == 1
    assert isinstance(outcome[0], PersistenceError)
    assert "is not a regular file" in str(outcome[0])


def test_a_folder_and_binary_bytes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PersistenceError, match="not a regular file"):
        BM25SparseEmbeddings.load(tmp_path)
    binary = tmp_path / "state.json"
    binary.write_bytes(b"\xff\xfe{\x00}")
    with pytest.raises(PersistenceError, match=r"state\.json is not UTF-8"):
        BM25SparseEmbeddings.load(binary)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(PersistenceError, match=r"deep\.json"):
        BM25SparseEmbeddings.load(deep)


def test_token_patterns_are_a_fixed_named_set() -> None:
    assert EnglishAnalyzer(token_pattern="word2", stemmer=None)("a b cd") == ["cd"]
    assert EnglishAnalyzer(token_pattern=r"\w\w+", stemmer=None)("a b cd") == ["cd"]
    plain = {"stopwords": None, "stemmer": None}
    assert EnglishAnalyzer(token_pattern="nonspace", **plain)("x_1 y-2") == ["x_1", "y-2"]
    assert EnglishAnalyzer(token_pattern="alnum", **plain)("x_1 y-2") == ["x", "1", "y", "2"]
    with pytest.raises(ValueError, match=r"'\(a\+\)\+\$' is not one of.*register_analyzer"):
        EnglishAnalyzer(token_pattern="(a+)+$")
    assert set(TOKEN_PATTERNS) == {"word", "word2", "alnum", "nonspace"}


# ------------------------------------------------- files written by 0.1.0 still load


@pytest.mark.parametrize(
    ("name", "encoder"),
    [
        ("bm25_v1_auto.json", BM25SparseEmbeddings(k1=1.2, b=0.6, idf="okapi", epsilon=0.1)),
        (
            "bm25_v1_en.json",
            BM25SparseEmbeddings(analyzer=EnglishAnalyzer(stemmer=None, token_pattern=r"\w\w+")),
        ),
    ],
)
def test_files_saved_by_the_previous_release_load_unchanged(
    name: str, encoder: BM25SparseEmbeddings
) -> None:
    # Saved by langchain-embedkit 0.1.0 (before the checks on load), kept byte for byte.
    loaded = BM25SparseEmbeddings.load(DATA / name)
    if name.endswith("auto.json"):
        encoder.partial_fit(DOCS[:3]).partial_fit(DOCS[3:])
    else:
        encoder.fit(DOCS)
    assert loaded.vocabulary == encoder.vocabulary
    assert loaded.statistics() == encoder.statistics()
    assert loaded.encode_queries(QUERIES) == encoder.encode_queries(QUERIES)
    assert loaded.embed_documents(DOCS) == encoder.embed_documents(DOCS)


def test_state_after_removals_saves_as_version_2_and_loads(tmp_path: Path) -> None:
    encoder = BM25SparseEmbeddings(analyzer="en").fit(DOCS[:3])
    path = encoder.save(tmp_path / "v1.json")
    assert json.loads(path.read_text(encoding="utf-8"))["format_version"] == 1
    encoder.partial_unfit(DOCS[2:3])
    path = encoder.save(tmp_path / "v2.json")
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert payload["format_version"] == 2
    assert 0 in payload["df"]
    loaded = BM25SparseEmbeddings.load(path)
    assert loaded.statistics() == encoder.statistics()
    assert loaded.vocabulary == encoder.vocabulary


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document a value can be replaced."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for position, inner in enumerate(value[:3]):
            found += _paths(inner, (*prefix, position))
    return found


_SAVED = BM25SparseEmbeddings(analyzer=EnglishAnalyzer(stemmer=None)).fit(DOCS[:3]).to_dict()
_PLACES = [path for path in _paths(_SAVED) if path[0] != "checksum"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=st.sampled_from(_PLACES), value=_json)
def test_any_forged_value_loads_cleanly_or_raises_persistence_error(
    place: tuple[Any, ...], value: Any
) -> None:
    payload = json.loads(json.dumps(_SAVED))
    target = payload
    for key in place[:-1]:
        target = target[key]
    target[place[-1]] = value
    payload["checksum"] = checksum(payload)
    try:
        encoder = BM25SparseEmbeddings.from_dict(payload, source="forged.json")
    except PersistenceError as exc:
        assert "forged.json" in str(exc)
        return
    # Accepted: then it is a working encoder whose state is self-consistent.
    stats = encoder.statistics()
    assert 0 <= sum(stats.df.values()) <= stats.total_tokens
    if encoder.is_fitted:
        vector = encoder.embed_query("Turing research in London")
        assert all(np.isfinite(vector.values))
        assert all(0 <= i < encoder.dim for i in vector.indices)
