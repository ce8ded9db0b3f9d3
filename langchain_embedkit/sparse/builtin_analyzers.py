"""The built-in analyzers: English, Chinese, and the two mixed (``"auto"``).

Each one's whole configuration (stop word lists included) is a JSON-able dict, so
that a fitted encoder can be saved and loaded with the very same analysis. Import
them from :mod:`langchain_embedkit.sparse.analyzers`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from langchain_embedkit._imports import require
from langchain_embedkit.sparse.stopwords import resolve_stopwords
from langchain_embedkit.sparse.tokenizers import (
    HAN_RUN,
    HAS_HAN,
    HAS_WORD_CHAR,
    jieba_tokenizer,
    token_regex,
)

__all__ = ["AutoAnalyzer", "BuiltinAnalyzer", "ChineseAnalyzer", "EnglishAnalyzer"]

# Past this many distinct words the per-analyzer normalisation cache starts over.
_CACHE_LIMIT = 1_000_000


class BuiltinAnalyzer:
    """Splits text into raw words, then normalises each distinct word once (cached)."""

    name: str = ""

    def __init__(self) -> None:
        self._cache: dict[str, str] = {}
        self._cache_lock = threading.Lock()

    def split(self, text: str) -> list[str]:
        """Raw words of ``text``, before stop word removal and stemming."""
        raise NotImplementedError

    def normalize(self, word: str) -> str:
        """The token a raw word becomes, or ``""`` when it is dropped."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this analyzer, as JSON-able values."""
        raise NotImplementedError

    def normalize_many(self, words: list[str]) -> list[str]:
        """:meth:`normalize` of each word (subclasses batch the work)."""
        return [self.normalize(word) for word in words]

    def __call__(self, text: str) -> list[str]:
        words = self.split(text)
        cache = self._cache
        missing = set(words).difference(cache)
        if missing:
            unknown = list(missing)
            learned = dict(zip(unknown, self.normalize_many(unknown), strict=True))
            with self._cache_lock:
                if len(cache) + len(learned) > _CACHE_LIMIT:
                    cache.clear()
                cache.update(learned)
        try:
            tokens = list(map(cache.__getitem__, words))
        except KeyError:  # another thread cleared the cache meanwhile
            tokens = self.normalize_many(words)
        return list(filter(None, tokens))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BuiltinAnalyzer) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash(self.name)


class EnglishAnalyzer(BuiltinAnalyzer):
    """Lower-case, Unicode word split, English stop words, optional Snowball stemming.

    Args:
        stopwords: ``"en"`` (the NLTK English list shipped with the package), ``None``
            for none, or your own iterable of words.
        stemmer: A Snowball algorithm name known to PyStemmer (``"english"``,
            ``"porter"``, ``"french"``, ...) or ``None`` for no stemming.
        token_pattern: How to split words: a name from :data:`TOKEN_PATTERNS`
            (``"word"``, ``"word2"``, ``"alnum"``, ``"nonspace"``) or that name's regular
            expression (``r"\\w+"``). The default ``\\w+`` keeps one-character words
            ("vitamin b", "type 2"), as Lucene does. For any other split, register a
            custom analyzer with :func:`register_analyzer`.
        lowercase: Lower-case the text before splitting.

    Example:
        >>> EnglishAnalyzer(stopwords=None, stemmer=None)("The cat sat.")
        ['the', 'cat', 'sat']
    """

    name = "en"

    def __init__(
        self,
        *,
        stopwords: str | Iterable[str] | None = "en",
        stemmer: str | None = "english",
        token_pattern: str = r"\w+",
        lowercase: bool = True,
    ) -> None:
        super().__init__()
        self.stopwords = resolve_stopwords(stopwords, "EnglishAnalyzer")
        self.token_pattern = token_regex(token_pattern)
        if not isinstance(lowercase, bool):
            msg = f"EnglishAnalyzer: lowercase must be True or False; got {lowercase!r}."
            raise TypeError(msg)
        self.lowercase = lowercase
        self._findall = re.compile(self.token_pattern).findall
        if stemmer is not None and not isinstance(stemmer, str):
            msg = f"EnglishAnalyzer: stemmer must be a name or None; got {stemmer!r:.80}."
            raise TypeError(msg)
        self.stemmer = stemmer
        self._stem: Callable[[str], str] | None = None
        self._stem_words: Callable[[list[str]], list[str]] | None = None
        self._stem_lock = threading.Lock()
        if stemmer is not None:
            stemmer_module = require("Stemmer", "bm25")
            algorithms = stemmer_module.algorithms()
            if stemmer not in algorithms:
                msg = (
                    f"EnglishAnalyzer: unknown stemmer {stemmer!r}; PyStemmer knows "
                    f"{', '.join(sorted(algorithms))}. Pass stemmer=None to turn stemming off."
                )
                raise ValueError(msg)
            algorithm = stemmer_module.Stemmer(stemmer)
            self._stem = algorithm.stemWord
            self._stem_words = algorithm.stemWords

    def split(self, text: str) -> list[str]:
        """Words matched by ``token_pattern`` (lower-cased first when ``lowercase``)."""
        return self._findall(text.lower() if self.lowercase else text)

    def normalize(self, word: str) -> str:
        """``""`` for a stop word, else the (stemmed) word."""
        if word in self.stopwords:
            return ""
        if self._stem is None:
            return word
        # PyStemmer objects are not safe to share between threads.
        with self._stem_lock:
            return self._stem(word)

    def normalize_many(self, words: list[str]) -> list[str]:
        """:meth:`normalize` of each word, stemming them in one call."""
        stopwords = self.stopwords
        kept = [word for word in words if word not in stopwords]
        if self._stem_words is not None and kept:
            with self._stem_lock:
                kept = self._stem_words(kept)
        stems = iter(kept)
        return ["" if word in stopwords else next(stems) for word in words]

    def config(self) -> dict[str, Any]:
        """JSON-able configuration; the stop word list is stored in full."""
        return {
            "name": self.name,
            "stopwords": sorted(self.stopwords),
            "stemmer": self.stemmer,
            "token_pattern": self.token_pattern,
            "lowercase": self.lowercase,
        }

    def __repr__(self) -> str:
        return (
            f"EnglishAnalyzer(stopwords=<{len(self.stopwords)} words>, "
            f"stemmer={self.stemmer!r}, token_pattern={self.token_pattern!r})"
        )


class ChineseAnalyzer(BuiltinAnalyzer):
    """jieba search-mode cut; Chinese stop words, punctuation and spaces removed.

    Search mode also emits the shorter words inside long ones
    (``数据库`` -> ``数据``, ``据库``, ``数据库``), so a query for ``数据`` finds it.

    Args:
        stopwords: ``"zh"`` (function words shipped with the package), ``None`` or
            your own iterable of words.
        hmm: Let jieba guess words missing from its dictionary (its ``HMM`` flag).
        lowercase: Lower-case Latin words (``RAG`` -> ``rag``).

    Example:
        >>> ChineseAnalyzer()("RAG是一种检索增强生成技术")
        ['rag', '检索', '增强', '生成', '技术']
    """

    name = "zh"

    def __init__(
        self,
        *,
        stopwords: str | Iterable[str] | None = "zh",
        hmm: bool = True,
        lowercase: bool = True,
    ) -> None:
        super().__init__()
        self.stopwords = resolve_stopwords(stopwords, "ChineseAnalyzer")
        for option, value in (("hmm", hmm), ("lowercase", lowercase)):
            if not isinstance(value, bool):
                msg = f"ChineseAnalyzer: {option} must be True or False; got {value!r:.80}."
                raise TypeError(msg)
        self.hmm = hmm
        self.lowercase = lowercase

    def split(self, text: str) -> list[str]:
        """jieba ``cut_for_search`` pieces, punctuation and spaces included."""
        return list(jieba_tokenizer().cut_for_search(text, HMM=self.hmm))

    def normalize(self, word: str) -> str:
        """``""`` for punctuation, spaces and stop words, else the (lower-cased) word."""
        word = word.strip()
        if self.lowercase:
            word = word.lower()
        if not word or word in self.stopwords or not HAS_WORD_CHAR.search(word):
            return ""
        return word

    def config(self) -> dict[str, Any]:
        """JSON-able configuration; the stop word list is stored in full."""
        return {
            "name": self.name,
            "stopwords": sorted(self.stopwords),
            "hmm": self.hmm,
            "lowercase": self.lowercase,
        }

    def __repr__(self) -> str:
        return f"ChineseAnalyzer(stopwords=<{len(self.stopwords)} words>, hmm={self.hmm})"


class AutoAnalyzer(BuiltinAnalyzer):
    """Han runs through :class:`ChineseAnalyzer`, the rest through :class:`EnglishAnalyzer`.

    Args:
        en: The analyzer for non-Han text (default ``EnglishAnalyzer()``).
        zh: The analyzer for runs of Han characters (default ``ChineseAnalyzer()``).

    Example:
        >>> AutoAnalyzer()("什么是RAG? Retrieval-augmented generation")
        ['rag', 'retriev', 'augment', 'generat']
    """

    name = "auto"

    def __init__(
        self, *, en: EnglishAnalyzer | None = None, zh: ChineseAnalyzer | None = None
    ) -> None:
        super().__init__()
        self.en = en if en is not None else EnglishAnalyzer()
        self.zh = zh if zh is not None else ChineseAnalyzer()

    def split(self, text: str) -> list[str]:
        """English words of the non-Han runs and jieba pieces of the Han runs, in order."""
        if text.isascii() or HAS_HAN.search(text) is None:
            return self.en.split(text)
        words: list[str] = []
        for position, piece in enumerate(HAN_RUN.split(text)):
            if position % 2:
                words.extend(self.zh.split(piece))
            elif piece:
                words.extend(self.en.split(piece))
        return words

    def normalize(self, word: str) -> str:
        """Routes the word to the Chinese or the English rules by its first character."""
        if HAS_HAN.match(word):
            return self.zh.normalize(word)
        return self.en.normalize(word)

    def normalize_many(self, words: list[str]) -> list[str]:
        """:meth:`normalize` of each word, the English ones stemmed in one call."""
        if all(map(str.isascii, words)):
            return self.en.normalize_many(words)
        han = [HAS_HAN.match(word) is not None for word in words]
        english = iter(
            self.en.normalize_many([w for w, h in zip(words, han, strict=True) if not h])
        )
        chinese = iter(self.zh.normalize_many([w for w, h in zip(words, han, strict=True) if h]))
        return [next(chinese) if h else next(english) for h in han]

    def config(self) -> dict[str, Any]:
        """JSON-able configuration of both halves."""
        return {"name": self.name, "en": self.en.config(), "zh": self.zh.config()}

    def __repr__(self) -> str:
        return f"AutoAnalyzer(en={self.en!r}, zh={self.zh!r})"
