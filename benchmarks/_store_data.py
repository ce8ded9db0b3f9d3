"""Data and exact references for ``benchmarks/store.py`` and ``benchmarks/milvus_engines.py``.

A module, not a benchmark: ``run_all`` skips names that start with ``_``.

Synthetic rows (random unit vectors with Zipf-distributed words and metadata) or SciFact's texts
with random vectors, an ``Embeddings`` that looks precomputed vectors up, and the exact numpy
searches the engines are compared with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from langchain_embedkit.fusion import rrf

# -- data ---------------------------------------------------------------------------------


class Precomputed(Embeddings):
    """Looks vectors up instead of computing them: texts start with ``"<row> "``."""

    def __init__(self, docs: np.ndarray, queries: dict[str, np.ndarray]) -> None:
        self.docs = docs
        self.queries = queries

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        rows = [int(t.split(" ", 1)[0]) for t in texts]
        return self.docs[rows].tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.queries[text].tolist()


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def synthetic(n: int, dim: int, nq: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(5000)]
    words = rng.zipf(1.3, size=(n, 12)) % len(vocab)
    texts = [f"{i} " + " ".join(vocab[w] for w in row) for i, row in enumerate(words)]
    metas = [{"n": i, "group": ["a", "b", "c", "d"][i % 4], "ok": i % 2 == 0} for i in range(n)]
    x = unit(rng, n, dim)
    picks = rng.choice(n, size=nq, replace=False)
    qvec = x[picks] + 0.3 * unit(rng, nq, dim)
    qvec /= np.linalg.norm(qvec, axis=1, keepdims=True)
    qtexts = [" ".join(vocab[w] for w in words[p][:3]) + f" q{j}" for j, p in enumerate(picks)]
    return {"texts": texts, "metas": metas, "x": x, "qtexts": qtexts, "q": qvec}


def beir(folder: Path, dim: int, nq: int, seed: int = 1) -> dict[str, Any]:
    from langchain_embedkit.evaluation import load_beir

    rng = np.random.default_rng(seed)
    dataset = load_beir(folder)
    queries = list(dataset.queries.values())[:nq]
    return {
        "texts": [f"{i} {text}" for i, text in enumerate(dataset.corpus.values())],
        "metas": [{"doc_id": doc_id, "n": i} for i, doc_id in enumerate(dataset.corpus)],
        "x": unit(rng, len(dataset.corpus), dim),
        "qtexts": [f"{text} #{j}" for j, text in enumerate(queries)],
        "q": unit(rng, len(queries), dim),
    }


# -- exact references -------------------------------------------------------------------------


def numpy_dense(x: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    scores = x @ q
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])].tolist()


def numpy_hybrid(x: np.ndarray, csr: Any, q: np.ndarray, sq: Any, k: int, fetch: int) -> list[str]:
    dense = numpy_dense(x, q, fetch)
    legs = [[(str(i), 0.0) for i in dense]]
    if len(sq):
        col = np.zeros(csr.shape[1], dtype=np.float32)
        idx = np.asarray(sq.indices)
        keep = idx < csr.shape[1]
        col[idx[keep]] = np.asarray(sq.values, dtype=np.float32)[keep]
        sparse_scores = csr @ col
        hit = np.flatnonzero(sparse_scores)
        order = hit[np.argsort(-sparse_scores[hit])][:fetch]
        legs.append([(str(i), 0.0) for i in order])
    return [d for d, _ in rrf(legs, k=60)[:k]]
