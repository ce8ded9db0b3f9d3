"""A small slice of SciFact (doc text = title + " " + text), read once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_embedkit.evaluation import load_beir


@pytest.fixture(scope="session")
def scifact_sample(scifact_dir: Path) -> tuple[list[str], list[str]]:
    """The first 400 documents and first 40 queries of SciFact."""
    dataset = load_beir(scifact_dir)
    doc_ids = list(dataset.corpus)[:400]
    docs = [dataset.corpus[doc_id] for doc_id in doc_ids]
    queries = list(dataset.queries.values())[:40]
    # titles of sampled documents guarantee queries with many matches
    return docs, queries + [dataset.titles[doc_id] for doc_id in doc_ids[:20]]
