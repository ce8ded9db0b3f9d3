"""``embedkit eval``: compare embedding models and retrieval modes on your own data.

Registered on the ``embedkit`` command through :func:`add_parser`; also runs alone::

    python -m langchain_embedkit.evaluation.command benchmarks/data/scifact --limit 50

Argument parsing imports nothing heavy; models load when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_embedkit.embeddings.factory import check_model_path as _check_model_path
from langchain_embedkit.embeddings.factory import make_embeddings, parse_embeddings
from langchain_embedkit.errors import UsageError
from langchain_embedkit.sparse.analyzers import BUILTIN_ANALYZERS

if TYPE_CHECKING:
    from langchain_embedkit.evaluation.datasets import RetrievalDataset

__all__ = ["add_parser", "build_parser", "main", "run"]

DESCRIPTION = (
    "Evaluate embedding models and retrieval modes (dense, sparse, hybrid, hybrid+rerank) "
    "on a BEIR folder or a CSV/JSONL of questions with their relevant passages, and print "
    "nDCG, Recall, MRR, MAP and hit rate at k."
)
EPILOG = """examples:
  embedkit eval benchmarks/data/scifact --limit 50
  embedkit eval ./beir/fiqa --embeddings default,bge:./models/bge-small-en-v1.5 --output report
  embedkit eval questions.csv --corpus passages.jsonl \\
      --embeddings default,openai:text-embedding-3-small
  embedkit eval qa.jsonl --modes dense,hybrid,hybrid+rerank --rerank ./models/bge-reranker-base

--embeddings takes comma-separated specs: default (the packaged all-MiniLM-L6-v2),
default:PATH (any sentence-transformers model), bge:PATH, qwen3:PATH, openai:MODEL
(key and base URL from OPENAI_API_KEY / OPENAI_BASE_URL or DASHSCOPE_API_KEY).
Corpus embeddings are cached on disk (--cache-dir), so a second run does not encode again.
"""


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dataset",
        metavar="DATASET",
        help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) or a .csv/.jsonl "
        "file of questions with relevant_ids or relevant_texts",
    )
    parser.add_argument(
        "--embeddings",
        default="default",
        help="comma-separated models: default, default:PATH, bge:PATH, qwen3:PATH, "
        "openai:MODEL (default: default)",
    )
    parser.add_argument(
        "--modes",
        default="dense,sparse,hybrid",
        help="comma-separated: dense, sparse, hybrid, hybrid+rerank (default dense,sparse,hybrid)",
    )
    parser.add_argument("--k", type=int, default=10, help="cut-off for the metrics (default 10)")
    parser.add_argument(
        "--output",
        metavar="DIR",
        default=None,
        help="write results.json, results.md and results.png into DIR",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        metavar="N",
        help="evaluate N queries drawn deterministically (--seed); the corpus stays whole",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for --limit (default 0)")
    parser.add_argument(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="embedding cache (default $EMBEDKIT_CACHE_DIR/embeddings, "
        "$EMBEDKIT_CACHE_DIR defaulting to ~/.cache/langchain-embedkit)",
    )
    parser.add_argument("--no-cache", action="store_true", help="encode without the cache")
    parser.add_argument("--split", default="test", help="BEIR qrels split (default test)")
    parser.add_argument(
        "--corpus",
        default=None,
        metavar="FILE",
        help="corpus for a question file that names passages by id (.jsonl or .csv with id, text)",
    )
    parser.add_argument(
        "--rerank",
        default=None,
        metavar="MODEL",
        help="cross-encoder model path or name for the hybrid+rerank mode (added to --modes)",
    )
    parser.add_argument(
        "--analyzer",
        default="auto",
        choices=BUILTIN_ANALYZERS,
        help="BM25 analyzer for the sparse and hybrid modes (default auto: Chinese and English)",
    )
    parser.add_argument(
        "--fetch-k",
        type=int,
        default=100,
        help="documents per leg handed to hybrid fusion (default 100)",
    )
    parser.add_argument(
        "--rerank-depth",
        type=int,
        default=100,
        help="fused documents the reranker sees (default 100)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_parser(subparsers: Any) -> None:
    """Register ``eval`` on an ``argparse`` subparsers object, with :func:`run` as handler.

    The handler is stored as ``handler`` (and ``func``) in the parsed namespace.
    """
    sub = subparsers.add_parser(
        "eval",
        help="Compare embedding models and retrieval modes on your own data.",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(sub)
    sub.set_defaults(handler=run, func=run)


def build_parser() -> argparse.ArgumentParser:
    """The stand-alone parser (``python -m langchain_embedkit.evaluation.command``)."""
    parser = argparse.ArgumentParser(
        prog="embedkit eval",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _modes(args: argparse.Namespace) -> list[str]:
    from langchain_embedkit.evaluation.runner import MODES

    modes = [m.strip().lower() for m in args.modes.split(",") if m.strip()]
    for mode in modes:
        if mode not in MODES:
            msg = f"Unknown mode {mode!r} in --modes; supported: {', '.join(MODES)}."
            raise UsageError(msg)
    if args.rerank and "hybrid+rerank" not in modes:
        modes.append("hybrid+rerank")
    if "hybrid+rerank" in modes and not args.rerank:
        msg = "Mode hybrid+rerank needs --rerank MODEL (a cross-encoder path or name)."
        raise UsageError(msg)
    if not modes:
        msg = f"--modes is empty; choose from {', '.join(MODES)}."
        raise UsageError(msg)
    return modes


def run(args: argparse.Namespace) -> int:
    """Handler of ``embedkit eval``: load, compare, print, and write the report."""
    from langchain_embedkit.evaluation.runner import compare

    modes, specs = _checked_arguments(args)
    progress = not args.no_progress
    dataset = _load_dataset(args)
    embeddings = {label: make_embeddings(family, target) for label, family, target in specs}
    sparse = None
    if any(m != "dense" for m in modes):
        from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings

        sparse = BM25SparseEmbeddings(analyzer=args.analyzer, show_progress_bar=progress)
    reranker = None
    if args.rerank:
        from langchain_embedkit.rerankers.cross_encoder import CrossEncoderReranker

        reranker = CrossEncoderReranker(model_name=args.rerank)
    result = compare(
        embeddings,
        dataset,
        modes=modes,
        k=args.k,
        sparse=sparse,
        reranker=reranker,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        fetch_k=args.fetch_k,
        rerank_depth=args.rerank_depth,
        show_progress_bar=progress,
    )
    if args.limit is not None:
        result.settings["limit"] = args.limit
        result.settings["seed"] = args.seed
    print(result.table())
    if args.output:
        paths = result.save(args.output)
        for kind, path in paths.items():
            print(f"wrote {kind}: {path}", file=sys.stderr)
    return 0


def _checked_arguments(args: argparse.Namespace) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The modes and ``(label, family, target)`` model specs, after every up-front check.

    Raises:
        UsageError: A bad number, no model where one is needed, or a model path that
            does not exist; nothing has been loaded yet.
    """
    for name in ("k", "fetch_k", "rerank_depth"):
        if getattr(args, name) < 1:
            msg = f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}."
            raise UsageError(msg)
    if args.limit is not None and args.limit < 1:
        msg = f"--limit must be >= 1; got {args.limit}."
        raise UsageError(msg)
    modes = _modes(args)
    needs_dense = any(m != "sparse" for m in modes)
    specs = parse_embeddings(args.embeddings) if needs_dense else []
    if needs_dense and not specs:
        msg = "--embeddings is empty; give at least one model, e.g. --embeddings default."
        raise UsageError(msg)
    for _, family, target in specs:
        if family != "openai" and target:
            _check_model_path(target)
    if args.rerank:
        _check_model_path(args.rerank)
    return modes, specs


def _load_dataset(args: argparse.Namespace) -> RetrievalDataset:
    """The data set of ``args``, sampled down to ``--limit`` queries; says what it read."""
    from langchain_embedkit.evaluation.datasets import load_dataset

    dataset = load_dataset(args.dataset, split=args.split, corpus=args.corpus)
    total = len(dataset)
    if args.limit is not None:
        dataset = dataset.sample(args.limit, seed=args.seed)
    print(
        f"Data set {dataset.name}: {len(dataset.corpus):,} documents, {len(dataset):,} "
        f"queries" + (f" (sample of {total:,}, seed {args.seed})" if len(dataset) < total else ""),
        file=sys.stderr,
    )
    return dataset


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``embedkit eval`` on its own; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("embedkit eval: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        code = 2 if isinstance(exc, UsageError) else 1
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"embedkit eval: error: {text}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
