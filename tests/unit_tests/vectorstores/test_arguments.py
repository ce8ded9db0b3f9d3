from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from langchain_embedkit.vectorstores.arguments import (
    check_collection_name,
    check_filter,
    check_ids,
    check_k,
    choose_backend,
    search_filter,
    translate_where_document,
    write_items,
)
from langchain_embedkit.vectorstores.filters import matches


def test_check_k() -> None:
    assert check_k(3) == 3
    assert check_k(np.int64(5)) == 5
    for bad in ("3", 2.0, None, True, [1]):
        with pytest.raises(TypeError, match="k must be a positive integer"):
            check_k(bad)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            check_k(bad)
    with pytest.raises(ValueError, match="fetch_k"):
        check_k(0, "fetch_k")


def test_check_ids_refuses_one_string() -> None:
    assert check_ids(("a", "b")) == ["a", "b"]
    with pytest.raises(TypeError, match=r"ids=\['abc'\]"):
        check_ids("abc")
    with pytest.raises(TypeError, match=r"ids\[1\] is int"):
        check_ids(["a", 2])
    with pytest.raises(TypeError, match="list of string ids"):
        check_ids(5)


@pytest.mark.parametrize("bad", [[], "", 0, False, ["a"], ("x", 1)])
def test_check_filter_refuses_what_is_not_a_dict(bad: Any) -> None:
    with pytest.raises(TypeError, match="filter must be a dict"):
        check_filter(bad)


def test_where_and_where_document_translate_faithfully() -> None:
    where = {"$or": [{"lang": "en"}, {"year": {"$gte": 2020}}]}
    document = {"$and": [{"$contains": "BM25"}, {"$not_contains": "draft"}]}
    combined = search_filter({"n": 1}, {"where": where, "where_document": document}, "f")
    rows = [
        ({"lang": "en", "n": 1}, "BM25 final", True),
        ({"lang": "en", "n": 1}, "BM25 draft", False),
        ({"lang": "fr", "year": 2021, "n": 1}, "uses BM25", True),
        ({"lang": "fr", "year": 2019, "n": 1}, "uses BM25", False),
        ({"lang": "en", "n": 2}, "BM25", False),
    ]
    for metadata, text, expected in rows:
        assert matches(combined, metadata, text) is expected
    assert search_filter(None, {"where": {"a": 1}}, "f") == {"a": 1}
    assert search_filter(None, {}, "f") is None


def test_foreign_keywords_are_refused_naming_filter() -> None:
    for key in ("expr", "filter_expr", "param", "pre_filter"):
        with pytest.raises(ValueError, match="filter="):
            search_filter(None, {key: "x"}, "similarity_search")
    with pytest.raises(TypeError, match="unexpected keyword argument 'wehre'"):
        search_filter(None, {"wehre": {"a": 1}}, "similarity_search")
    with pytest.raises(ValueError, match=r"\$contains"):
        search_filter(None, {"where": {"tags": {"$contains": "x"}}}, "f")
    with pytest.raises(ValueError, match=r"\$regex"):
        translate_where_document({"$regex": "a.*"})
    assert search_filter(None, {"k": 3}, "f", allowed=("k",)) is None


def test_backend_choice_and_collection_names() -> None:
    assert choose_backend(None, None, None) == "milvus"
    assert choose_backend(None, "./x", None) == "chroma"
    assert choose_backend(None, None, "localhost") == "chroma"
    with pytest.raises(ValueError, match="persist_directory"):
        choose_backend("milvus", "./x", None)
    with pytest.raises(ValueError, match="'redis'"):
        choose_backend("redis", None, None)
    check_collection_name("docs", "milvus", "./embedkit.db", None)
    with pytest.raises(ValueError, match="at most 128"):
        check_collection_name("n" * 300, "chroma", "./embedkit.db", "./x")
    with pytest.raises(ValueError, match="non-empty"):
        check_collection_name("", "chroma", "./embedkit.db", "./x")


def test_write_items_checks_lengths_before_anything() -> None:
    items, total = write_items("add_texts", iter(["a", "b"]), None, None, None)
    assert total is None and list(items) == [("a", None, None, None), ("b", None, None, None)]
    items, total = write_items("add_texts", ["a", "b"], [{"n": 1}, None], ["x", None], None)
    assert total == 2 and next(iter(items)) == ("a", {"n": 1}, "x", None)
    with pytest.raises(ValueError, match="3 texts, 2 metadatas"):
        write_items("add_texts", iter("abc"), iter([{}, {}]), None, None)
    with pytest.raises(ValueError, match="2 embeddings"):
        write_items("add_embeddings", ["a"], None, None, [[0.0], [1.0]])
    with pytest.raises(TypeError, match="one str"):
        write_items("add_texts", "abc", None, None, None)
    with pytest.raises(TypeError, match="one dict"):
        write_items("add_texts", ["a"], {"n": 1}, None, None)  # type: ignore[arg-type]
