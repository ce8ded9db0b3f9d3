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
  ``"%s%"`` by a substring search that skips unescaping. The Milvus server and milvus-lite
  2.5 differ (bools apart from numbers, no ``is null`` on JSON keys): these expressions
  are for Milvus Lite 3.x.

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

import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

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

Filter = Mapping[str, Any]
Scalar = str | int | float | bool

SUPPORTED_OPERATORS: tuple[str, ...] = (
    "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin",
    "$and", "$or", "$not", "$contains",
)  # fmt: skip
_SUPPORTED_TEXT = ", ".join(SUPPORTED_OPERATORS)
_SCALAR_OPS = ("$eq", "$ne")
_RANGE_OPS = ("$gt", "$gte", "$lt", "$lte")
_LIST_OPS = ("$in", "$nin")
_NEGATED = {
    "$eq": "$ne", "$ne": "$eq", "$in": "$nin", "$nin": "$in",
    "$gt": "$lte", "$lte": "$gt", "$gte": "$lt", "$lt": "$gte",
}  # fmt: skip
_RANGE_FUNCS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le,
}  # fmt: skip
_MILVUS_OPS = {"$eq": "==", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_FIELD_RE = re.compile(r"[^\W][\w .:\-]{0,255}")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT64 = 2**63
_EXAMPLE = '{"lang": "en"}'
_NOT_EXAMPLE = '{"$not": {"lang": "en"}}'
_MAX_DEPTH = 64


# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True)
class _Cmp:
    field: str
    op: str
    value: Any  # a scalar, or a tuple of scalars for $in / $nin


@dataclass(frozen=True)
class _Text:
    needle: str
    negate: bool = False


@dataclass(frozen=True)
class _And:
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Or:
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Not:
    item: _Node


_Node = _Cmp | _Text | _And | _Or | _Not


# --------------------------------------------------------------------------- parsing


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _typed(value: Any) -> str:
    return f"{type(value).__name__}: {_show(value)}"


def _check_field(name: Any) -> str:
    if not isinstance(name, str):
        msg = f"Filter keys must be strings; got {_typed(name)}."
        raise ValueError(msg)
    if not _FIELD_RE.fullmatch(name):
        msg = (
            f"Invalid filter field name {_show(name)}: field names start with a letter, digit "
            "or '_' and hold letters, digits, spaces and '_ - . :' (at most 256 characters), "
            "so that Chroma and Milvus address them safely. Rename the metadata key."
        )
        raise ValueError(msg)
    return name


def _check_string(value: str, where: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        msg = f"{where} holds a lone surrogate and is not valid Unicode text: {_show(value)}."
        raise ValueError(msg) from None
    return str(value)


def _scalar(value: Any, op: str, field: str) -> Scalar:
    where = f"'{op}' on field '{field}'"
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            msg = f"{where}: integer {value} does not fit in 64 bits, the engines' int size."
            raise ValueError(msg)
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            msg = f"{where}: got {value!r}; filter numbers must be finite."
            raise ValueError(msg)
        return float(value)
    if isinstance(value, str):
        return _check_string(value, f"The value of {where}")
    if isinstance(value, Mapping):
        msg = (
            f"{where} needs a str, int, float or bool; got a dict {_show(value)}. Nested "
            'metadata is not supported: compare top-level keys, e.g. {"source": "a.md"}.'
        )
        raise ValueError(msg)
    msg = f"{where} needs a str, int, float or bool; got {_typed(value)}."
    raise ValueError(msg)


def _parse_field_op(field: str, op: str, value: Any) -> _Node:
    if op in _SCALAR_OPS:
        return _Cmp(field, op, _scalar(value, op, field))
    if op in _RANGE_OPS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            msg = (
                f"'{op}' on field '{field}' needs an int or float; got {_typed(value)}. "
                "Range operators compare numbers only: store numbers in that key to compare."
            )
            raise ValueError(msg)
        return _Cmp(field, op, _scalar(value, op, field))
    if op in _LIST_OPS:
        if not isinstance(value, (list, tuple)):
            msg = (
                f"'{op}' on field '{field}' needs a non-empty list of str, int, float or bool; "
                f'got {_typed(value)}. Write {{"{field}": {{"{op}": [{_show(value)}]}}}}.'
            )
            raise ValueError(msg)
        if not value:
            hint = "drop the condition" if op == "$nin" else "skip the query"
            msg = (
                f"'{op}' on field '{field}' got an empty list, which Chroma rejects; "
                f"{hint} instead."
            )
            raise ValueError(msg)
        return _Cmp(field, op, tuple(_scalar(v, op, field) for v in value))
    if op == "$contains":
        msg = (
            f"'$contains' matches the document text and goes at the top of a condition, "
            f'e.g. {{"$contains": "..."}}; got it on field \'{field}\'. Substring matches '
            "on metadata values are not supported."
        )
        raise ValueError(msg)
    if op in ("$and", "$or", "$not"):
        example = f'[{{"{field}": 1}}, {{"{field}": 2}}]' if op != "$not" else f'{{"{field}": 1}}'
        msg = (
            f"'{op}' combines whole conditions and cannot sit under field '{field}'; write "
            f'e.g. {{"{op}": {example}}}.'
        )
        raise ValueError(msg)
    msg = f"Unknown filter operator '{op}' on field '{field}'; supported: {_SUPPORTED_TEXT}."
    raise ValueError(msg)


def _parse_field(field: str, value: Any) -> _Node:
    if not isinstance(value, Mapping):
        return _Cmp(field, "$eq", _scalar(value, "$eq", field))
    if not value:
        msg = f'Empty condition on field \'{field}\'; write e.g. {{"{field}": {{"$eq": ...}}}}.'
        raise ValueError(msg)
    nodes = []
    for op, operand in value.items():
        if not isinstance(op, str) or not op.startswith("$"):
            msg = (
                f"Filter value for field '{field}' must be a str, int, float or bool, or a dict "
                f'of operators such as {{"$gt": 1}}; got {_show(dict(value))}. Nested metadata '
                "is not supported."
            )
            raise ValueError(msg)
        nodes.append(_parse_field_op(field, op, operand))
    return nodes[0] if len(nodes) == 1 else _And(tuple(nodes))


def _parse_top(key: str, value: Any, depth: int) -> _Node:
    if key in ("$and", "$or"):
        if not isinstance(value, (list, tuple)) or not value:
            msg = (
                f"'{key}' needs a non-empty list of conditions, e.g. "
                f'{{"{key}": [{{"a": 1}}, {{"b": 2}}]}}; got {_typed(value)}.'
            )
            raise ValueError(msg)
        items = tuple(_parse(item, depth + 1) for item in value)
        return items[0] if len(items) == 1 else (_And if key == "$and" else _Or)(items)
    if key == "$not":
        if not isinstance(value, Mapping) or not value:
            msg = f"'$not' needs one condition dict, e.g. {_NOT_EXAMPLE}; got {_typed(value)}."
            raise ValueError(msg)
        return _Not(_parse(value, depth + 1))
    if key == "$contains":
        if not isinstance(value, str) or not value or "\x00" in value:
            msg = (
                "'$contains' needs a non-empty string without NUL characters (Chroma's text "
                f"index cannot match those reliably); got {_typed(value)}."
            )
            raise ValueError(msg)
        return _Text(_check_string(value, "The '$contains' text"))
    if key in SUPPORTED_OPERATORS:
        msg = (
            f'\'{key}\' compares a field and must sit under one, e.g. {{"year": {{"{key}": ...}}}}.'
        )
        raise ValueError(msg)
    msg = f"Unknown filter operator '{key}'; supported: {_SUPPORTED_TEXT}."
    raise ValueError(msg)


def _parse(filter: Any, depth: int = 0) -> _Node:
    if depth > _MAX_DEPTH:
        msg = f"Filter is nested more than {_MAX_DEPTH} levels deep; flatten it."
        raise ValueError(msg)
    if not isinstance(filter, Mapping) or not filter:
        msg = (
            f"A filter condition must be a non-empty dict such as {_EXAMPLE}; got {_typed(filter)}."
        )
        raise ValueError(msg)
    nodes = [
        _parse_top(key, value, depth)
        if isinstance(key, str) and key.startswith("$")
        else _parse_field(_check_field(key), value)
        for key, value in filter.items()
    ]
    return nodes[0] if len(nodes) == 1 else _And(tuple(nodes))


def _nnf(node: _Node, negate: bool = False) -> _Node:
    """Push every ``$not`` down to the leaves (De Morgan), flattening nested AND / OR."""
    if isinstance(node, _Not):
        return _nnf(node.item, not negate)
    if isinstance(node, _Cmp):
        return _Cmp(node.field, _NEGATED[node.op], node.value) if negate else node
    if isinstance(node, _Text):
        return _Text(node.needle, node.negate != negate)
    is_and = isinstance(node, _And) != negate
    kind = _And if is_and else _Or
    items: list[_Node] = []
    for child in node.items:
        sub = _nnf(child, negate)
        items.extend(sub.items if isinstance(sub, kind) else (sub,))
    return items[0] if len(items) == 1 else kind(tuple(items))


def _compile(filter: Filter | None) -> _Node | None:
    if filter is None:
        return None
    if isinstance(filter, Mapping) and not filter:
        return None
    return _nnf(_parse(filter))


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


# --------------------------------------------------------------------------- Chroma


def _chroma_equal_values(values: tuple[Scalar, ...] | Scalar) -> dict[str, list[Scalar]]:
    """Every value Chroma must test so that its typed equality equals Python's.

    Chroma keeps bool apart from numbers (``True != 1``) but equates int and float.
    """
    groups: dict[str, list[Scalar]] = {}

    def add(v: Scalar) -> None:
        group = groups.setdefault(type(v).__name__, [])
        if not any(type(x) is type(v) and x == v for x in group):
            group.append(v)

    for v in values if isinstance(values, tuple) else (values,):
        add(v)
        if isinstance(v, bool):
            add(int(v))
        elif not isinstance(v, str) and v in (0, 1):
            add(v == 1)
    return groups


def _near_ints(values: list[Scalar]) -> list[int]:
    """The integers next to each fractional float, sorted.

    Chroma 1.5 compares a stored int with a float operand after truncating the operand
    (``{"n": {"$eq": 0.5}}`` matches ``n=0``, ``{"n": {"$gt": -0.5}}`` misses ``n=0``).
    Those integers never equal the floats, so adding or removing them is exact whether
    Chroma truncates, floors or compares correctly.
    """
    near = {f(v) for v in values if isinstance(v, float) for f in (math.floor, math.ceil)}
    return sorted(near)


def _chroma_values(field: str, op: str, values: list[Scalar]) -> dict[str, Any]:
    single = "$eq" if op == "$in" else "$ne"
    clause = {field: {single: values[0]}} if len(values) == 1 else {field: {op: values}}
    near = _near_ints([v for v in values if isinstance(v, float) and not v.is_integer()])
    if not near:
        return clause
    if op == "$in":
        return {"$and": [clause, {field: {"$nin": near}}]}
    return {"$or": [clause, {field: {"$in": near}}]}


def _chroma_cmp(node: _Cmp) -> dict[str, Any]:
    field, op, value = node.field, node.op, node.value
    if op in _RANGE_OPS:
        clauses: list[dict[str, Any]] = [{field: {op: value}}]
        if isinstance(value, float) and not value.is_integer():
            # See _near_ints: settle the integer next to the threshold explicitly.
            lo, hi = math.floor(value), math.ceil(value)
            if op == "$gt":
                clauses.append({field: {"$eq": hi}})
            elif op == "$lt":
                clauses.append({field: {"$eq": lo}})
            else:
                edge = lo if op == "$gte" else hi
                clauses = [{"$and": [clauses[0], {field: {"$ne": edge}}]}]
        # Chroma leaves bools out of numeric ranges; Python counts them as 0 and 1.
        bools = [b for b in (True, False) if _RANGE_FUNCS[op](int(b), value)]
        if bools:
            clauses.append({field: {"$eq": bools[0]} if len(bools) == 1 else {"$in": bools}})
        return _chroma_join("$or", clauses)
    positive = op in ("$eq", "$in")
    list_op = "$in" if positive else "$nin"
    groups = _chroma_equal_values(value)
    return _chroma_join(
        "$or" if positive else "$and",
        [_chroma_values(field, list_op, group) for group in groups.values()],
    )


def _chroma_join(kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    flat: list[dict[str, Any]] = []
    for item in items:
        flat.extend(item[kind] if set(item) == {kind} else [item])
    return flat[0] if len(flat) == 1 else {kind: flat}


def _leaves(node: _Node) -> Iterator[_Node]:
    if isinstance(node, (_And, _Or)):
        for child in node.items:
            yield from _leaves(child)
    else:
        yield node


def _chroma(node: _Node, document: str, original: Filter) -> dict[str, Any]:
    """``document`` is "plain" (where_document), "where" (``#document``) or "refuse"."""
    if isinstance(node, _Cmp):
        return _chroma_cmp(node)
    if isinstance(node, _Text):
        clause = {"$not_contains" if node.negate else "$contains": node.needle}
        if document == "plain":
            return clause
        if document == "where":
            return {"#document": clause}
        msg = (
            f"This filter puts a '$contains' ({_show(node.needle)}) inside an '$or' or "
            "'$not' together with metadata conditions, which this Chroma cannot express "
            "(where and where_document are only ANDed). Move '$contains' to the top level "
            "of the filter, or run one query per '$or' branch and merge the results. "
            f"Filter: {_show(dict(original))}"
        )
        raise ValueError(msg)
    assert not isinstance(node, _Not)  # _nnf removed them
    kind = "$and" if isinstance(node, _And) else "$or"
    return _chroma_join(kind, [_chroma(child, document, original) for child in node.items])


def to_chroma(
    filter: Filter | None, *, document_in_where: bool = True
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Compile a filter to Chroma's ``(where, where_document)``; either may be ``None``.

    Args:
        filter: The portable filter, or ``None`` / ``{}`` for none.
        document_in_where: Allow ``{"#document": {"$contains": ...}}`` inside ``where``
            (chromadb 1.5 and later) for text conditions that sit under ``$or`` / ``$not``
            next to metadata conditions. When ``False`` such filters raise ``ValueError``.

    Example:
        >>> to_chroma({"lang": "zh", "$contains": "向量"})
        ({'lang': {'$eq': 'zh'}}, {'$contains': '向量'})
        >>> to_chroma({"draft": {"$ne": True}})
        ({'$and': [{'draft': {'$ne': True}}, {'draft': {'$ne': 1}}]}, None)
    """
    node = _compile(filter)
    if node is None:
        return None, None
    assert filter is not None
    conjuncts = node.items if isinstance(node, _And) else (node,)
    docs = [c for c in conjuncts if all(isinstance(x, _Text) for x in _leaves(c))]
    meta = [c for c in conjuncts if c not in docs]
    mode = "where" if document_in_where else "refuse"
    where = _chroma(_And(tuple(meta)), mode, filter) if meta else None
    where_document = _chroma(_And(tuple(docs)), "plain", filter) if docs else None
    return where, where_document


# --------------------------------------------------------------------------- Milvus


_MILVUS_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_MILVUS_ESCAPE_RE = re.compile(r'[\\"\n\r\t]')


def milvus_literal(value: Scalar) -> str:
    """Quote a value as a Milvus filter literal that can only ever mean that value.

    Strings are double-quoted with ``\\\\``, ``\\"``, ``\\n``, ``\\r`` and ``\\t`` escaped, the
    escapes both Milvus Lite and the Milvus server grammar read; every other character,
    Unicode included, is kept as is. Useful for ids too: ``f"id in [{milvus_literal(i)}]"``.

    Example:
        >>> print(milvus_literal('x" or 1==1 or "'))
        "x\\" or 1==1 or \\""
        >>> milvus_literal(True), milvus_literal(-2), milvus_literal(0.5)
        ('true', '-2', '0.5')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            msg = f"Milvus filter numbers must be finite; got {value!r}."
            raise ValueError(msg)
        return repr(float(value))
    if isinstance(value, str):
        _check_string(value, "A Milvus string literal")
        return '"' + _MILVUS_ESCAPE_RE.sub(lambda m: _MILVUS_ESCAPES[m.group()], value) + '"'
    msg = f"Milvus literals are str, int, float or bool; got {_typed(value)}."
    raise ValueError(msg)


class _MilvusCompiler:
    def __init__(self, text_field: str, metadata_field: str, reads_json: bool) -> None:
        self.text_field = text_field
        self.metadata_field = metadata_field
        self.reads_json = reads_json

    def key(self, field: str) -> str:
        return f"{self.metadata_field}[{milvus_literal(field)}]"

    def cmp(self, node: _Cmp) -> str:
        key, op = self.key(node.field), node.op
        if op in _MILVUS_OPS and op != "$ne":
            return f"{key} {_MILVUS_OPS[op]} {milvus_literal(node.value)}"
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        if op == "$in":
            parts = [f"{key} == {milvus_literal(v)}" for v in values]
            return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"
        # $ne / $nin: a missing JSON key compares as null in Milvus Lite, so say it matches.
        parts = [f"{key} != {milvus_literal(v)}" for v in values]
        inner = parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"
        return f"({key} is null or {inner})"

    def text(self, node: _Text) -> str:
        needle, field = node.needle, self.text_field
        wildcard = "%" in needle or "_" in needle
        if self.reads_json:
            # Milvus Lite evaluates expressions that read JSON row by row, where LIKE has
            # no escape character: '%' and '_' are always wildcards, '\' is literal.
            if wildcard:
                msg = (
                    f"'$contains' text {_show(needle)} holds '%' or '_', which Milvus Lite "
                    "cannot match literally in a filter that also has metadata conditions "
                    "(it would match more than asked). Filter on the text alone, or on the "
                    "metadata alone and keep the results whose text contains it "
                    "(e.g. with langchain_embedkit.vectorstores.filters.matches)."
                )
                raise ValueError(msg)
            like = f"{field} like {milvus_literal('%' + needle + '%')}"
        elif "\\" in needle and not wildcard:
            # Otherwise pyarrow answers '%...%' with a substring search that skips unescaping
            # ('%a\\\\b%' looks for two backslashes); a '_' sends it to its regex path.
            # Contains s <=> text == s, or s has a character before it, or one after it.
            pattern = needle.replace("\\", "\\\\")
            like = (
                f"({field} == {milvus_literal(needle)} or "
                f"{field} like {milvus_literal('_%' + pattern + '%')} or "
                f"{field} like {milvus_literal('%' + pattern + '%_')})"
            )
        else:
            pattern = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            like = f"{field} like {milvus_literal('%' + pattern + '%')}"
        return f"not ({like})" if node.negate else like

    def node(self, node: _Node, top: bool = False) -> str:
        if isinstance(node, _Cmp):
            return self.cmp(node)
        if isinstance(node, _Text):
            return self.text(node)
        assert isinstance(node, (_And, _Or))
        joiner = " and " if isinstance(node, _And) else " or "
        body = joiner.join(self.node(child) for child in node.items)
        return body if top else f"({body})"


def to_milvus(
    filter: Filter | None, *, text_field: str = "text", metadata_field: str = "metadata"
) -> str:
    """Compile a filter to a Milvus boolean expression; ``""`` for no filter.

    The expression targets a collection whose document text is the VARCHAR ``text_field``
    and whose metadata is the JSON ``metadata_field``.

    Example:
        >>> to_milvus({"$or": [{"lang": "zh"}, {"year": {"$lt": 2020}}]})
        'metadata["lang"] == "zh" or metadata["year"] < 2020'
        >>> to_milvus({"$contains": "50%"})
        'text like "%50\\\\\\\\%%"'
    """
    for name, field in (("text_field", text_field), ("metadata_field", metadata_field)):
        if not _IDENT_RE.fullmatch(field):
            msg = f"{name} must be a Milvus field name like 'text'; got {_show(field)}."
            raise ValueError(msg)
    node = _compile(filter)
    if node is None:
        return ""
    return _MilvusCompiler(
        text_field, metadata_field, any(isinstance(x, _Cmp) for x in _leaves(node))
    ).node(node, top=True)
