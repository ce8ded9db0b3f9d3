"""Checks on what callers pass to ``embed_documents`` / ``embed_query``, shared by every class."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["check_query", "check_texts"]


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} ({text})"


def check_texts(texts: Any, *, method: str = "embed_documents") -> list[str]:
    """Return ``texts`` as a list of str or raise a TypeError that names the bad item.

    Args:
        texts: What the caller passed: a list (or any non-string iterable) of strings.
        method: The public method name, used in error messages.

    Raises:
        TypeError: ``texts`` is None, a single string, not iterable, or holds a non-string
            item (the message names its index).

    Example:
        >>> check_texts(("a", "b"))
        ['a', 'b']
    """
    if texts is None:
        msg = (
            f"{method}() received None; expected a list of strings. "
            f"Pass [] for no texts, e.g. {method}([])."
        )
        raise TypeError(msg)
    if isinstance(texts, (str, bytes)):
        msg = (
            f"{method}() received a single {_describe(texts)}; "
            f"expected a list of strings. Wrap it: {method}([text]), or use embed_query(text)."
        )
        raise TypeError(msg)
    if not isinstance(texts, Iterable) or isinstance(texts, dict):
        msg = f"{method}() expected a list of strings, got {_describe(texts)}."
        raise TypeError(msg)
    items = list(texts)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            hint = (
                " Drop missing texts or replace them with a string first."
                if item is None
                else " Convert it with str() or drop it."
            )
            msg = f"{method}() expects strings only, but item {index} is {_describe(item)}.{hint}"
            raise TypeError(msg)
    return items


def check_query(text: Any, *, method: str = "embed_query") -> str:
    """Return ``text`` if it is a str, else raise a TypeError that says what came instead.

    Example:
        >>> check_query("hello")
        'hello'
    """
    if not isinstance(text, str):
        extra = " Use embed_documents() for a list." if isinstance(text, (list, tuple)) else ""
        msg = f"{method}() expects one string, got {_describe(text)}.{extra}"
        raise TypeError(msg)
    return text
