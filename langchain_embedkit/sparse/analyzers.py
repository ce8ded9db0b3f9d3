"""Text analyzers for BM25: ``"en"``, ``"zh"``, ``"auto"`` and named custom ones.

An analyzer is any callable ``str -> list[str]``. The three built-in ones are
objects whose whole configuration (stop word lists included) is a JSON-able dict,
so that a fitted encoder can be saved and loaded with the very same analysis:

- ``"en"``: lower-case, Unicode word split (``\\w+``), the NLTK English stop words,
  Snowball English stemming (PyStemmer; ``stemmer=None`` turns it off). The split is
  one of the fixed :data:`TOKEN_PATTERNS`, never an arbitrary regular expression: a
  saved file names its analysis, and a file must not be able to make a query take
  minutes (catastrophic backtracking). Other splits are custom analyzers.
- ``"zh"``: jieba search-mode cut (``cut_for_search``), Chinese stop words and
  punctuation removed, Latin words lower-cased.
- ``"auto"``: runs of Han characters go through ``"zh"``, everything else through
  ``"en"``, so mixed text such as ``"RAG是一种检索增强生成技术"`` keeps both kinds of
  tokens. Text without Han characters costs no more than ``"en"`` and never loads jieba.

jieba is imported and initialised on the first Chinese text only, with its start-up
messages silenced. Custom callables must be registered by name with
:func:`register_analyzer` to be saved and loaded.

Example:
    >>> EnglishAnalyzer()("Alan Turing was the first person to conduct research in AI.")
    ['alan', 'ture', 'first', 'person', 'conduct', 'research', 'ai']
    >>> EnglishAnalyzer(stemmer=None)("Turing's machines")
    ['turing', 'machines']
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

from langchain_embedkit._imports import require

__all__ = [
    "BUILTIN_ANALYZERS",
    "TOKEN_PATTERNS",
    "Analyzer",
    "AutoAnalyzer",
    "ChineseAnalyzer",
    "EnglishAnalyzer",
    "analyzer_from_config",
    "analyzer_to_config",
    "get_analyzer",
    "load_stopwords",
    "register_analyzer",
    "registered_analyzers",
    "unregister_analyzer",
]

Analyzer = Callable[[str], list[str]]
"""Any callable that turns a text into its list of tokens (duplicates kept)."""

BUILTIN_ANALYZERS = ("auto", "en", "zh")
"""Names of the analyzers that ship with the package."""

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
_HAN_RUN = re.compile(f"([{_HAN}]+)")
_HAS_HAN = re.compile(f"[{_HAN}]")
_HAS_WORD_CHAR = re.compile(r"\w")
# Past this many distinct words the per-analyzer normalisation cache starts over.
_CACHE_LIMIT = 1_000_000


@cache
def load_stopwords(language: Literal["en", "zh"]) -> frozenset[str]:
    """The stop word list shipped with the package for ``"en"`` or ``"zh"``.

    Example:
        >>> "the" in load_stopwords("en"), "的" in load_stopwords("zh")
        (True, True)
    """
    if language not in ("en", "zh"):
        msg = f"No stop word list named {language!r}; available: 'en', 'zh'."
        raise ValueError(msg)
    text = (
        resources.files("langchain_embedkit.sparse")
        .joinpath(f"stopwords_{language}.txt")
        .read_text(encoding="utf-8")
    )
    return frozenset(
        word for line in text.splitlines() if (word := line.strip()) and not word.startswith("#")
    )


def _token_regex(token_pattern: object) -> str:
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


def _resolve_stopwords(stopwords: str | Iterable[str] | None, owner: str) -> frozenset[str]:
    if stopwords is None:
        return frozenset()
    if isinstance(stopwords, str):
        if stopwords in ("en", "zh"):
            return load_stopwords(stopwords)
        msg = (
            f"{owner}: unknown stop word list {stopwords!r}; use 'en', 'zh', None "
            "or an iterable of words."
        )
        raise ValueError(msg)
    words = list(stopwords)
    for word in words:
        if not isinstance(word, str):
            msg = f"{owner}: stop words must be strings; got {type(word).__name__} {word!r:.80}."
            raise TypeError(msg)
    return frozenset(words)


_JIEBA_LOCK = threading.Lock()
_JIEBA: Any = None


def _jieba() -> Any:
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


class _BuiltinAnalyzer:
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
        return isinstance(other, _BuiltinAnalyzer) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash(self.name)


class EnglishAnalyzer(_BuiltinAnalyzer):
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
        self.stopwords = _resolve_stopwords(stopwords, "EnglishAnalyzer")
        self.token_pattern = _token_regex(token_pattern)
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


class ChineseAnalyzer(_BuiltinAnalyzer):
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
        self.stopwords = _resolve_stopwords(stopwords, "ChineseAnalyzer")
        for option, value in (("hmm", hmm), ("lowercase", lowercase)):
            if not isinstance(value, bool):
                msg = f"ChineseAnalyzer: {option} must be True or False; got {value!r:.80}."
                raise TypeError(msg)
        self.hmm = hmm
        self.lowercase = lowercase

    def split(self, text: str) -> list[str]:
        """jieba ``cut_for_search`` pieces, punctuation and spaces included."""
        return list(_jieba().cut_for_search(text, HMM=self.hmm))

    def normalize(self, word: str) -> str:
        """``""`` for punctuation, spaces and stop words, else the (lower-cased) word."""
        word = word.strip()
        if self.lowercase:
            word = word.lower()
        if not word or word in self.stopwords or not _HAS_WORD_CHAR.search(word):
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


class AutoAnalyzer(_BuiltinAnalyzer):
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
        if text.isascii() or _HAS_HAN.search(text) is None:
            return self.en.split(text)
        words: list[str] = []
        for position, piece in enumerate(_HAN_RUN.split(text)):
            if position % 2:
                words.extend(self.zh.split(piece))
            elif piece:
                words.extend(self.en.split(piece))
        return words

    def normalize(self, word: str) -> str:
        """Routes the word to the Chinese or the English rules by its first character."""
        if _HAS_HAN.match(word):
            return self.zh.normalize(word)
        return self.en.normalize(word)

    def normalize_many(self, words: list[str]) -> list[str]:
        """:meth:`normalize` of each word, the English ones stemmed in one call."""
        if all(map(str.isascii, words)):
            return self.en.normalize_many(words)
        han = [_HAS_HAN.match(word) is not None for word in words]
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


_REGISTRY: dict[str, Analyzer] = {}
_REGISTRY_LOCK = threading.Lock()


def register_analyzer(name: str, analyzer: Analyzer, *, overwrite: bool = False) -> None:
    """Give a custom analyzer a name, so that encoders using it can be saved and loaded.

    Register it again under the same name in every process that loads the saved file.

    Args:
        name: Any non-empty name except the built-in ``"auto"``, ``"en"``, ``"zh"``.
        analyzer: A callable ``str -> list[str]``.
        overwrite: Replace an analyzer already registered under ``name``.

    Example:
        >>> register_analyzer("whitespace", str.split, overwrite=True)
        >>> get_analyzer("whitespace")("a b")
        ['a', 'b']
    """
    if not isinstance(name, str) or not name.strip():
        msg = f"Analyzer name must be a non-empty string; got {name!r}."
        raise ValueError(msg)
    if name in BUILTIN_ANALYZERS:
        msg = (
            f"Analyzer name {name!r} is reserved for a built-in analyzer "
            f"({', '.join(BUILTIN_ANALYZERS)}); pick another name."
        )
        raise ValueError(msg)
    if not callable(analyzer):
        msg = f"Analyzer {name!r} must be callable (str -> list[str]); got {type(analyzer)!r}."
        raise TypeError(msg)
    with _REGISTRY_LOCK:
        if not overwrite and name in _REGISTRY and _REGISTRY[name] is not analyzer:
            msg = (
                f"An analyzer is already registered as {name!r}; pass overwrite=True to "
                "replace it or choose another name."
            )
            raise ValueError(msg)
        _REGISTRY[name] = analyzer


def unregister_analyzer(name: str) -> None:
    """Remove a registered custom analyzer (no error when it is not registered)."""
    with _REGISTRY_LOCK:
        _REGISTRY.pop(name, None)


def registered_analyzers() -> dict[str, Analyzer]:
    """A copy of the registry of custom analyzers, by name."""
    with _REGISTRY_LOCK:
        return dict(_REGISTRY)


def _available() -> str:
    names = list(BUILTIN_ANALYZERS) + sorted(registered_analyzers())
    return ", ".join(repr(name) for name in names)


def get_analyzer(spec: str | Mapping[str, Any] | Analyzer) -> Analyzer:
    """Resolve an analyzer from a name, a saved configuration or a callable.

    Example:
        >>> get_analyzer("en")
        EnglishAnalyzer(stopwords=<179 words>, stemmer='english', token_pattern='\\\\w+')
    """
    if isinstance(spec, str):
        if spec == "en":
            return EnglishAnalyzer()
        if spec == "zh":
            return ChineseAnalyzer()
        if spec == "auto":
            return AutoAnalyzer()
        found = registered_analyzers().get(spec)
        if found is None:
            msg = (
                f"Unknown analyzer {spec!r}; available: {_available()}. Register a custom "
                f"one first with register_analyzer({spec!r}, fn)."
            )
            raise ValueError(msg)
        return found
    if isinstance(spec, Mapping):
        return analyzer_from_config(spec)
    if callable(spec):
        return spec
    msg = (
        f"analyzer must be a name ({_available()}), a saved configuration dict or a "
        f"callable str -> list[str]; got {type(spec).__name__}."
    )
    raise TypeError(msg)


def analyzer_to_config(analyzer: Analyzer) -> dict[str, Any]:
    """The JSON-able configuration that :func:`analyzer_from_config` turns back into ``analyzer``.

    Raises:
        ValueError: ``analyzer`` is a custom callable that was never registered.
    """
    if isinstance(analyzer, _BuiltinAnalyzer):
        return analyzer.config()
    for name, registered in registered_analyzers().items():
        if registered is analyzer:
            return {"name": name}
    msg = (
        f"Cannot save the custom analyzer {analyzer!r}: a callable analyzer must be "
        "registered by name to be saved. Call register_analyzer('my_analyzer', fn), pass "
        "analyzer='my_analyzer', and register it again before loading in another process."
    )
    raise ValueError(msg)


_FIELDS = {
    "en": {"stopwords", "stemmer", "token_pattern", "lowercase"},
    "zh": {"stopwords", "hmm", "lowercase"},
    "auto": {"en", "zh"},
}


def analyzer_from_config(config: Mapping[str, Any]) -> Analyzer:
    """Rebuild an analyzer from :func:`analyzer_to_config` output.

    Raises:
        ValueError: Unknown name, unknown or missing keys, or a custom name that is not
            registered in this process.
    """
    if not isinstance(config, Mapping) or not isinstance(config.get("name"), str):
        msg = f"Analyzer configuration must be a dict with a string 'name'; got {config!r:.200}."
        raise ValueError(msg)
    name = config["name"]
    options = {key: value for key, value in config.items() if key != "name"}
    if name in _FIELDS:
        expected = _FIELDS[name]
        if set(options) != expected:
            msg = (
                f"Analyzer configuration for {name!r} must have exactly the keys "
                f"{sorted(expected)}; got {sorted(options)}."
            )
            raise ValueError(msg)
        if name == "auto":
            # Checked before descending, so nesting cannot recurse without bound.
            for part in ("en", "zh"):
                inner = options[part]
                if not isinstance(inner, Mapping) or inner.get("name") != part:
                    msg = (
                        f"Analyzer configuration 'auto': its {part!r} part must be an "
                        f"{part!r} analyzer configuration; got {inner!r:.80}."
                    )
                    raise ValueError(msg)
            en = analyzer_from_config(options["en"])
            zh = analyzer_from_config(options["zh"])
            if not isinstance(en, EnglishAnalyzer) or not isinstance(zh, ChineseAnalyzer):
                msg = "Analyzer configuration 'auto' needs an 'en' and a 'zh' part."
                raise ValueError(msg)
            return AutoAnalyzer(en=en, zh=zh)
        stopwords = options["stopwords"]
        if not isinstance(stopwords, list) or not all(isinstance(w, str) for w in stopwords):
            msg = f"Analyzer configuration {name!r}: 'stopwords' must be a list of strings."
            raise ValueError(msg)
        try:
            if name == "en":
                return EnglishAnalyzer(**options)
            return ChineseAnalyzer(**options)
        except TypeError as exc:  # an option of the wrong type
            raise ValueError(str(exc)) from exc
    if set(options):
        msg = f"Custom analyzer configuration {name!r} takes no options; got {sorted(options)}."
        raise ValueError(msg)
    found = registered_analyzers().get(name)
    if found is None:
        msg = (
            f"Analyzer {name!r} is not registered in this process; call "
            f"register_analyzer({name!r}, fn) with the same function before loading."
        )
        raise ValueError(msg)
    return found
