"""The filter language: validation messages, the reference evaluator and both compilers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from milvus_lite.search.filter.parser import parse_expr
from milvus_lite.search.filter.tokens import TokenKind, tokenize

from langchain_embedkit.vectorstores.filters import (
    SUPPORTED_OPERATORS,
    matches,
    milvus_literal,
    to_chroma,
    to_milvus,
    to_predicate,
    validate_filter,
)

HOSTILE = [
    'x" or 1==1 or "',
    "x' or '1'='1",
    '\\" or true or \\"',
    "\\",
    "\\\\",
    "a\nb",
    "a\r\nb",
    "\t",
    "%",
    "_",
    "中文 「引号」",
    "😀",
    "",
    "\x01\x7f",
    "\u2028",
    '"]) or (metadata["a"',
]


# --------------------------------------------------------------------------- validation


def test_supported_operators_are_the_documented_list() -> None:
    assert SUPPORTED_OPERATORS == (
        "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin",
        "$and", "$or", "$not", "$contains",
    )  # fmt: skip


def test_unknown_operator_lists_the_supported_ones() -> None:
    with pytest.raises(ValueError) as info:
        validate_filter({"source": {"$regex": "a.*"}})
    assert str(info.value) == (
        "Unknown filter operator '$regex' on field 'source'; supported: $eq, $ne, $gt, $gte, "
        "$lt, $lte, $in, $nin, $and, $or, $not, $contains."
    )
    with pytest.raises(ValueError, match=r"^Unknown filter operator '\$nor'; supported: \$eq"):
        validate_filter({"$nor": [{"a": 1}]})


@pytest.mark.parametrize(
    ("filter", "message"),
    [
        ({"$and": []}, r"'\$and' needs a non-empty list of conditions.*got list: \[\]"),
        ({"$or": {"a": 1}}, r"'\$or' needs a non-empty list of conditions.*got dict"),
        ({"$and": [{}]}, r"must be a non-empty dict such as \{\"lang\": \"en\"\}; got dict: \{\}"),
        ({"$and": ["a"]}, r"must be a non-empty dict .*; got str: 'a'"),
        ({"$not": [{"a": 1}]}, r"'\$not' needs one condition dict.*got list"),
        ({"a": {"$in": "x"}}, r"'\$in' on field 'a' needs a non-empty list.*got str: 'x'"),
        ({"a": {"$nin": []}}, r"'\$nin' on field 'a' got an empty list.*drop the condition"),
        ({"a": {"$in": [[1]]}}, r"'\$in' on field 'a' needs a str, int, float or bool; got list"),
        ({"a": {"$gt": "2020"}}, r"'\$gt' on field 'a' needs an int or float; got str: '2020'"),
        ({"a": {"$lte": True}}, r"'\$lte' on field 'a' needs an int or float; got bool"),
        ({"a": {"$eq": {"b": 1}}}, r"'\$eq' on field 'a' needs a str.*got a dict"),
        ({"a": {"b": 1}}, r"field 'a' must be a str.*or a dict of operators.*Nested metadata"),
        ({"a": {}}, r"Empty condition on field 'a'"),
        ({"a": None}, r"'\$eq' on field 'a' needs a str, int, float or bool; got NoneType"),
        ({"a": float("nan")}, r"got nan; filter numbers must be finite"),
        ({"a": 2**63}, r"does not fit in 64 bits"),
        ({"a": "\ud800"}, r"lone surrogate"),
        ({"a": {"$contains": "x"}}, r"'\$contains' matches the document text.*field 'a'"),
        ({"a": {"$or": [1, 2]}}, r"'\$or' combines whole conditions and cannot sit under"),
        ({"$eq": 1}, r"'\$eq' compares a field and must sit under one"),
        ({"$contains": ""}, r"'\$contains' needs a non-empty string"),
        ({"$contains": 5}, r"'\$contains' needs a non-empty string.*got int: 5"),
        ({"$contains": "a\x00b"}, r"without NUL characters"),
        ({1: "a"}, r"Filter keys must be strings; got int: 1"),
        ({'a"]': 1}, r"Invalid filter field name 'a\"\]'.*Rename the metadata key"),
        ({"#document": 1}, r"Invalid filter field name '#document'"),
        ({"": 1}, r"Invalid filter field name ''"),
        ({"a\nb": 1}, r"Invalid filter field name"),
        ({"x" * 257: 1}, r"Invalid filter field name"),
    ],
)
def test_bad_filters_raise_clear_errors(filter: Any, message: str) -> None:
    for check in (
        validate_filter,
        to_chroma,
        to_milvus,
        lambda f: matches(f, {}, ""),
    ):
        with pytest.raises(ValueError, match=message):
            check(filter)


def test_a_filter_that_is_not_a_dict_is_refused() -> None:
    with pytest.raises(ValueError, match=r"got str: 'source=a\.md'"):
        validate_filter("source=a.md")  # type: ignore[arg-type]


def test_deep_nesting_is_refused_with_a_message_not_a_recursion_error() -> None:
    filter: dict[str, Any] = {"a": 1}
    for _ in range(100):
        filter = {"$not": filter}
    with pytest.raises(ValueError, match="nested more than 64 levels"):
        validate_filter(filter)


@pytest.mark.parametrize("name", ["source", "作者", "Header 1", "doc.page", "a-b:c", "_x", "2024"])
def test_usual_metadata_keys_are_accepted(name: str) -> None:
    validate_filter({name: 1})
    assert to_milvus({name: 1}) == f"metadata[{milvus_literal(name)}] == 1"


def test_none_and_empty_mean_no_filter() -> None:
    for nothing in (None, {}):
        validate_filter(nothing)
        assert to_chroma(nothing) == (None, None)
        assert to_milvus(nothing) == ""
        assert matches(nothing, {}, "")


# --------------------------------------------------------------------------- reference evaluator


@pytest.mark.parametrize(
    ("filter", "metadata", "text", "expected"),
    [
        ({"a": 1}, {"a": 1}, "", True),
        ({"a": 1}, {"a": 1.0}, "", True),
        ({"a": 1}, {"a": True}, "", True),  # Python equality: True == 1
        ({"a": True}, {"a": 1}, "", True),
        ({"a": False}, {"a": 0.0}, "", True),
        ({"a": 1}, {"a": "1"}, "", False),
        ({"a": "5"}, {"a": 5}, "", False),
        ({"a": 1}, {}, "", False),
        ({"a": 1}, {"a": None}, "", False),
        ({"a": {"$ne": 1}}, {}, "", True),  # $ne matches a missing field
        ({"a": {"$ne": 1}}, {"a": None}, "", True),
        ({"a": {"$ne": 1}}, {"a": True}, "", False),
        ({"a": {"$ne": "x"}}, {"a": 3}, "", True),
        ({"a": {"$in": [1, "x"]}}, {"a": "x"}, "", True),
        ({"a": {"$in": [1, "x"]}}, {}, "", False),
        ({"a": {"$nin": [1, "x"]}}, {}, "", True),
        ({"a": {"$nin": [1, "x"]}}, {"a": 1.0}, "", False),
        ({"a": {"$gt": 1}}, {"a": 1.5}, "", True),
        ({"a": {"$gt": 0.5}}, {"a": True}, "", True),  # bool counts as 1
        ({"a": {"$lt": 0.5}}, {"a": False}, "", True),
        ({"a": {"$gt": 1}}, {"a": "9"}, "", False),  # strings never satisfy a range
        ({"a": {"$gte": 1}}, {}, "", False),
        ({"a": {"$gte": 1, "$lt": 3}}, {"a": 2}, "", True),
        ({"a": {"$gte": 1, "$lt": 3}}, {"a": 3}, "", False),
        ({"$not": {"a": {"$gt": 1}}}, {"a": 1}, "", True),
        ({"$not": {"a": {"$gt": 1}}}, {}, "", False),  # flips to $lte, which needs a number
        ({"$not": {"a": {"$gt": 1}}}, {"a": "x"}, "", False),
        ({"$not": {"a": 1}}, {}, "", True),
        ({"$not": {"a": {"$in": [1, 2]}}}, {"a": 3}, "", True),
        ({"$not": {"$not": {"a": 1}}}, {"a": 1}, "", True),
        ({"$not": {"a": 1, "b": 2}}, {"a": 1, "b": 3}, "", True),
        ({"$not": {"a": 1, "b": 2}}, {"a": 1, "b": 2}, "", False),
        ({"$not": {"$or": [{"a": 1}, {"b": 2}]}}, {"a": 2}, "", True),
        ({"$contains": "向量"}, {}, "关于向量检索", True),
        ({"$contains": "Vector"}, {}, "vector", False),  # case-sensitive
        ({"$contains": "50%"}, {}, "only 50x", False),
        ({"$not": {"$contains": "x"}}, {}, "abc", True),
        ({"a": 1, "$contains": "b"}, {"a": 1}, "abc", True),
        ({"a": 1, "$contains": "z"}, {"a": 1}, "abc", False),
        ({"$or": [{"a": 1}, {"$contains": "z"}]}, {"a": 2}, "z", True),
        ({"$and": [{"a": 1}]}, {"a": 1}, "", True),
        ({"a": 'x" or 1==1 or "'}, {"a": "x"}, "", False),
    ],
)
def test_reference_evaluator(
    filter: dict[str, Any], metadata: dict[str, Any], text: str, expected: bool
) -> None:
    assert matches(filter, metadata, text) is expected


def test_predicate_is_reusable_and_pure() -> None:
    filter = {"lang": {"$in": ["zh", "en"]}}
    keep = to_predicate(filter)
    assert [keep(m, "") for m in ({"lang": "zh"}, {"lang": "fr"}, {})] == [True, False, False]
    assert filter == {"lang": {"$in": ["zh", "en"]}}
    assert to_predicate(None)({}, "") is True
    # Rows stored without metadata or text read as empty.
    assert to_predicate({"lang": {"$ne": "en"}})(None, None) is True  # type: ignore[arg-type]
    assert to_predicate({"$contains": "x"})(None, None) is False  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Chroma


@pytest.mark.parametrize(
    ("filter", "where", "where_document"),
    [
        ({"source": "a.md"}, {"source": {"$eq": "a.md"}}, None),
        (
            {"source": "a.md", "page": {"$gte": 2}},
            {"$and": [{"source": {"$eq": "a.md"}}, {"page": {"$gte": 2}}]},
            None,
        ),
        ({"n": 1}, {"$or": [{"n": {"$eq": 1}}, {"n": {"$eq": True}}]}, None),
        ({"n": 2.0}, {"n": {"$eq": 2.0}}, None),
        # Chroma truncates a fractional float operand when it meets a stored int
        # (0.5 == 0 there), so the neighbouring integers are settled explicitly.
        ({"n": 2.5}, {"$and": [{"n": {"$eq": 2.5}}, {"n": {"$nin": [2, 3]}}]}, None),
        ({"n": {"$ne": -0.5}}, {"$or": [{"n": {"$ne": -0.5}}, {"n": {"$in": [-1, 0]}}]}, None),
        ({"n": {"$gt": 2.5}}, {"$or": [{"n": {"$gt": 2.5}}, {"n": {"$eq": 3}}]}, None),
        ({"n": {"$gte": 2.5}}, {"$and": [{"n": {"$gte": 2.5}}, {"n": {"$ne": 2}}]}, None),
        (
            {"n": {"$lt": -0.5}},
            {"$or": [{"n": {"$lt": -0.5}}, {"n": {"$eq": -1}}]},
            None,
        ),
        (
            {"n": {"$lte": 1.5}},
            {
                "$or": [
                    {"$and": [{"n": {"$lte": 1.5}}, {"n": {"$ne": 2}}]},
                    {"n": {"$in": [True, False]}},
                ]
            },
            None,
        ),
        ({"n": False}, {"$or": [{"n": {"$eq": False}}, {"n": {"$eq": 0}}]}, None),
        ({"n": {"$ne": 0}}, {"$and": [{"n": {"$ne": 0}}, {"n": {"$ne": False}}]}, None),
        (
            {"n": {"$in": [1, "x", 2, 2.5, "y"]}},
            {
                "$or": [
                    {"n": {"$in": [1, 2]}},
                    {"n": {"$eq": True}},
                    {"n": {"$in": ["x", "y"]}},
                    {"$and": [{"n": {"$eq": 2.5}}, {"n": {"$nin": [2, 3]}}]},
                ]
            },
            None,
        ),
        (
            {"n": {"$nin": ["x", "y"]}},
            {"n": {"$nin": ["x", "y"]}},
            None,
        ),
        ({"n": {"$gt": 1}}, {"n": {"$gt": 1}}, None),
        ({"n": {"$gte": 1}}, {"$or": [{"n": {"$gte": 1}}, {"n": {"$eq": True}}]}, None),
        ({"n": {"$lt": 5}}, {"$or": [{"n": {"$lt": 5}}, {"n": {"$in": [True, False]}}]}, None),
        (
            {"$not": {"n": {"$gt": 1}}},
            {"$or": [{"n": {"$lte": 1}}, {"n": {"$in": [True, False]}}]},
            None,
        ),
        ({"$contains": "向量"}, None, {"$contains": "向量"}),
        ({"$not": {"$contains": "x"}}, None, {"$not_contains": "x"}),
        (
            {"lang": "zh", "$contains": "向量", "$and": [{"$contains": "检索"}]},
            {"lang": {"$eq": "zh"}},
            {"$and": [{"$contains": "向量"}, {"$contains": "检索"}]},
        ),
        (
            {"$or": [{"$contains": "a"}, {"$contains": "b"}]},
            None,
            {"$or": [{"$contains": "a"}, {"$contains": "b"}]},
        ),
        (
            {"$or": [{"lang": "zh"}, {"$contains": "向量"}]},
            {"$or": [{"lang": {"$eq": "zh"}}, {"#document": {"$contains": "向量"}}]},
            None,
        ),
        (
            {"$not": {"lang": "zh", "$contains": "向量"}},
            {"$or": [{"lang": {"$ne": "zh"}}, {"#document": {"$not_contains": "向量"}}]},
            None,
        ),
        (
            {"$and": [{"$or": [{"a": "x"}, {"b": "y"}]}, {"$or": [{"a": "z"}, {"b": "w"}]}]},
            {
                "$and": [
                    {"$or": [{"a": {"$eq": "x"}}, {"b": {"$eq": "y"}}]},
                    {"$or": [{"a": {"$eq": "z"}}, {"b": {"$eq": "w"}}]},
                ]
            },
            None,
        ),
    ],
)
def test_chroma_compilation(
    filter: dict[str, Any], where: dict[str, Any] | None, where_document: dict[str, Any] | None
) -> None:
    assert to_chroma(filter) == (where, where_document)


def test_chroma_refuses_mixed_or_when_document_conditions_must_stay_out_of_where() -> None:
    filter = {"$or": [{"lang": "zh"}, {"$contains": "向量"}]}
    with pytest.raises(ValueError) as info:
        to_chroma(filter, document_in_where=False)
    message = str(info.value)
    assert "'$contains' ('向量') inside an '$or' or '$not'" in message
    assert "Move '$contains' to the top level" in message
    # Top-level text conditions never need it.
    assert to_chroma({"lang": "zh", "$contains": "向量"}, document_in_where=False) == (
        {"lang": {"$eq": "zh"}},
        {"$contains": "向量"},
    )


def test_chroma_hostile_strings_pass_through_unchanged() -> None:
    for value in HOSTILE:
        assert to_chroma({"a": value}) == ({"a": {"$eq": value}}, None)


# --------------------------------------------------------------------------- Milvus


@pytest.mark.parametrize(
    ("filter", "expression"),
    [
        ({"source": "a.md"}, 'metadata["source"] == "a.md"'),
        ({"n": 1, "m": -2.5}, 'metadata["n"] == 1 and metadata["m"] == -2.5'),
        ({"flag": True}, 'metadata["flag"] == true'),
        ({"n": {"$ne": 1}}, '(metadata["n"] is null or metadata["n"] != 1)'),
        ({"n": {"$in": ["a", 1]}}, '(metadata["n"] == "a" or metadata["n"] == 1)'),
        ({"n": {"$in": ["a"]}}, 'metadata["n"] == "a"'),
        (
            {"n": {"$nin": ["a", 1]}},
            '(metadata["n"] is null or (metadata["n"] != "a" and metadata["n"] != 1))',
        ),
        ({"n": {"$gte": 1, "$lt": 1e20}}, 'metadata["n"] >= 1 and metadata["n"] < 1e+20'),
        ({"$not": {"n": {"$gt": 1}}}, 'metadata["n"] <= 1'),
        (
            {"$or": [{"a": 1}, {"b": 2, "c": 3}]},
            'metadata["a"] == 1 or (metadata["b"] == 2 and metadata["c"] == 3)',
        ),
        (
            {"$not": {"$or": [{"a": 1}, {"b": {"$in": [2, 3]}}]}},
            '(metadata["a"] is null or metadata["a"] != 1) and '
            '(metadata["b"] is null or (metadata["b"] != 2 and metadata["b"] != 3))',
        ),
        ({"$contains": "向量"}, 'text like "%向量%"'),
        ({"$contains": "50%"}, 'text like "%50\\\\%%"'),
        ({"$contains": "a_b"}, 'text like "%a\\\\_b%"'),
        (
            {"$contains": "C:\\dir"},
            '(text == "C:\\\\dir" or text like "_%C:\\\\\\\\dir%" or text like "%C:\\\\\\\\dir%_")',
        ),
        ({"$contains": "C:\\d_r"}, 'text like "%C:\\\\\\\\d\\\\_r%"'),
        ({"$not": {"$contains": "x"}}, 'not (text like "%x%")'),
        # Next to a JSON condition Milvus Lite evaluates LIKE without escapes: '\' is literal.
        ({"a": 1, "$contains": "C:\\dir"}, 'metadata["a"] == 1 and text like "%C:\\\\dir%"'),
        ({"作者": "鲁迅"}, 'metadata["作者"] == "鲁迅"'),
    ],
)
def test_milvus_compilation(filter: dict[str, Any], expression: str) -> None:
    assert to_milvus(filter) == expression
    parse_expr(expression)  # the engine's own parser accepts it


def test_milvus_field_names_are_configurable_and_checked() -> None:
    assert to_milvus({"a": 1, "$contains": "x"}, text_field="body", metadata_field="meta") == (
        'meta["a"] == 1 and body like "%x%"'
    )
    with pytest.raises(ValueError, match=r"metadata_field must be a Milvus field name.*'m\[0\]'"):
        to_milvus({"a": 1}, metadata_field="m[0]")
    with pytest.raises(ValueError, match=r"text_field must be a Milvus field name"):
        to_milvus({"a": 1}, text_field="text or 1")


@pytest.mark.parametrize("needle", ["50%", "a_b", "%", "_"])
def test_milvus_refuses_literal_wildcards_next_to_metadata(needle: str) -> None:
    filter = {"$or": [{"a": 1}, {"$contains": needle}]}
    with pytest.raises(ValueError) as info:
        to_milvus(filter)
    message = str(info.value)
    assert f"'$contains' text {needle!r} holds '%' or '_'" in message
    assert "cannot match literally in a filter that also has metadata conditions" in message
    assert "Filter on the text alone" in message
    to_milvus({"$contains": needle})  # alone it compiles
    assert to_chroma(filter)[0] is not None  # and Chroma takes it as is


@pytest.mark.parametrize("value", HOSTILE)
def test_milvus_literal_is_one_string_token_with_the_same_value(value: str) -> None:
    tokens = tokenize(milvus_literal(value))
    assert [t.kind for t in tokens] == [TokenKind.STRING, TokenKind.EOF]
    assert tokens[0].value == value


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_milvus_literal_round_trips_any_text(value: str) -> None:
    tokens = tokenize(milvus_literal(value))
    assert [t.kind for t in tokens] == [TokenKind.STRING, TokenKind.EOF]
    assert tokens[0].value == value


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_value_stays_one_comparison(value: str) -> None:
    tree = parse_expr(to_milvus({"a": value}))
    assert type(tree).__name__ == "CmpOp"
    assert tree.right.value == value  # type: ignore[attr-defined]
    needle = value or "x"
    tree = parse_expr(to_milvus({"$contains": needle}))
    if "\\" in needle and "%" not in needle and "_" not in needle:
        assert [type(t).__name__ for t in tree.operands] == ["CmpOp", "LikeOp", "LikeOp"]  # type: ignore[attr-defined]
        assert tree.operands[0].right.value == needle  # type: ignore[attr-defined]
    else:
        assert type(tree).__name__ == "LikeOp"


def test_milvus_literal_scalars() -> None:
    assert [milvus_literal(v) for v in (True, False, 0, -7, 0.1, -0.0, 1e-7)] == [
        "true", "false", "0", "-7", "0.1", "-0.0", "1e-07",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="must be finite"):
        milvus_literal(float("inf"))
    with pytest.raises(ValueError, match=r"got list"):
        milvus_literal([1])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- structure


leaf_values = st.one_of(
    st.booleans(), st.integers(-3, 3), st.floats(-2, 2), st.sampled_from(HOSTILE)
)
field_leaf = (
    st.builds(
        lambda f, op, v: {f: {op: v}},
        st.sampled_from(["a", "b"]),
        st.sampled_from(["$eq", "$ne"]),
        leaf_values,
    )
    | st.builds(
        lambda f, op, v: {f: {op: v}},
        st.sampled_from(["a", "b"]),
        st.sampled_from(["$gt", "$gte", "$lt", "$lte"]),
        st.integers(-3, 3),
    )
    | st.builds(
        lambda f, op, v: {f: {op: v}},
        st.sampled_from(["a", "b"]),
        st.sampled_from(["$in", "$nin"]),
        st.lists(leaf_values, min_size=1, max_size=4),
    )
)
random_filters = st.recursive(
    field_leaf | st.sampled_from(["x", "%", "y_"]).map(lambda s: {"$contains": s}),
    lambda kids: st.one_of(
        st.lists(kids, min_size=1, max_size=3).map(lambda items: {"$and": items}),
        st.lists(kids, min_size=1, max_size=3).map(lambda items: {"$or": items}),
        kids.map(lambda item: {"$not": item}),
    ),
    max_leaves=8,
)


def _chroma_shape_ok(clause: Any, document: bool) -> bool:
    """Chroma's rules: one key per dict, $and/$or with at least two items, typed lists."""
    assert isinstance(clause, dict) and len(clause) == 1, clause
    ((key, value),) = clause.items()
    if key in ("$and", "$or"):
        assert isinstance(value, list) and len(value) >= 2, clause
        return all(_chroma_shape_ok(item, document) for item in value)
    if document:
        assert key in ("$contains", "$not_contains") and isinstance(value, str), clause
        return True
    assert isinstance(value, dict) and len(value) == 1, clause
    ((op, operand),) = value.items()
    if key == "#document":
        assert op in ("$contains", "$not_contains"), clause
    elif op in ("$in", "$nin"):
        assert operand and all(type(x) is type(operand[0]) for x in operand), clause
    else:
        assert op in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte"), clause
    return True


@settings(max_examples=150, deadline=None)
@given(random_filters)
def test_compiled_filters_have_shapes_the_engines_accept(filter: dict[str, Any]) -> None:
    where, where_document = to_chroma(filter)
    assert where is not None or where_document is not None
    if where is not None:
        _chroma_shape_ok(where, document=False)
    if where_document is not None:
        _chroma_shape_ok(where_document, document=True)
    try:
        expression = to_milvus(filter)
    except ValueError as exc:
        assert "cannot match literally" in str(exc)
        return
    parse_expr(expression)
