"""The one error type the command prints as a single line, and how other errors read."""

from __future__ import annotations

from langchain_embedkit.errors import CLIError, EmbedKitError

__all__ = ["CLIError"]


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (EmbedKitError, ValueError, ImportError, OSError)):
        return text
    return f"{type(exc).__name__}: {text} (run with --debug for the traceback)"
