from __future__ import annotations

import datetime
import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_embedkit.vectorstores.ids import NAMESPACE, content_id, resolve_ids


def test_content_id_ignores_key_order_but_not_values_or_types() -> None:
    assert content_id("t", {"a": 1, "b": [1, 2]}) == content_id("t", {"b": [1, 2], "a": 1})
    assert content_id("t", {"a": 1}) != content_id("t", {"a": 2})
    assert content_id("t", {"a": 1}) != content_id("t", {"a": 1.0})
    assert content_id("t", {"a": 1}) != content_id("t", {"a": True})
    assert content_id("t") != content_id("t ")
    assert content_id("中文", {"k": "值"}) == content_id("中文", {"k": "值"})
    # the text/metadata boundary cannot be forged
    assert content_id("a", {}) != content_id("a\x00{}", {})


def test_content_id_is_stable_across_releases() -> None:
    # a changed id would make every stored document look new and re-ingest duplicate it
    assert content_id("hello", {"source": "a.txt"}) == "fcce54ea-42f7-5ecb-804a-3ebfa2fe20ee"


@given(
    st.text(alphabet=st.characters(exclude_categories=["Cs"])),
    st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3) | st.booleans()),
)
def test_content_id_is_the_uuid5_of_text_and_canonical_metadata(text: str, meta: dict) -> None:
    canonical = json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert content_id(text, meta) == str(uuid.uuid5(NAMESPACE, text + "\x00" + canonical))


def test_unjsonable_metadata_names_the_key() -> None:
    with pytest.raises(ValueError, match=r"'when'.*isoformat"):
        content_id("t", {"ok": 1, "when": datetime.date(2024, 1, 1)})


def test_resolve_ids_keeps_given_ids_and_derives_the_rest() -> None:
    ids, derived = resolve_ids(["a", "b", "c"], [{}, {}, {}], ["x", None, ""])
    assert ids[0] == "x" and derived == [False, True, True]
    assert ids[1] == content_id("b") and ids[2] == content_id("c")
    with pytest.raises(TypeError, match="strings"):
        resolve_ids(["a"], [{}], [3])  # type: ignore[list-item]
