"""The stop word lists shipped with the package, and how an analyzer's option names one.

Example:
    >>> "the" in load_stopwords("en"), "的" in load_stopwords("zh")
    (True, True)
    >>> sorted(resolve_stopwords(["a", "b"], "EnglishAnalyzer"))
    ['a', 'b']
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Literal, get_args

__all__ = ["STOPWORD_LANGUAGES", "StopwordLanguage", "load_stopwords", "resolve_stopwords"]

StopwordLanguage = Literal["en", "zh"]
"""Languages with a stop word list in the package."""
STOPWORD_LANGUAGES: tuple[StopwordLanguage, ...] = get_args(StopwordLanguage)


@cache
def load_stopwords(language: StopwordLanguage) -> frozenset[str]:
    """The stop word list shipped with the package for ``"en"`` or ``"zh"``.

    Example:
        >>> "the" in load_stopwords("en"), "的" in load_stopwords("zh")
        (True, True)
    """
    if language not in STOPWORD_LANGUAGES:
        choices = ", ".join(repr(choice) for choice in STOPWORD_LANGUAGES)
        msg = f"No stop word list named {language!r}; available: {choices}."
        raise ValueError(msg)
    text = (
        resources.files("langchain_embedkit.sparse")
        .joinpath(f"stopwords_{language}.txt")
        .read_text(encoding="utf-8")
    )
    return frozenset(
        word for line in text.splitlines() if (word := line.strip()) and not word.startswith("#")
    )


def resolve_stopwords(stopwords: str | Iterable[str] | None, owner: str) -> frozenset[str]:
    """An analyzer's ``stopwords`` option as a set: a list's name, ``None`` or the words.

    Raises:
        ValueError: An unknown list name.
        TypeError: A word that is not a string.
    """
    if stopwords is None:
        return frozenset()
    if isinstance(stopwords, str):
        if stopwords in STOPWORD_LANGUAGES:
            return load_stopwords(stopwords)
        names = ", ".join(repr(name) for name in STOPWORD_LANGUAGES)
        msg = (
            f"{owner}: unknown stop word list {stopwords!r}; use {names}, None "
            "or an iterable of words."
        )
        raise ValueError(msg)
    words = list(stopwords)
    for word in words:
        if not isinstance(word, str):
            msg = f"{owner}: stop words must be strings; got {type(word).__name__} {word!r:.80}."
            raise TypeError(msg)
    return frozenset(words)
