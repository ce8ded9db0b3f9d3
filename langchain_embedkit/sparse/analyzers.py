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

import threading
from collections.abc import Callable, Mapping
from typing import Any

from langchain_embedkit.sparse.builtin_analyzers import (
    AutoAnalyzer,
    BuiltinAnalyzer,
    ChineseAnalyzer,
    EnglishAnalyzer,
)
from langchain_embedkit.sparse.stopwords import load_stopwords
from langchain_embedkit.sparse.tokenizers import TOKEN_PATTERNS

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
    if isinstance(analyzer, BuiltinAnalyzer):
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
