"""Compile the portable filter language to Chroma's ``where`` and ``where_document``.

The mapping and the Chroma quirks it works around are described in
:mod:`langchain_embedkit.vectorstores.filters`, which re-exports :func:`to_chroma`.
"""

from __future__ import annotations

import math
from typing import Any

from langchain_embedkit.vectorstores._filters_syntax import (
    _RANGE_FUNCS,
    _RANGE_OPS,
    Filter,
    Scalar,
    _And,
    _Cmp,
    _compile,
    _leaves,
    _Node,
    _Not,
    _show,
    _Text,
)

__all__ = ["to_chroma"]


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
