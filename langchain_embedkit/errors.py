"""Errors raised by langchain-embedkit.

Every error says what failed, the value received, the valid options and the fix.
They subclass the built-in error a caller would already catch (``ValueError``,
``RuntimeError``) so existing ``except`` clauses keep working.
"""

from __future__ import annotations

__all__ = [
    "DimensionMismatchError",
    "EmbedKitError",
    "NotFittedError",
    "PersistenceError",
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
