"""The filter language's syntax tree: parsing, validation messages and normal form.

Shared by :mod:`langchain_embedkit.vectorstores.filters` (validation and the reference
evaluator) and the two compilers, :mod:`._filters_chroma` and :mod:`._filters_milvus`.
The semantics are documented in :mod:`langchain_embedkit.vectorstores.filters`.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

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
_FIELD_RE = re.compile(r"[^\W][\w .:\-]{0,255}")
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


def _leaves(node: _Node) -> Iterator[_Node]:
    if isinstance(node, (_And, _Or)):
        for child in node.items:
            yield from _leaves(child)
    else:
        yield node
