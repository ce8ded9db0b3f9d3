"""The ``embedkit`` command: ingest files, search them, ask questions, run the demo.

Everything heavy (torch, the model, the database client) is imported inside the
command handlers, so ``embedkit --help`` answers at once. Errors are printed as one
line that says what to do; ``--debug`` shows the traceback instead.

Example:
    .. code-block:: console

        $ embedkit ingest docs/ notes.md
        $ embedkit search "向量数据库如何检索？" --mode hybrid --k 5 --filter '{"lang": "zh"}'
        $ OPENAI_BASE_URL=http://localhost:11434/v1 embedkit ask "Who started AI research?" \\
              --model qwen2.5
        $ embedkit demo
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from langchain_embedkit.cli.chat import _DASHSCOPE_BASE_URL as _DASHSCOPE_BASE_URL
from langchain_embedkit.cli.chat import _DEFAULT_CHAT_MODELS as _DEFAULT_CHAT_MODELS
from langchain_embedkit.cli.chat import _NO_ENDPOINT as _NO_ENDPOINT
from langchain_embedkit.cli.chat import _chat_error as _chat_error
from langchain_embedkit.cli.chat import _chat_settings as _chat_settings
from langchain_embedkit.cli.chat import _cmd_ask as _cmd_ask
from langchain_embedkit.cli.commands import DEMO_QUERIES as DEMO_QUERIES
from langchain_embedkit.cli.commands import _check_k as _check_k
from langchain_embedkit.cli.commands import _cmd_demo as _cmd_demo
from langchain_embedkit.cli.commands import _cmd_info as _cmd_info
from langchain_embedkit.cli.commands import _cmd_ingest as _cmd_ingest
from langchain_embedkit.cli.commands import _cmd_search as _cmd_search
from langchain_embedkit.cli.commands import _ingest as _ingest
from langchain_embedkit.cli.commands import _make_reranker as _make_reranker
from langchain_embedkit.cli.commands import _parse_filter as _parse_filter
from langchain_embedkit.cli.commands import _retrieve as _retrieve
from langchain_embedkit.cli.errors import CLIError, _describe
from langchain_embedkit.cli.output import _clip as _clip
from langchain_embedkit.cli.output import _progress as _progress
from langchain_embedkit.cli.output import _results_table as _results_table
from langchain_embedkit.cli.output import _timing_line as _timing_line
from langchain_embedkit.cli.output import _width as _width
from langchain_embedkit.cli.output import format_table
from langchain_embedkit.cli.parser import _EVAL_HELP as _EVAL_HELP
from langchain_embedkit.cli.parser import MODES as MODES
from langchain_embedkit.cli.parser import _add_retrieval_options as _add_retrieval_options
from langchain_embedkit.cli.parser import _add_store_options as _add_store_options
from langchain_embedkit.cli.parser import build_parser
from langchain_embedkit.cli.session import Session as Session
from langchain_embedkit.cli.session import _embeddings_spec as _embeddings_spec
from langchain_embedkit.cli.session import _lazy_embeddings as _lazy_embeddings
from langchain_embedkit.cli.session import _slug as _slug
from langchain_embedkit.errors import EmbedKitError as EmbedKitError

__all__ = ["CLIError", "build_parser", "format_table", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``embedkit`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(eval_command="eval" in argv)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None) or getattr(args, "func", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        result = handler(args)
    except KeyboardInterrupt:
        print("embedkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`
        return 0
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        code = exc.exit_code if isinstance(exc, CLIError) else 1
        if type(exc).__name__ == "UsageError":  # from `embedkit eval`
            code = 2
        print(f"embedkit {args.command}: error: {_describe(exc)}", file=sys.stderr)
        return code
    return int(result or 0)
