"""Compile the portable filter language to a Milvus Lite boolean expression.

The mapping and the Milvus Lite quirks it works around are described in
:mod:`langchain_embedkit.vectorstores.filters`, which re-exports :func:`to_milvus` and
:func:`milvus_literal`.
"""

from __future__ import annotations

import math
import re

from langchain_embedkit.vectorstores._filters_syntax import (
    Filter,
    Scalar,
    _And,
    _check_string,
    _Cmp,
    _compile,
    _leaves,
    _Node,
    _Or,
    _show,
    _Text,
    _typed,
)

__all__ = ["milvus_literal", "to_milvus"]

_MILVUS_OPS = {"$eq": "==", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
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
