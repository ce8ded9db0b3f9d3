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

from langchain_embedkit.cli.errors import CLIError, _describe
from langchain_embedkit.cli.parser import build_parser
from langchain_embedkit.errors import UsageError

__all__ = ["main"]


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
        code = _exit_code(exc)
        print(f"embedkit {args.command}: error: {_describe(exc)}", file=sys.stderr)
        return code
    return int(result or 0)


def _exit_code(exc: Exception) -> int:
    """The ``CLIError``'s own code, 2 for a bad ``--embeddings``/``eval`` value, else 1."""
    if isinstance(exc, CLIError):
        return exc.exit_code
    if isinstance(exc, UsageError):
        return 2
    return 1
