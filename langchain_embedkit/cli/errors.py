"""The one error type the command prints as a single line, and how other errors read."""

from __future__ import annotations

from langchain_embedkit.errors import EmbedKitError

__all__ = ["CLIError"]


class CLIError(EmbedKitError):
    """A user-facing error: printed as one line, the process exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (EmbedKitError, ValueError, ImportError, OSError)):
        return text
    return f"{type(exc).__name__}: {text} (run with --debug for the traceback)"
