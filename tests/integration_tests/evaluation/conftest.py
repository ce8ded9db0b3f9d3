"""Session-wide: one packaged all-MiniLM-L6-v2, one embedding cache, one SciFact sample.

Every test here encodes through the same cache, so each corpus is encoded once per session.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from langchain_embedkit.evaluation import RetrievalDataset, load_beir


@pytest.fixture(scope="session")
def minilm() -> Embeddings:
    from langchain_embedkit.embeddings import DefaultEmbeddings

    return DefaultEmbeddings()


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Embedding cache shared by this session's tests."""
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(scope="session")
def scifact_sample(scifact_dir: Path) -> RetrievalDataset:
    """20 SciFact queries over 150 documents: every judged one plus random others."""
    return load_beir(scifact_dir).sample(20, corpus_size=150, seed=1)


@pytest.fixture(scope="session")
def sample_dir(scifact_sample: RetrievalDataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample written as a BEIR folder named ``sample``."""
    folder = tmp_path_factory.mktemp("data") / "sample"
    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for doc_id, text in scifact_sample.corpus.items():
            f.write(json.dumps({"_id": doc_id, "title": "", "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
        for qid, text in scifact_sample.queries.items():
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
    with open(folder / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, rels in scifact_sample.qrels.items():
            for doc_id, grade in rels.items():
                f.write(f"{qid}\t{doc_id}\t{grade}\n")
    return folder
