"""BM25 change records: taken, applied, and refused when damaged."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from langchain_embedkit.errors import PersistenceError
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.sparse.bm25_delta import apply_delta, delta_since, take_snapshot

BASE = ["red apples and pears", "green apples", "blue sky over the sea"]


def change() -> tuple[BM25SparseEmbeddings, dict[str, Any]]:
    encoder = BM25SparseEmbeddings().fit(BASE)
    before = take_snapshot(encoder)
    encoder.partial_unfit(["green apples"]).partial_fit(["yellow bananas", "red sky"])
    return encoder, delta_since(encoder, before)


def test_a_record_turns_the_old_statistics_into_the_new_ones() -> None:
    changed, record = change()
    restored = BM25SparseEmbeddings().fit(BASE)
    apply_delta(restored, record, where="test")
    assert restored.statistics() == changed.statistics()
    assert dict(restored.vocabulary) == dict(changed.vocabulary)
    assert restored.embed_query("yellow sky") == changed.embed_query("yellow sky")


def test_a_record_is_the_size_of_the_change_not_of_the_vocabulary() -> None:
    encoder = BM25SparseEmbeddings().fit([f"doc{i} common word{i % 50}" for i in range(5000)])
    before = take_snapshot(encoder)
    encoder.partial_fit(["common word3 fresh"])
    record = delta_since(encoder, before)
    assert record["new"] == ["fresh"]
    assert len(record["ids"]) == 2  # common, word3
    assert record["n_docs"] == 1


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda r: r.update(dim=r["dim"] + 1), "dim"),
        (lambda r: r.update(new=[*r["new"], "red"]), "new"),
        (lambda r: r["df"].__setitem__(0, -100), "df"),
        (lambda r: r.update(ids=list(reversed(r["ids"]))), "ids"),
        (lambda r: r.update(n_docs=-50), "n_docs"),
        (lambda r: r.update(total_tokens="many"), "total_tokens"),
        (lambda r: r.pop("df"), "<record>"),
        (lambda r: r.update(new_df=[1.5] * len(r["new"])), "new_df"),
    ],
)
def test_a_damaged_record_is_refused_naming_the_field_and_changes_nothing(
    edit: Any, field: str
) -> None:
    _, record = change()
    bad = copy.deepcopy(record)
    edit(bad)
    encoder = BM25SparseEmbeddings().fit(BASE)
    before = encoder.statistics()
    with pytest.raises(PersistenceError, match=f"state.log line 2, field '{field}'"):
        apply_delta(encoder, bad, where="state.log line 2")
    assert encoder.statistics() == before
    assert encoder.dim == BM25SparseEmbeddings().fit(BASE).dim
