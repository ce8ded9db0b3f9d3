"""BM25 on SciFact: langchain-embedkit vs bm25s (same tokens) vs rank_bm25.

Each run fits on the corpus (doc text = title + " " + text), encodes the queries and
takes the exact top-10. Ours: ``BM25SparseEmbeddings().fit`` -> ``embed_documents`` ->
``to_csr`` -> ``encode_queries`` -> ``sparse_top_k``. bm25s: ``bm25s.tokenize`` with the
same regex, stop words and stemmer -> ``BM25(method="lucene").index`` -> ``retrieve``.
rank_bm25 (what LangChain's ``BM25Retriever`` uses): ``BM25Okapi`` over our tokens,
``get_scores`` per query. Repetitions are interleaved in rotating order; medians are
reported. nDCG@10 is computed with and without Snowball stemming.

Usage: python benchmarks/bm25.py [--data DIR] [--repeats N] [--smoke]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.data import scifact_dir  # noqa: E402
from langchain_embedkit.evaluation import load_beir  # noqa: E402
from langchain_embedkit.evaluation.metrics import Qrels, evaluate_run  # noqa: E402
from langchain_embedkit.sparse.analyzers import (  # noqa: E402
    AutoAnalyzer,
    EnglishAnalyzer,
    load_stopwords,
)
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings  # noqa: E402
from langchain_embedkit.sparse.search import sparse_top_k, to_csr  # noqa: E402

Outcome = tuple[dict[str, float], list[list[int]]]
"""Timings in seconds and, per query, the top-10 document rows."""


def load(data: Path, smoke: bool) -> tuple[list[str], list[str], list[str], list[str], Qrels]:
    dataset = load_beir(data)
    doc_ids, query_ids = list(dataset.corpus), list(dataset.queries)
    if smoke:
        doc_ids, query_ids = doc_ids[:500], query_ids[:30]
    docs = [dataset.corpus[doc_id] for doc_id in doc_ids]
    queries = [dataset.queries[query_id] for query_id in query_ids]
    qrels = {query_id: dataset.qrels[query_id] for query_id in query_ids}
    return doc_ids, docs, query_ids, queries, qrels


def ndcg_at_10(
    results: list[list[int]], doc_ids: list[str], query_ids: list[str], qrels: Qrels
) -> float:
    """Mean nDCG@10 over ``query_ids`` (BEIR's definition, from ``evaluation.metrics``)."""
    run = {q: [doc_ids[row] for row in rows] for q, rows in zip(query_ids, results, strict=True)}
    means, _ = evaluate_run(qrels, run, k_values=(10,), metrics=("ndcg",))
    return means["nDCG@10"]


# ---------------------------------------------------------------- the three systems


def run_ours(docs: list[str], queries: list[str], stemmer: str | None) -> Outcome:
    start = time.perf_counter()
    encoder = BM25SparseEmbeddings(analyzer=AutoAnalyzer(en=EnglishAnalyzer(stemmer=stemmer)))
    encoder.fit(docs)
    matrix = to_csr(encoder.embed_documents(docs), dim=encoder.dim)
    indexed = time.perf_counter()
    found = sparse_top_k(encoder.encode_queries(queries), matrix, k=10)
    done = time.perf_counter()
    results = [[row for row, _ in hits] for hits in found]
    return {"index": indexed - start, "query": done - indexed, "total": done - start}, results


def run_bm25s(docs: list[str], queries: list[str], stemmer: str | None) -> Outcome:
    import bm25s
    import Stemmer

    options: dict[str, Any] = {
        "token_pattern": r"\w+",
        "stopwords": sorted(load_stopwords("en")),
        "stemmer": Stemmer.Stemmer(stemmer) if stemmer else None,
        "show_progress": False,
    }
    start = time.perf_counter()
    tokens = bm25s.tokenize(docs, **options)
    retriever = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    retriever.index(tokens, show_progress=False)
    indexed = time.perf_counter()
    query_tokens = bm25s.tokenize(queries, return_ids=False, **options)
    rows, _ = retriever.retrieve(query_tokens, k=10, show_progress=False)
    done = time.perf_counter()
    return {"index": indexed - start, "query": done - indexed, "total": done - start}, rows.tolist()


def prepare_rank_bm25(docs: list[str]) -> tuple[Any, Callable[[str], list[str]]]:
    from rank_bm25 import BM25Okapi

    analyzer = AutoAnalyzer()
    return BM25Okapi([analyzer(doc) for doc in docs]), analyzer


def run_rank_bm25(model: Any, analyzer: Callable[[str], list[str]], queries: list[str]) -> Outcome:
    start = time.perf_counter()
    results = []
    for query in queries:
        scores = model.get_scores(analyzer(query))
        top = np.argpartition(-scores, 10)[:10]
        results.append(top[np.argsort(-scores[top], kind="stable")].tolist())
    return {"query": time.perf_counter() - start}, results


# ---------------------------------------------------------------------- report


def row(
    metric: str, ours: float, peer: float, peer_name: str, goal: str, unit: str
) -> dict[str, Any]:
    ratio = ours / peer if peer else float("nan")
    return {
        "metric": metric,
        "ours": round(ours, 4),
        "peer": round(peer, 4),
        "peer_name": peer_name,
        "ratio": round(ratio, 4),
        "goal": goal,
        "unit": unit,
    }


def check_same_tokens(docs: list[str]) -> None:
    """Ours and bm25s must see the same tokens, or the comparison means nothing."""
    import bm25s
    import Stemmer

    sample = docs[:200]
    ours_tokens = [AutoAnalyzer()(doc) for doc in sample]
    peer_tokens = bm25s.tokenize(
        sample,
        token_pattern=r"\w+",
        stopwords=sorted(load_stopwords("en")),
        stemmer=Stemmer.Stemmer("english"),
        return_ids=False,
        show_progress=False,
    )
    assert [sorted(t) for t in ours_tokens] == [sorted(t) for t in peer_tokens], "tokens differ"


def timed_runs(
    systems: dict[str, Callable[[], Outcome]], repeats: int
) -> tuple[dict[str, list[dict[str, float]]], dict[str, list[list[int]]]]:
    """Each system ``repeats`` times, in rotating order; timings and the last results."""
    timings: dict[str, list[dict[str, float]]] = {name: [] for name in systems}
    last: dict[str, list[list[int]]] = {}
    names = list(systems)
    for repeat in range(repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in order:
            gc.collect()
            timing, results = systems[name]()
            timings[name].append(timing)
            last[name] = results
        print(f"run {repeat + 1}/{repeats} done", flush=True)
    return timings, last


def report_rows(
    n: int, seconds: Callable[[str, str], float], ndcg: dict[str, float]
) -> list[dict[str, Any]]:
    """The table: ours against each peer, times (median seconds) then nDCG@10."""
    bm25s_name, rank_name = "bm25s 0.3 (lucene, same tokens)", "rank_bm25 BM25Okapi (same tokens)"
    total = f"total time: fit + encode corpus + {n} queries + top-10"
    query = f"query time: encode {n} queries + exact top-10"
    stemmed = "nDCG@10, Snowball stemming (default)"
    return [
        row(total, seconds("ours", "total"), seconds("bm25s", "total"), bm25s_name, "<= 1.5", "s"),
        row(
            "index time: fit + encode corpus",
            seconds("ours", "index"),
            seconds("bm25s", "index"),
            bm25s_name,
            "",
            "s",
        ),
        row(query, seconds("ours", "query"), seconds("bm25s", "query"), bm25s_name, "", "s"),
        row(
            query,
            seconds("ours", "query"),
            seconds("rank_bm25", "query"),
            rank_name,
            "<= 0.05 (>= 20x faster)",
            "s",
        ),
        row(stemmed, ndcg["ours"], ndcg["bm25s"], bm25s_name, ">= 0.66", "nDCG@10"),
        row(
            "nDCG@10, no stemming",
            ndcg["ours_nostem"],
            ndcg["bm25s_nostem"],
            bm25s_name,
            ">= 0.66",
            "nDCG@10",
        ),
        row(stemmed, ndcg["ours"], ndcg["rank_bm25"], rank_name, ">= 0.66", "nDCG@10"),
    ]


def print_table(rows: list[dict[str, Any]]) -> None:
    print()
    print("| metric | ours | peer | peer name | ratio ours/peer | goal |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['metric']} | {r['ours']} {r['unit']} | {r['peer']} {r['unit']} | "
            f"{r['peer_name']} | {r['ratio']:.3f} | {r['goal'] or '-'} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=scifact_dir())
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timed runs")
    parser.add_argument("--smoke", action="store_true", help="500 docs, 30 queries, 1 run")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "bm25.json")
    args = parser.parse_args()
    repeats = 1 if args.smoke else args.repeats

    doc_ids, docs, query_ids, queries, qrels = load(args.data, args.smoke)
    print(
        f"SciFact: {len(docs)} docs, {len(queries)} queries; {repeats} interleaved runs; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        flush=True,
    )

    # untimed warm-up: imports (scipy, Stemmer, bm25s), and the token check
    _, ours_results = run_ours(docs, queries, "english")
    _, peer_results = run_bm25s(docs, queries, "english")
    check_same_tokens(docs)
    rank_model, rank_analyzer = prepare_rank_bm25(docs)
    timings, last = timed_runs(
        {
            "ours": lambda: run_ours(docs, queries, "english"),
            "bm25s": lambda: run_bm25s(docs, queries, "english"),
            "rank_bm25": lambda: run_rank_bm25(rank_model, rank_analyzer, queries),
        },
        repeats,
    )

    def ndcg(results: list[list[int]]) -> float:
        return ndcg_at_10(results, doc_ids, query_ids, qrels)

    def median(name: str, key: str) -> float:
        return statistics.median(t[key] for t in timings[name])

    rows = report_rows(
        len(queries),
        median,
        {
            "ours": ndcg(ours_results),
            "bm25s": ndcg(peer_results),
            "ours_nostem": ndcg(run_ours(docs, queries, None)[1]),
            "bm25s_nostem": ndcg(run_bm25s(docs, queries, None)[1]),
            "rank_bm25": ndcg(last["rank_bm25"]),
        },
    )
    print_table(rows)
    if args.smoke:
        print("\n(smoke run: 500 documents; figures are not comparable with the full run)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
