"""How the built-in analyzers find words: named token patterns, Han runs, jieba.

The English split is one of the fixed :data:`TOKEN_PATTERNS`, never an arbitrary
regular expression: a saved file names its analysis, and a file must not be able to
make a query take minutes (catastrophic backtracking). jieba is imported and
initialised on the first Chinese text only, with its start-up messages silenced.

Example:
    >>> token_regex("word2") == TOKEN_PATTERNS["word2"]
    True
    >>> HAN_RUN.split("RAG是一种技术")
    ['RAG', '是一种技术', '']
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from langchain_embedkit._imports import require

__all__ = [
    "HAN_RUN",
    "HAS_HAN",
    "HAS_WORD_CHAR",
    "TOKEN_PATTERNS",
    "jieba_tokenizer",
    "token_regex",
]

TOKEN_PATTERNS: Mapping[str, str] = MappingProxyType(
    {
        "word": r"\w+",
        "word2": r"\w\w+",
        "alnum": r"[^\W_]+",
        "nonspace": r"\S+",
    }
)
"""The splits :class:`EnglishAnalyzer` offers, by name: their regular expressions.

``"word"`` (default) keeps one-character words as Lucene does; ``"word2"`` keeps words of
two characters or more (scikit-learn's default); ``"alnum"`` also splits at ``_``;
``"nonspace"`` splits at whitespace only. Each runs in linear time on any text."""

# CJK Unified Ideographs (+ extension A, compatibility ideographs, extensions B-F) and 〇.
_HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
HAN_RUN = re.compile(f"([{_HAN}]+)")
HAS_HAN = re.compile(f"[{_HAN}]")
HAS_WORD_CHAR = re.compile(r"\w")


def token_regex(token_pattern: object) -> str:
    """The regular expression of a named token pattern (given by name or by regex)."""
    if isinstance(token_pattern, str):
        if token_pattern in TOKEN_PATTERNS:
            return TOKEN_PATTERNS[token_pattern]
        if token_pattern in TOKEN_PATTERNS.values():
            return token_pattern
    choices = ", ".join(f"{name!r} ({regex})" for name, regex in TOKEN_PATTERNS.items())
    msg = (
        f"EnglishAnalyzer: token_pattern {token_pattern!r:.80} is not one of the named "
        f"patterns {choices}. For another split, register your own analyzer: "
        "register_analyzer('my_split', fn)."
    )
    raise ValueError(msg)


_JIEBA_LOCK = threading.Lock()
_JIEBA: Any = None


def jieba_tokenizer() -> Any:
    """jieba's default tokenizer, imported and initialised once, without its log lines.

    The default tokenizer is used on purpose: words a user adds with
    ``jieba.add_word`` or ``jieba.load_userdict`` apply to BM25 too.
    """
    global _JIEBA
    if _JIEBA is None:
        with _JIEBA_LOCK:
            if _JIEBA is None:
                with warnings.catch_warnings():
                    # jieba 0.42 imports pkg_resources, which warns on recent setuptools.
                    warnings.simplefilter("ignore")
                    jieba = require("jieba", "bm25")
                log = getattr(jieba, "default_logger", None) or logging.getLogger("jieba")
                previous = log.level
                log.setLevel(logging.WARNING)
                try:
                    jieba.dt.initialize()
                finally:
                    log.setLevel(previous)
                _JIEBA = jieba.dt
    return _JIEBA
