"""The ``embedkit`` argument parser: the sub-commands and their options."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from langchain_embedkit.cli.chat import _cmd_ask
from langchain_embedkit.cli.commands import _cmd_demo, _cmd_info, _cmd_ingest, _cmd_search

__all__ = ["MODES", "build_parser"]

MODES = ("dense", "sparse", "hybrid")
_EVAL_HELP = "Compare embedding models and retrieval modes on your own data."


def build_parser(*, eval_command: bool = True) -> argparse.ArgumentParser:
    """The ``embedkit`` argument parser.

    Args:
        eval_command: Register the real ``eval`` sub-command (imports the evaluation
            package); ``False`` lists it in the help only.
    """
    parser = argparse.ArgumentParser(
        prog="embedkit",
        description="Ingest files into a local vector store and search them "
        "(dense, BM25 or hybrid), ask questions with cited sources, evaluate retrieval.",
        epilog="Store options may also follow the command: `embedkit search q --store chroma`.",
    )
    _add_store_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    def command(name: str, help: str, handler: Callable[[argparse.Namespace], int]) -> Any:
        sub = commands.add_parser(name, help=help, description=help)
        _add_store_options(sub, suppress=True)
        sub.set_defaults(handler=handler)
        return sub

    ingest = command(
        "ingest", "Read .txt/.md/.jsonl/.json/.pdf files or folders into the store.", _cmd_ingest
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    ingest.add_argument(
        "--chunk-size", type=int, default=None, help="estimated word pieces per chunk (default 200)"
    )
    ingest.add_argument(
        "--chunk-overlap",
        type=int,
        default=None,
        help="estimated word pieces shared by neighbouring chunks (default 30)",
    )
    ingest.add_argument(
        "--follow-links",
        action="store_true",
        help="also read files that links in the folders lead to outside them (default: skip)",
    )
    ingest.add_argument(
        "--max-file-size",
        type=_size,
        default=None,
        metavar="SIZE",
        help="skip files larger than this, e.g. 200MB or 1GB (default 50MB)",
    )

    search = command("search", "Search the store and print a ranked table.", _cmd_search)
    search.add_argument("query", metavar="QUERY")
    _add_retrieval_options(search)
    search.add_argument("--json", action="store_true", help="print JSON instead of a table")

    ask = command(
        "ask", "Answer a question from the store with an OpenAI-compatible chat model.", _cmd_ask
    )
    ask.add_argument("question", metavar="QUESTION")
    _add_retrieval_options(ask)
    ask.add_argument(
        "--base-url",
        default=None,
        help="chat endpoint (env OPENAI_BASE_URL), e.g. http://localhost:11434/v1",
    )
    ask.add_argument("--model", default=None, help="chat model name (env EMBEDKIT_CHAT_MODEL)")
    ask.add_argument("--timeout", type=float, default=120.0, help="seconds per chat request")

    command("info", "Show the store location, collection, counts and models.", _cmd_info)
    demo = command(
        "demo", "Ingest the bundled sample corpus into a temporary store and search it.", _cmd_demo
    )
    demo.add_argument("--k", type=int, default=3, help="results per query (default 3)")

    if not eval_command:
        # Importing the evaluation package costs a second; `embedkit --help` must not wait.
        commands.add_parser("eval", help=_EVAL_HELP, add_help=False)
        return parser
    try:
        from langchain_embedkit.evaluation.command import add_parser
    except ImportError:  # pragma: no cover - a trimmed installation
        return parser
    add_parser(commands)
    return parser


def _add_store_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # On sub-commands the defaults are suppressed so that a value given before the
    # command is not overwritten by the sub-parser's default.
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("store options")
    group.add_argument(
        "--store",
        choices=("milvus", "chroma"),
        default=default("milvus"),
        help="vector database (default milvus: a Milvus Lite file)",
    )
    group.add_argument(
        "--uri",
        default=default("./embedkit.db"),
        help="Milvus Lite file or server URL such as http://localhost:19530 "
        "(token from env MILVUS_TOKEN); default ./embedkit.db",
    )
    group.add_argument(
        "--persist-directory", default=default(None), help="Chroma folder (default ./chroma_data)"
    )
    group.add_argument("--host", default=default(None), help="Chroma server host")
    group.add_argument("--port", type=int, default=default(8000), help="Chroma server port")
    group.add_argument(
        "--collection", default=default("embedkit"), help="collection name (default embedkit)"
    )
    group.add_argument(
        "--embeddings",
        default=default("default"),
        help="dense model: default, default:PATH, bge:PATH, qwen3:PATH or "
        "openai:MODEL (default: the packaged all-MiniLM-L6-v2)",
    )
    group.add_argument(
        "--no-progress", action="store_true", default=default(False), help="hide progress bars"
    )
    group.add_argument(
        "--debug", action="store_true", default=default(False), help="show tracebacks"
    )


def _add_retrieval_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="hybrid",
        help="dense vectors, BM25, or both fused with RRF (default hybrid)",
    )
    parser.add_argument("--k", type=int, default=None, help="number of passages (default 5)")
    parser.add_argument(
        "--filter",
        default=None,
        metavar="JSON",
        help='metadata filter, e.g. \'{"lang": "zh"}\' or \'{"year": {"$gte": 2017}}\'',
    )
    parser.add_argument(
        "--rerank",
        default=None,
        metavar="MODEL",
        help="cross-encoder folder (or cached model id) to rerank candidates",
    )


def _size(text: str) -> int:
    from langchain_embedkit.files import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
