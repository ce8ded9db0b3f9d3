"""One metadata filter language for every backend, compiled to Chroma and Milvus Lite.

A filter is the dict LangChain users already write for Chroma: ``{"source": "a.md"}``
(shorthand for ``{"source": {"$eq": "a.md"}}``); ``$eq $ne $gt $gte $lt $lte`` take one
value, ``$in $nin`` a non-empty list; several operators on one field, or several keys in
one dict, mean AND; ``{"$and": [...]}``, ``{"$or": [...]}``, ``{"$not": {...}}``; and
``{"$contains": "text"}`` is a case-sensitive substring of the document text. Values are
``str``, ``int``, ``float`` (finite) and ``bool``; range operators take numbers. Field names
start with a letter, digit or ``_`` and hold letters (``作者`` too), digits, spaces and
``_ - . :``, at most 256 characters.

Semantics, the one definition that :func:`matches` implements and both compilers produce
(the test suite checks each engine against :func:`matches`):

* A field is *missing* when the key is absent or its value is ``None``.
* Values compare as in Python: numbers by value across ``int``, ``float`` and ``bool``
  (``1 == 1.0 == True``, ``0 == False``); a string equals only the same string (``"5" != 5``).
  Milvus Lite 3.x compares JSON values this way and cannot tell ``True`` from ``1``.
* ``$eq`` and ``$in`` never match a missing field; ``$ne`` and ``$nin`` are their exact
  complements, so they match documents that lack the field (as Chroma and MongoDB do).
* ``$gt $gte $lt $lte`` match only a number (``bool`` counts as 0 or 1), never a missing
  field or a string.
* ``$not`` flips what it wraps: ``$eq``/``$ne``, ``$in``/``$nin``, ``$gt``/``$lte``,
  ``$gte``/``$lt``, ``$contains``/not-contains, ``$and``/``$or`` (De Morgan). That is the
  exact complement except for ranges: ``{"$not": {"n": {"$gt": 5}}}`` means
  ``{"n": {"$lte": 5}}``, which still needs a number, since neither engine can express
  "missing or not a number".

Compilation (measured on chromadb 1.5.9 and milvus-lite 3.2.2):

* Chroma: metadata conditions go to ``where``, top-level ``$contains`` to
  ``where_document``; a ``$contains`` under ``$or``/``$not`` next to metadata conditions
  becomes ``{"#document": {"$contains": ...}}`` inside ``where`` (``document_in_where=False``
  refuses that instead, for servers without it). ``True``/``False`` are added next to
  ``1``/``0``. Chroma truncates a fractional float operand when it meets a stored int
  (``0.5 == 0`` there), so the integers on either side of it are settled explicitly. Its
  text index stops at a NUL character, so ``$contains`` refuses NUL (keep NUL out of
  document text too).
* Milvus: conditions on ``metadata["field"]``, every string quoted and escaped, so
  ``x" or 1==1 or "`` matches literally. ``$in`` becomes ``==`` chains (no ``in`` on JSON
  paths in Milvus Lite 3.x); ``$ne``/``$nin`` add ``is null or`` since missing keys compare
  as null there. ``$contains`` becomes ``text like "%...%"`` with ``\\%``, ``\\_`` and
  ``\\\\`` escaped. Milvus Lite honours those escapes only when the expression reads no JSON;
  with metadata conditions beside it ``%`` and ``_`` are bare wildcards, so such a filter
  raises instead of matching too much. A text with a backslash (no ``%``/``_``) is spelled
  ``(text == s or text like "_%s%" or text like "%s%_")`` because pyarrow answers a bare
  ``"%s%"`` by a substring search that skips unescaping. That is the milvus-lite 3.x
  dialect, the default of :func:`to_milvus`; ``dialect=`` picks another
  (:mod:`._filters_milvus`), and the store picks it from the engine it connects to.
  milvus-lite 2.5 and Milvus 2.3+ servers keep bools apart from numbers (the compiler adds
  ``or == true`` next to ``== 1``) and have no ``is null`` on JSON keys (``!=`` is true on a
  missing key there, measured); milvus-lite 2.5 has no ``not`` and no ``\\n`` escape, Milvus
  2.3 servers no infix LIKE. What an engine cannot express is refused, naming the engine.

Integers beyond 2**53 compared with floats may round differently between engines.

Example:
    >>> f = {"source": "a.md", "page": {"$gte": 2}}
    >>> matches(f, {"source": "a.md", "page": 3}, "text")
    True
    >>> to_chroma(f)
    ({'$and': [{'source': {'$eq': 'a.md'}}, {'page': {'$gte': 2}}]}, None)
    >>> to_milvus(f)
    'metadata["source"] == "a.md" and metadata["page"] >= 2'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langchain_embedkit.vectorstores._filters_chroma import to_chroma
from langchain_embedkit.vectorstores._filters_milvus import milvus_literal, to_milvus
from langchain_embedkit.vectorstores._filters_syntax import (
    _RANGE_FUNCS,
    SUPPORTED_OPERATORS,
    Filter,
    Scalar,
    _And,
    _Cmp,
    _compile,
    _Node,
    _Or,
    _Text,
)

__all__ = [
    "SUPPORTED_OPERATORS",
    "Filter",
    "matches",
    "milvus_literal",
    "to_chroma",
    "to_milvus",
    "to_predicate",
    "validate_filter",
]


def validate_filter(filter: Filter | None) -> None:
    """Check a filter and raise ``ValueError`` saying what is wrong and how to fix it.

    ``None`` and ``{}`` mean "no filter".

    Example:
        >>> validate_filter({"year": {"$gte": 2020}})
        >>> validate_filter({"source": {"$regex": "a.*"}})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Unknown filter operator '$regex' on field 'source'; supported: $eq, ...
    """
    _compile(filter)


# --------------------------------------------------------------------------- reference evaluator


def _equal(stored: Any, value: Scalar) -> bool:
    # Python equality is the definition: 1 == 1.0 == True, "5" != 5.
    return stored is not None and bool(stored == value)


def _eval(node: _Node, metadata: Mapping[str, Any], text: str) -> bool:
    if isinstance(node, _Cmp):
        stored = metadata.get(node.field)
        op, value = node.op, node.value
        if op == "$eq":
            return _equal(stored, value)
        if op == "$ne":
            return not _equal(stored, value)
        if op == "$in":
            return any(_equal(stored, v) for v in value)
        if op == "$nin":
            return not any(_equal(stored, v) for v in value)
        return isinstance(stored, (int, float)) and _RANGE_FUNCS[op](stored, value)
    if isinstance(node, _Text):
        return (node.needle in text) != node.negate
    if isinstance(node, _And):
        return all(_eval(child, metadata, text) for child in node.items)
    if isinstance(node, _Or):
        return any(_eval(child, metadata, text) for child in node.items)
    msg = f"unexpected filter node {node!r}"  # _Not never survives _nnf
    raise TypeError(msg)


def to_predicate(filter: Filter | None) -> Callable[[Mapping[str, Any], str], bool]:
    """Validate ``filter`` once and return a fast ``(metadata, text) -> bool`` function.

    Example:
        >>> keep = to_predicate({"lang": {"$in": ["zh", "en"]}})
        >>> [keep(m, "") for m in ({"lang": "zh"}, {"lang": "fr"}, {})]
        [True, False, False]
    """
    node = _compile(filter)
    if node is None:
        return lambda metadata, text: True
    compiled = node
    # A document stored without metadata or text is read as empty, not as an error.
    return lambda metadata, text: _eval(compiled, metadata or {}, text or "")


def matches(filter: Filter | None, metadata: Mapping[str, Any], text: str) -> bool:
    """The reference evaluator: does a document with this metadata and text match?

    Example:
        >>> matches({"$not": {"page": {"$gt": 5}}}, {"page": 3}, "")
        True
        >>> matches({"$not": {"page": {"$gt": 5}}}, {}, "")  # range needs a number
        False
        >>> matches({"page": {"$ne": 5}}, {}, "")  # $ne matches a missing field
        True
    """
    return to_predicate(filter)(metadata, text)
