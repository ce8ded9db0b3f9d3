"""Compile the portable filter language to a Milvus boolean expression, per engine dialect.

Milvus engines read the same expression text differently, so the compiler takes a
:class:`MilvusDialect` (what one engine line can say) and either writes an expression that
selects exactly what :func:`langchain_embedkit.vectorstores.filters.matches` selects, or
raises naming the operator, the engine and the first version that has it. The mapping
and the quirks it works around are described in
:mod:`langchain_embedkit.vectorstores.filters`, which re-exports :func:`to_milvus` and
:func:`milvus_literal`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

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

__all__ = [
    "LITE3",
    "LITE25",
    "SERVER23",
    "SERVER24",
    "MilvusDialect",
    "milvus_literal",
    "to_milvus",
]

_MILVUS_OPS = {"$eq": "==", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MILVUS_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_MILVUS_ESCAPE_RE = re.compile(r'[\\"\n\r\t]')
_QUOTE_ONLY_RE = re.compile(r'[\\"]')
_RANGE_CHECKS = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


@dataclass(frozen=True)
class MilvusDialect:
    """What one Milvus engine line can say in a boolean expression (measured, not assumed).

    Attributes:
        engine: The engine as users name it, e.g. ``"Milvus server 2.3.5"``; used in errors.
        upgrade: The first release line that has every feature this one lacks, for errors.
        bools_are_numbers: ``true == 1`` on a JSON value (milvus-lite 3); otherwise a bool
            equals only a bool and the compiler adds the other spelling itself.
        null_checks: ``metadata["k"] is null`` parses on a JSON key.
        not_operator: ``not (...)`` runs.
        infix_like: ``like "%s%"`` runs (Milvus 2.3 servers match prefixes only).
        like_escapes: ``\\%``, ``\\_`` and ``\\\\`` are literal in a LIKE pattern.
        like_escapes_with_json: those escapes still hold when the expression also reads the
            JSON field (milvus-lite 3 evaluates such expressions row by row, without them).
        text_escapes: ``\\n``, ``\\r`` and ``\\t`` in a string literal mean the control
            characters; otherwise only ``\\\\`` and ``\\"`` are escapes, a raw tab is kept
            and a newline or carriage return cannot be written at all.
        backslash_contains_workaround: a bare ``like "%s%"`` whose ``s`` holds a backslash
            is answered without unescaping (milvus-lite 3 through pyarrow), so such needles
            take a spelled-out form.
    """

    engine: str
    upgrade: str
    bools_are_numbers: bool
    null_checks: bool
    not_operator: bool
    infix_like: bool
    like_escapes: bool
    like_escapes_with_json: bool
    text_escapes: bool
    backslash_contains_workaround: bool = False

    def named(self, engine: str) -> MilvusDialect:
        """The same dialect with the exact engine version in its error messages."""
        return MilvusDialect(**{**self.__dict__, "engine": engine})


LITE3 = MilvusDialect(
    engine="milvus-lite 3",
    upgrade="milvus-lite 3.2",
    bools_are_numbers=True,
    null_checks=True,
    not_operator=True,
    infix_like=True,
    like_escapes=True,
    like_escapes_with_json=False,
    text_escapes=True,
    backslash_contains_workaround=True,
)
"""milvus-lite 3.x (measured on 3.2.2): the default when no dialect is given."""
LITE25 = MilvusDialect(
    engine="milvus-lite 2.5",
    upgrade='milvus-lite 3.2 (pip install "milvus-lite>=3.2.2,<4")',
    bools_are_numbers=False,
    null_checks=False,
    not_operator=False,
    infix_like=True,
    like_escapes=True,
    like_escapes_with_json=True,
    text_escapes=False,
)
"""milvus-lite 2.4 and 2.5 (measured on 2.5.1)."""
SERVER23 = MilvusDialect(
    engine="Milvus server 2.3",
    upgrade="Milvus 2.4.3",
    bools_are_numbers=False,
    null_checks=False,
    not_operator=True,
    infix_like=False,
    like_escapes=False,
    like_escapes_with_json=False,
    text_escapes=True,
)
"""Milvus servers 2.3.x (measured on 2.3.5 standalone)."""
SERVER24 = MilvusDialect(
    engine="Milvus server 2.4",
    upgrade="milvus-lite (whose LIKE escapes this package tests)",
    bools_are_numbers=False,
    null_checks=False,
    not_operator=True,
    infix_like=True,
    like_escapes=False,
    like_escapes_with_json=False,
    text_escapes=True,
)
"""Milvus servers from 2.4.3 on: the 2.3 dialect plus infix LIKE (release notes of 2.4.3).
Only needles without ``%``, ``_`` and ``\\`` are sent, so no LIKE escape is relied upon."""


def milvus_literal(value: Scalar, dialect: MilvusDialect = LITE3) -> str:
    """Quote a value as a Milvus filter literal that can only ever mean that value.

    Strings are double-quoted with ``\\\\``, ``\\"``, ``\\n``, ``\\r`` and ``\\t`` escaped, the
    escapes both Milvus Lite 3 and the Milvus server grammar read; every other character,
    Unicode included, is kept as is. Dialects without control-character escapes (milvus-lite
    2.5) keep a tab raw and refuse a newline or carriage return. Useful for ids too:
    ``f"id in [{milvus_literal(i)}]"``.

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
        if dialect.text_escapes:
            return '"' + _MILVUS_ESCAPE_RE.sub(lambda m: _MILVUS_ESCAPES[m.group()], value) + '"'
        if "\n" in value or "\r" in value:
            msg = (
                f"The filter string {_show(value)} holds a line break, which {dialect.engine} "
                "cannot write in a filter (it reads '\\n' as 'n' and a raw line break does "
                f"not parse); {dialect.upgrade} can. Compare a value without line breaks, "
                "or keep the results that match with "
                "langchain_embedkit.vectorstores.filters.matches."
            )
            raise ValueError(msg)
        return '"' + _QUOTE_ONLY_RE.sub(lambda m: "\\" + m.group(), value) + '"'
    msg = f"Milvus literals are str, int, float or bool; got {_typed(value)}."
    raise ValueError(msg)


def _number_alias(value: Scalar) -> bool | None:
    """The bool that equals a number in Python (``1 == True``), if any."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value == 1:
        return True
    if value == 0:
        return False
    return None


class _MilvusCompiler:
    def __init__(
        self, text_field: str, metadata_field: str, reads_json: bool, dialect: MilvusDialect
    ) -> None:
        self.text_field = text_field
        self.metadata_field = metadata_field
        self.reads_json = reads_json
        self.dialect = dialect

    def lit(self, value: Scalar) -> str:
        return milvus_literal(value, self.dialect)

    def key(self, field: str) -> str:
        return f"{self.metadata_field}[{self.lit(field)}]"

    def spellings(self, value: Scalar) -> list[Scalar]:
        """Every literal the engine needs to match what equals ``value`` in Python."""
        if self.dialect.bools_are_numbers:
            return [value]
        if isinstance(value, bool):
            return [value, int(value)]
        alias = _number_alias(value)
        return [value] if alias is None else [value, alias]

    def cmp(self, node: _Cmp) -> str:
        key, op = self.key(node.field), node.op
        if op in ("$gt", "$gte", "$lt", "$lte"):
            expr = f"{key} {_MILVUS_OPS[op]} {self.lit(node.value)}"
            if self.dialect.bools_are_numbers:
                return expr
            # A stored bool counts as 0 or 1; this engine compares bools to bools only.
            check = _RANGE_CHECKS[op]
            extra = [f"{key} == {self.lit(b)}" for b in (True, False) if check(int(b), node.value)]
            return "(" + " or ".join([expr, *extra]) + ")" if extra else expr
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        spelled = [s for v in values for s in self.spellings(v)]
        if op in ("$eq", "$in"):
            parts = [f"{key} == {self.lit(s)}" for s in spelled]
            return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"
        # $ne / $nin: the exact complement, so a missing key matches.
        parts = [f"{key} != {self.lit(s)}" for s in spelled]
        inner = parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"
        if self.dialect.null_checks:
            # a missing JSON key compares as null in milvus-lite 3, so say it matches
            return f"({key} is null or {inner})"
        # milvus-lite 2.5 and Milvus 2.3 servers: '!=' is true on a missing key (measured)
        return inner

    def refuse(self, what: str, needle: str, since: str) -> ValueError:
        msg = (
            f"'$contains' text {_show(needle)}: {what}, which {self.dialect.engine} cannot "
            f"match; {since} can. Filter on the metadata alone and keep the results whose "
            "text contains it (e.g. with langchain_embedkit.vectorstores.filters.matches)."
        )
        return ValueError(msg)

    def text(self, node: _Text) -> str:
        needle, field, dialect = node.needle, self.text_field, self.dialect
        wildcard = "%" in needle or "_" in needle
        if not dialect.infix_like:
            raise self.refuse("a substring match needs LIKE '%...%'", needle, dialect.upgrade)
        if node.negate and not dialect.not_operator:
            raise self.refuse(
                "'$not' around '$contains' needs the 'not' operator", needle, dialect.upgrade
            )
        if not dialect.like_escapes and (wildcard or "\\" in needle):
            raise self.refuse("'%', '_' or '\\' must be escaped in LIKE", needle, dialect.upgrade)
        if self.reads_json and not dialect.like_escapes_with_json:
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
            like = f"{field} like {self.lit('%' + needle + '%')}"
        elif dialect.backslash_contains_workaround and "\\" in needle and not wildcard:
            # Otherwise pyarrow answers '%...%' with a substring search that skips unescaping
            # ('%a\\\\b%' looks for two backslashes); a '_' sends it to its regex path.
            # Contains s <=> text == s, or s has a character before it, or one after it.
            pattern = needle.replace("\\", "\\\\")
            like = (
                f"({field} == {self.lit(needle)} or "
                f"{field} like {self.lit('_%' + pattern + '%')} or "
                f"{field} like {self.lit('%' + pattern + '%_')})"
            )
        else:
            pattern = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            like = f"{field} like {self.lit('%' + pattern + '%')}"
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
    filter: Filter | None,
    *,
    text_field: str = "text",
    metadata_field: str = "metadata",
    dialect: MilvusDialect = LITE3,
) -> str:
    """Compile a filter to a Milvus boolean expression; ``""`` for no filter.

    The expression targets a collection whose document text is the VARCHAR ``text_field``
    and whose metadata is the JSON ``metadata_field``, in the ``dialect`` of the engine that
    runs it (milvus-lite 3 by default; the store detects its engine when it connects).

    Raises:
        ValueError: The filter is invalid, or that engine cannot express it; the message
            names the operator, the engine and the first version that can.

    Example:
        >>> to_milvus({"$or": [{"lang": "zh"}, {"year": {"$lt": 2020}}]})
        'metadata["lang"] == "zh" or metadata["year"] < 2020'
        >>> to_milvus({"$contains": "50%"})
        'text like "%50\\\\\\\\%%"'
        >>> to_milvus({"n": 1}, dialect=SERVER23)
        '(metadata["n"] == 1 or metadata["n"] == true)'
    """
    for name, field in (("text_field", text_field), ("metadata_field", metadata_field)):
        if not _IDENT_RE.fullmatch(field):
            msg = f"{name} must be a Milvus field name like 'text'; got {_show(field)}."
            raise ValueError(msg)
    node = _compile(filter)
    if node is None:
        return ""
    return _MilvusCompiler(
        text_field, metadata_field, any(isinstance(x, _Cmp) for x in _leaves(node)), dialect
    ).node(node, top=True)
