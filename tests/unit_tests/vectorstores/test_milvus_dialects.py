"""Engine detection and the per-engine filter dialects, without an engine.

What each engine answers is checked against real engines in
tests/integration_tests/vectorstores/test_filters_engines.py; these pin the choices.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from langchain_embedkit.vectorstores._filters_milvus import LITE3, LITE25, SERVER23, SERVER24
from langchain_embedkit.vectorstores.backends.milvus_engine import (
    MilvusEngine,
    detect_engine,
    parse_version,
)
from langchain_embedkit.vectorstores.filters import to_milvus


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("v2.3.5-lite", (2, 3, 5)),
        ("2.4.13", (2, 4, 13)),
        ("v2.5", (2, 5, 0)),
        ("Zilliz Cloud Vector Database(Compatible with Milvus 2.5)", (2, 5, 0)),
        ("unknown", None),
        ("", None),
    ],
)
def test_parse_version(text: str, version: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == version


@pytest.mark.parametrize(
    ("version", "local", "base", "sparse", "flush"),
    [
        ((3, 2, 2), True, LITE3, True, True),
        ((2, 5, 1), True, LITE25, True, False),
        ((2, 4, 0), True, LITE25, True, False),
        ((2, 3, 5), False, SERVER23, False, False),
        ((2, 4, 0), False, SERVER23, True, False),
        ((2, 4, 3), False, SERVER24, True, False),
        ((2, 6, 1), False, SERVER24, True, False),
    ],
)
def test_capabilities_by_engine_and_version(
    version: tuple[int, int, int], local: bool, base: Any, sparse: bool, flush: bool
) -> None:
    engine = MilvusEngine.for_version(version, local=local)
    assert engine.dialect == base.named(engine.label)
    assert (engine.sparse_vectors, engine.native_hybrid) == (sparse, sparse)
    assert engine.flush_after_writes is flush
    assert engine.label.endswith(".".join(map(str, version)))


class _Client:
    def __init__(self, answer: str | Exception) -> None:
        self.answer = answer

    def get_server_version(self) -> str:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_detect_reads_the_server_version() -> None:
    engine = detect_engine(_Client("v2.3.5-lite"), local=False)
    assert engine.label == "Milvus server 2.3.5"
    assert not engine.sparse_vectors


def test_an_unreadable_server_version_falls_back_to_the_oldest_dialect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        engine = detect_engine(_Client(RuntimeError("UNIMPLEMENTED")), local=False)
    assert engine.version == (2, 3, 0) and not engine.sparse_vectors
    assert "Milvus 2.3 filter dialect" in caplog.text


def test_bools_get_their_number_spelling_where_the_engine_keeps_them_apart() -> None:
    assert to_milvus({"n": 1}) == 'metadata["n"] == 1'
    assert to_milvus({"n": True}, dialect=SERVER23) == (
        '(metadata["n"] == true or metadata["n"] == 1)'
    )
    assert to_milvus({"n": {"$gte": 0}}, dialect=SERVER23) == (
        '(metadata["n"] >= 0 or metadata["n"] == true or metadata["n"] == false)'
    )
    assert to_milvus({"n": {"$lt": -1}}, dialect=SERVER23) == 'metadata["n"] < -1'
    # '!=' is true on a missing key there, so no null check is needed (or parses)
    assert to_milvus({"n": {"$ne": 0}}, dialect=LITE25) == (
        '(metadata["n"] != 0 and metadata["n"] != false)'
    )


def test_refusals_name_the_operator_the_engine_and_the_version_that_has_it() -> None:
    server = MilvusEngine.for_version((2, 3, 5), local=False).dialect
    with pytest.raises(ValueError, match=r"'\$contains'.*Milvus server 2\.3\.5.*Milvus 2\.4\.3"):
        to_milvus({"$contains": "alpha"}, dialect=server)
    lite = MilvusEngine.for_version((2, 5, 1), local=True).dialect
    with pytest.raises(ValueError, match=r"'\$not' around '\$contains'.*milvus-lite 2\.5\.1"):
        to_milvus({"$not": {"$contains": "alpha"}}, dialect=lite)
    with pytest.raises(ValueError, match=r"line break.*milvus-lite 2\.5\.1.*milvus-lite 3\.2"):
        to_milvus({"a": "two\nlines"}, dialect=lite)
    newer = MilvusEngine.for_version((2, 5, 0), local=False).dialect
    assert to_milvus({"$contains": "alpha"}, dialect=newer) == 'text like "%alpha%"'
    with pytest.raises(ValueError, match=r"'%', '_' or '\\' must be escaped"):
        to_milvus({"$contains": "50%"}, dialect=newer)


def test_milvus_lite_25_keeps_tabs_raw_and_escapes_quotes() -> None:
    assert to_milvus({"a": 'x\t"\\'}, dialect=LITE25) == 'metadata["a"] == "x\t\\"\\\\"'
    assert to_milvus({"$contains": "50%"}, dialect=LITE25) == 'text like "%50\\\\%%"'
