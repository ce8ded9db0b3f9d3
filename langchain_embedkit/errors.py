"""Errors raised by langchain-embedkit.

Every error says what failed, the value received, the valid options and the fix.
They subclass the built-in error a caller would already catch (``ValueError``,
``RuntimeError``) so existing ``except`` clauses keep working.
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "DimensionMismatchError",
    "EmbedKitError",
    "EmbeddingAPIError",
    "NotFittedError",
    "PersistenceError",
    "RerankAPIError",
    "StoreLockedError",
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
