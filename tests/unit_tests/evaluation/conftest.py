"""A tiny data set and a word-count embedding model whose rankings can be worked out by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from langchain_embedkit.evaluation.datasets import RetrievalDataset

VOCAB = ["paris", "france", "capital", "rome", "italy", "pasta", "tower", "river", "berlin"]


class WordCountEmbeddings(Embeddings):
    """One dimension per vocabulary word; counts how often each model call happens."""

    def __init__(self, vocab: list[str] | None = None, scale: float = 1.0) -> None:
        self.vocab = list(vocab or VOCAB)
        self.scale = scale
        self.document_calls = 0
        self.documents_encoded = 0
        self.query_calls = 0

    def _vector(self, text: str) -> list[float]:
        words = re.findall(r"\w+", text.lower())
        vec = [float(words.count(w)) * self.scale for w in self.vocab]
        return vec if any(vec) else [1e-3] * len(self.vocab)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.document_calls += 1
        self.documents_encoded += len(texts)
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.query_calls += 1
        return self._vector(text)


CORPUS = {
    "d1": "Paris is the capital of France",
    "d2": "Rome, capital of Italy: Rome",
    "d3": "Italy is known for pasta",
    "d4": "The Eiffel tower stands in Paris France",
    "d5": "Berlin lies on the river Spree",
}
QUERIES = {
    "q1": "capital of France",
    "q2": "pasta in Italy",
    "q3": "river in Berlin",
}
QRELS = {
    "q1": {"d1": 2, "d4": 1, "d2": 0},
    "q2": {"d3": 1},
    "q3": {"d5": 1},
}


@pytest.fixture
def tiny_dataset() -> RetrievalDataset:
    qrels = {q: dict(r) for q, r in QRELS.items()}
    return RetrievalDataset(dict(CORPUS), dict(QUERIES), qrels, "tiny")


@pytest.fixture
def embeddings() -> WordCountEmbeddings:
    return WordCountEmbeddings()


def write_beir(
    folder: Path,
    corpus: dict[str, tuple[str, str]],
    queries: dict[str, str],
    qrels: list[tuple[str, str, int]],
    split: str = "test",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for doc_id, (title, text) in corpus.items():
            row = {"_id": doc_id, "title": title, "text": text}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
        for qid, text in queries.items():
            f.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    (folder / "qrels").mkdir(exist_ok=True)
    with open(folder / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, doc_id, score in qrels:
            f.write(f"{qid}\t{doc_id}\t{score}\n")
    return folder


@pytest.fixture
def tiny_beir(tmp_path: Path) -> Path:
    corpus = {d: ("", t) for d, t in CORPUS.items()}
    qrels = [(q, d, g) for q, r in QRELS.items() for d, g in r.items()]
    return write_beir(tmp_path / "tiny", corpus, QUERIES, qrels)
