"""Checks of what callers pass to the store: ids, ``k``, filters and other stores' keywords.

Nothing is silently dropped or widened: a ``str`` where a list of ids belongs, a filter
that is not a dict, a ``k`` that is not a positive integer raise before anything runs, and
the filter keywords of other LangChain stores are either translated faithfully onto the
portable filter language (Chroma's ``where`` and ``where_document``) or refused with a
message naming ``filter=``.

Example:
    >>> search_filter(None, {"where": {"lang": "en"},
    ...                      "where_document": {"$contains": "BM25"}}, "similarity_search")
    {'$and': [{'lang': 'en'}, {'$contains': 'BM25'}]}
"""

from __future__ import annotations

import operator
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from langchain_embedkit.vectorstores.ingest import Item

__all__ = [
    "BackendName",
    "check_collection_name",
    "check_filter",
    "check_ids",
    "check_k",
    "choose_backend",
    "no_extra",
    "search_filter",
    "translate_where_document",
    "write_items",
]

BackendName = Literal["milvus", "chroma"]
"""The engines a store opens."""
_MAX_NAME = 128

_REFUSED = {
    "expr": "a Milvus boolean expression",
    "filter_expr": "a Milvus boolean expression",
    "param": "Milvus search parameters (set search_params= on the store)",
    "search_params": "Milvus search parameters (set search_params= on the store)",
    "where_filter": "a Weaviate filter",
    "pre_filter": "a MongoDB Atlas pre-filter",
}
_CHROMA_METADATA_ONLY = ("$contains", "$not_contains", "$regex", "$not_regex")


def check_k(k: Any, name: str = "k") -> int:
    """``k`` as an int; TypeError for a non-integer, ValueError for ``k <= 0``."""
    if isinstance(k, bool):
        msg = f"{name} must be a positive integer; got the bool {k!r}."
        raise TypeError(msg)
    try:
        value = operator.index(k)
    except TypeError:
        msg = f"{name} must be a positive integer; got {type(k).__name__} {k!r}."
        raise TypeError(msg) from None
    if value <= 0:
        msg = f"{name} must be a positive integer; got {value}."
        raise ValueError(msg)
    return value


def check_ids(ids: Any, name: str = "ids") -> list[str]:
    """A list of string ids; one ``str`` is refused (it would be read letter by letter)."""
    if isinstance(ids, str | bytes):
        msg = (
            f"{name} must be a list of ids, not one {type(ids).__name__} ({ids[:40]!r}); "
            f"wrap it in a list: {name}=[{ids[:40]!r}]."
        )
        raise TypeError(msg)
    if not isinstance(ids, Iterable):
        msg = f"{name} must be a list of string ids; got {type(ids).__name__} {ids!r}."
        raise TypeError(msg)
    out = list(ids)
    for position, value in enumerate(out):
        if not isinstance(value, str):
            msg = (
                f"{name}[{position}] is {type(value).__name__} {value!r}; ids are strings "
                "(str(value) to convert)."
            )
            raise TypeError(msg)
    return out


def check_filter(filter: Any) -> Mapping[str, Any] | None:
    """``filter`` when it is None or a dict; otherwise TypeError (``[]``, ``""``, ``0``...)."""
    if filter is None or isinstance(filter, Mapping):
        return filter
    msg = (
        f"filter must be a dict such as {{'source': 'a.md'}} (or None for no filter); got "
        f"{type(filter).__name__} {filter!r}, which would otherwise match everything."
    )
    raise TypeError(msg)


def _check_where(where: Any, path: str = "where") -> None:
    if isinstance(where, Mapping):
        for key, value in where.items():
            if key in _CHROMA_METADATA_ONLY:
                msg = (
                    f"{path} uses {key!r}, which Chroma applies to metadata lists; the "
                    "portable filter language has no such operator. Pass filter= with "
                    "$in/$eq conditions instead (filter={'$contains': ...} searches the "
                    "document text)."
                )
                raise ValueError(msg)
            _check_where(value, f"{path}[{key!r}]")
    elif isinstance(where, list | tuple):
        for position, item in enumerate(where):
            _check_where(item, f"{path}[{position}]")


def translate_where_document(where_document: Any) -> dict[str, Any]:
    """Chroma's ``where_document`` in the portable filter language.

    Example:
        >>> translate_where_document({"$or": [{"$contains": "a"}, {"$not_contains": "b"}]})
        {'$or': [{'$contains': 'a'}, {'$not': {'$contains': 'b'}}]}
    """
    if not isinstance(where_document, Mapping) or len(where_document) != 1:
        msg = (
            "where_document must be a dict with one operator ($contains, $not_contains, "
            f"$and, $or); got {where_document!r}."
        )
        raise ValueError(msg)
    ((op, value),) = where_document.items()
    if op == "$contains":
        return {"$contains": value}
    if op == "$not_contains":
        return {"$not": {"$contains": value}}
    if op in ("$and", "$or") and isinstance(value, list | tuple):
        return {op: [translate_where_document(item) for item in value]}
    msg = (
        f"where_document operator {op!r} has no equivalent in the portable filter language "
        "(supported: $contains, $not_contains, $and, $or); filter documents with "
        "filter={'$contains': 'text'} instead."
    )
    raise ValueError(msg)


def search_filter(
    filter: Any, extra: Mapping[str, Any], method: str, allowed: Iterable[str] = ()
) -> Mapping[str, Any] | None:
    """The one filter a search (or delete) runs with, from ``filter=`` and Chroma keywords.

    Args:
        filter: The ``filter=`` argument.
        extra: The call's other keyword arguments.
        method: The method name, for messages.
        allowed: Keywords the caller handles itself (left alone here).

    Raises:
        TypeError: ``filter`` is not a dict, or an unknown keyword was passed.
        ValueError: A keyword of another store that cannot be translated.
    """
    parts: list[Mapping[str, Any]] = []
    checked = check_filter(filter)
    if checked:
        parts.append(checked)
    for key, value in extra.items():
        if key in allowed:
            continue
        if key == "where":
            if value is None:
                continue
            if not isinstance(value, Mapping):
                msg = f"where must be a dict (Chroma's metadata filter); got {value!r}."
                raise TypeError(msg)
            _check_where(value)
            if value:
                parts.append(value)
        elif key == "where_document":
            if value:
                parts.append(translate_where_document(value))
        elif key in _REFUSED:
            msg = (
                f"{method}() does not take {key}= ({_REFUSED[key]}); this store filters "
                "with one portable language on every engine: pass filter={...}, e.g. "
                "filter={'source': 'a.md', 'page': {'$gte': 2}}."
            )
            raise ValueError(msg)
        else:
            msg = (
                f"{method}() got an unexpected keyword argument {key!r}; filters go in "
                "filter={...} (Chroma's where= and where_document= are translated)."
            )
            raise TypeError(msg)
    if not parts:
        return checked
    if len(parts) == 1:
        return parts[0]
    return {"$and": list(parts)}


def choose_backend(backend: str | None, persist_directory: object, host: object) -> BackendName:
    """The engine to open: ``persist_directory`` or ``host`` without ``backend`` mean Chroma."""
    if backend is None:
        return "chroma" if persist_directory is not None or host is not None else "milvus"
    if backend == "milvus" and (persist_directory is not None or host is not None):
        given = "persist_directory" if persist_directory is not None else "host"
        msg = (
            f"{given}= is a Chroma setting but backend='milvus' was given; for Milvus pass "
            "uri='./folder/embedkit.db' (Milvus Lite) or uri='http://host:19530', or "
            "drop backend= to use Chroma."
        )
        raise ValueError(msg)
    if backend not in get_args(BackendName):
        names = ", ".join(map(repr, get_args(BackendName)))
        msg = f"Unknown backend {backend!r}; supported: {names}."
        raise ValueError(msg)
    return backend  # type: ignore[return-value]


def check_collection_name(
    name: str, backend: str, uri: str | os.PathLike[str], folder: object
) -> None:
    """Refuse, before anything is written, a name whose state file could not be created."""
    if not isinstance(name, str) or not name:
        msg = f"collection_name must be a non-empty string; got {name!r}."
        raise ValueError(msg)
    state = f"{Path(os.fspath(uri)).name}.{name}" if backend == "milvus" else name
    if len(name) > _MAX_NAME or len((state + ".sparse.json.journal").encode()) > 255:
        msg = (
            f"collection_name {name[:40]!r}... is {len(name)} characters; use at most "
            f"{_MAX_NAME} (the sparse state file beside the data is named after it, and "
            "file names hold 255 bytes)."
        )
        raise ValueError(msg)


def no_extra(kwargs: Mapping[str, Any], method: str) -> None:
    """Refuse keywords a write method does not take (they would be ignored)."""
    if kwargs:
        msg = (
            f"{method}() got unexpected keyword arguments {sorted(kwargs)}; it takes "
            "metadatas, ids and batch_size."
        )
        raise TypeError(msg)


def write_items(
    method: str,
    texts: Iterable[str],
    metadatas: Iterable[Mapping[str, Any] | None] | None,
    ids: Iterable[str | None] | None,
    vectors: Iterable[Sequence[float]] | None,
    what: str = "texts",
) -> tuple[Iterable[Item], int | None]:
    """Zip the columns of a write; unequal lengths raise before anything is written.

    ``texts`` alone is streamed; with other columns every column is read first, so that
    a length mismatch is found before the first batch is stored.
    """
    if isinstance(texts, str):
        msg = f"{method}() takes a list of {what}; got one str. Wrap it: [{texts[:40]!r}]."
        raise TypeError(msg)
    if isinstance(ids, str):
        check_ids(ids)
    if isinstance(metadatas, Mapping):
        msg = f"{method}() takes one metadata dict per text (a list); got one dict."
        raise TypeError(msg)
    if metadatas is None and ids is None and vectors is None:
        total = len(texts) if isinstance(texts, Sequence) else None
        return ((text, None, None, None) for text in texts), total
    columns: dict[str, list[Any]] = {what: list(texts)}
    for name, values in (("metadatas", metadatas), ("ids", ids), ("embeddings", vectors)):
        if values is not None:
            columns[name] = list(values)
    sizes = {name: len(values) for name, values in columns.items()}
    if len(set(sizes.values())) > 1:
        shown = ", ".join(f"{size} {name}" for name, size in sizes.items())
        msg = (
            f"{method}() got {shown}; pass exactly one per {what[:-1]} (None where an id "
            "should be derived from the content). Nothing was written."
        )
        raise ValueError(msg)
    n = sizes[what]
    items = zip(
        columns[what],
        columns.get("metadatas", [None] * n),
        columns.get("ids", [None] * n),
        columns.get("embeddings", [None] * n),
        strict=True,
    )
    return list(items), n
