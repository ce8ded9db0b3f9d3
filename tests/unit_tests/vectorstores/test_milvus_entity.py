"""How a row becomes a Milvus entity: metadata as JSON text, the size checks, without an engine.

The round trip through real engines is in
tests/integration_tests/vectorstores/test_milvus_engines.py.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from langchain_embedkit.types import SparseVector
from langchain_embedkit.vectorstores.backends.base import Row
from langchain_embedkit.vectorstores.backends.milvus_engine import (
    EMPTY_SPARSE,
    ID_MAX_LENGTH,
    entity,
    metadata_json,
)


def _row(id: str = "a", text: str = "t", metadata: dict[str, Any] | None = None) -> Row:
    return Row(id, text, metadata or {}, [0.5, 0.25])


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"z": 1, "a": 'é\n"q"', "m": -0.0, "big": 2**62, "f": 1e-300},
        {"nested": {"y": [1, 2.5, None, True, {"k": "v"}], "x": {}}, "t": (1, 2)},
    ],
)
def test_metadata_json_is_the_metadata_as_given(metadata: dict[str, Any]) -> None:
    text = metadata_json(metadata)
    back = json.loads(text)
    assert back == json.loads(json.dumps(metadata))  # tuples come back as lists, as before
    assert list(back) == list(metadata)  # keys keep the caller's order
    assert " " not in text.replace("é\\n", "")  # compact; UTF-8 kept, not \\u escapes
    assert "é" in text or "é" not in str(metadata)


@pytest.mark.parametrize(
    ("metadata", "named"),
    [
        ({1: "a"}, "Metadata key 1 at the top level is a int"),
        ({"a": {2: "b"}}, "Metadata key 2 at ['a'] is a int"),
        ({"a": [{"ok": 1}, {None: 1}]}, "Metadata key None at ['a'][1] is a NoneType"),
        ({"a": math.nan}, "Metadata key 'a' holds a value of type float (nan)"),
        ({"a": {"b": math.inf}}, "Metadata key 'a' holds a value of type dict"),
        ({"when": object()}, "Metadata key 'when' holds a value of type object"),
    ],
)
def test_metadata_json_refuses_what_json_cannot_hold_as_given(
    metadata: dict[Any, Any], named: str
) -> None:
    with pytest.raises(ValueError, match="Metadata key") as error:
        metadata_json(metadata)
    assert named in str(error.value)


def test_entity_carries_the_metadata_as_json_text() -> None:
    row = _row(metadata={"b": 1, "a": ["x"]})
    out = entity(row, 100, sparse_field=False)
    assert out == {"id": "a", "text": "t", "metadata": '{"b":1,"a":["x"]}', "dense": [0.5, 0.25]}
    assert row.metadata == {"b": 1, "a": ["x"]}  # the row is not changed


def test_entity_sparse_field_never_empty() -> None:
    out = entity(_row(), 100, sparse_field=True)
    assert out["sparse"] == EMPTY_SPARSE
    row = Row("a", "t", {}, [0.5], SparseVector.from_dict({3: 0.5}))
    assert entity(row, 100, sparse_field=True)["sparse"] == {3: 0.5}


def test_entity_counts_text_bytes_not_characters() -> None:
    limit = 40
    ascii_text = "x" * limit
    assert entity(_row(text=ascii_text), limit, sparse_field=False)["text"] == ascii_text
    wide = "中" * 14  # 14 characters, 42 UTF-8 bytes: within the limit in characters only
    with pytest.raises(ValueError, match=r"has 42 bytes of text.*text_max_length=40"):
        entity(_row(text=wide), limit, sparse_field=False)
    with pytest.raises(ValueError, match="has 41 bytes"):
        entity(_row(text="x" * 41), limit, sparse_field=False)
    assert entity(_row(text="中" * 13), limit, sparse_field=False)["text"] == "中" * 13


def test_entity_counts_id_bytes() -> None:
    assert entity(_row(id="i" * ID_MAX_LENGTH), 10, sparse_field=False)["id"] == "i" * ID_MAX_LENGTH
    wide = "é" * (ID_MAX_LENGTH // 2 + 1)  # fewer characters than the limit, more bytes
    with pytest.raises(ValueError, match=f"is {2 * len(wide)} bytes; Milvus ids hold at most"):
        entity(_row(id=wide), 10, sparse_field=False)
