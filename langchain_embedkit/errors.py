"""Errors raised by langchain-embedkit.

Every error says what failed, the value received, the valid options and the fix.
They subclass the built-in error a caller would already catch (``ValueError``,
``RuntimeError``) so existing ``except`` clauses keep working.
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "CLIError",
    "DimensionMismatchError",
    "EmbedKitError",
    "EmbeddingAPIError",
    "LoaderError",
    "ModelNotFoundError",
    "NotFittedError",
    "PersistenceError",
    "RerankAPIError",
    "StoreLockedError",
    "UsageError",
]


class EmbedKitError(Exception):
    """Base class of every error this package raises on purpose."""


class NotFittedError(EmbedKitError, RuntimeError):
    """A sparse encoder was used before ``fit`` or ``load``."""


class DimensionMismatchError(EmbedKitError, ValueError):
    """Vectors of one size were given to a collection built for another."""


class PersistenceError(EmbedKitError, ValueError):
    """A saved file is missing, truncated, edited or from a newer format version."""


class StoreLockedError(EmbedKitError, RuntimeError):
    """Another process holds the local database file open."""


class ModelNotFoundError(EmbedKitError, FileNotFoundError):
    """A model path does not exist, holds no model, or a hub id is not available offline.

    The message names the path or id and how to get a model. It is a ``FileNotFoundError``,
    so existing ``except OSError`` clauses still catch it.

    Example:
        >>> from langchain_embedkit.embeddings import BGEEmbeddings
        >>> try:
        ...     BGEEmbeddings(model_name="/no/such/bge-small-zh")
        ... except ModelNotFoundError as exc:
        ...     print(str(exc)[:50])
        Model path '/no/such/bge-small-zh' does not exist.
    """


class LoaderError(EmbedKitError, ValueError):
    """A file could not be read as text: missing, empty, binary, refused or malformed."""


class UsageError(EmbedKitError, ValueError):
    """A command-line value that cannot work (``embedkit`` exits with code 2)."""


class CLIError(EmbedKitError):
    """A user-facing error: printed as one line, the process exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class APIError(EmbedKitError, RuntimeError):
    """A remote API failed after its retries, or answered something unusable.

    The message names the server URL, the batch and what went wrong; it never contains a
    key, and the underlying HTTP request is not attached (``__cause__`` and
    ``__context__`` are ``None``).

    Attributes:
        status_code: HTTP status of the last answer, or None (timeout, connection error,
            an HTTP 200 whose body was refused).

    Example:
        >>> error = APIError("rate-limited (HTTP 429)", status_code=429)
        >>> error.status_code, isinstance(error, RuntimeError)
        (429, True)
    """

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class EmbeddingAPIError(APIError):
    """An embeddings request failed after its retries, or the server answered nonsense.

    Example:
        >>> error = EmbeddingAPIError("rate-limited (HTTP 429)", status_code=429)
        >>> error.status_code, isinstance(error, APIError)
        (429, True)
    """


class RerankAPIError(APIError):
    """A rerank API answered with an error, an unexpected body, or not at all."""
