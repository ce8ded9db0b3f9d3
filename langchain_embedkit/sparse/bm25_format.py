"""The JSON file a BM25 encoder is saved to: how it is written, read and checked.

A saved file is untrusted input. Its SHA-256 checksum catches accidents (truncation,
an edit by hand), not tampering: anyone can recompute it. So every field is checked
for its type and range when the file is read, and a file can only choose among the
analysis options the package ships (named token patterns, no arbitrary regular
expression). Any problem raises :class:`~langchain_embedkit.PersistenceError` naming
the file and the field. The file is read only when it is a regular file of at most
``max_bytes`` bytes (``MAX_FILE_BYTES`` by default).

Layout (``format_version`` 1 and 2)::

    {"format": "langchain-embedkit/bm25", "format_version": 1,
     "params": {"k1": 1.5, "b": 0.75, "idf": "lucene", "epsilon": 0.25},
     "analyzer": {"name": "en", ...},
     "stats": {"n_docs": 3, "total_tokens": 21},
     "vocab": ["token", ...],          # token ids are list positions
     "df": [1, ...],                   # documents containing each token
     "checksum": "sha256:..."}

Version 2 is written only for a state that version 1 readers would refuse: after
``partial_unfit``, tokens no document contains any more (``df`` 0, their ids kept) or
no document at all. Everything else is still written as version 1.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from langchain_embedkit.errors import PersistenceError
from langchain_embedkit.sparse.analyzers import Analyzer, analyzer_from_config

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_COUNT",
    "MAX_FILE_BYTES",
    "SavedState",
    "checksum",
    "parse_payload",
    "read_payload",
    "to_payload",
]

FORMAT_NAME = "langchain-embedkit/bm25"
"""Value of the ``format`` key in every saved BM25 file."""
FORMAT_VERSION = 2
"""The newest file format this version writes and reads."""
MAX_FILE_BYTES = 1 << 30
"""Largest file ``load`` reads unless told otherwise (1 GiB, ~40 million tokens)."""
MAX_COUNT = 2**53
"""Bound on document and token counts: every count stays exact as a float."""

_KEYS = frozenset({"format", "format_version", "params", "analyzer", "stats", "vocab", "df"})
_PARAMS = {"k1": (0.0, math.inf), "b": (0.0, 1.0), "epsilon": (0.0, math.inf)}
_IDF = ("lucene", "okapi")
_REFIT = "Fit the encoder again on your corpus and save it (or restore the file from a backup)."


def checksum(payload: Mapping[str, Any]) -> str:
    """``sha256:`` of the canonical JSON of every key but ``checksum``."""
    body = {key: value for key, value in payload.items() if key != "checksum"}
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SavedState:
    """Everything a checked file holds, ready to become an encoder."""

    params: dict[str, Any]
    analyzer: Analyzer
    tokens: list[str]
    df: np.ndarray
    n_docs: int
    total_tokens: int


def to_payload(
    params: Mapping[str, Any],
    analyzer: Mapping[str, Any],
    tokens: list[str],
    df: np.ndarray,
    n_docs: int,
    total_tokens: int,
) -> dict[str, Any]:
    """The JSON-able file content, checksum included."""
    counts = df.tolist()
    # Version 1 readers require df >= 1 and n_docs >= 1: write 2 only when needed.
    version = 1 if n_docs >= 1 and (not counts or min(counts) >= 1) else 2
    payload: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": version,
        "params": dict(params),
        "analyzer": dict(analyzer),
        "stats": {"n_docs": n_docs, "total_tokens": total_tokens},
        "vocab": list(tokens),
        "df": counts,
    }
    payload["checksum"] = checksum(payload)
    return payload


def _refuse(source: str, problem: str) -> PersistenceError:
    return PersistenceError(f"BM25 file {source} {problem}")


def read_payload(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Parsed JSON of a regular file of at most ``max_bytes`` bytes.

    Raises:
        PersistenceError: Missing, not a regular file (FIFO, device, folder), too
            large, not UTF-8 or not JSON. The message names the file.
    """
    source = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
        handle = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError as exc:
        msg = f"BM25 file {source} does not exist; save an encoder there first."
        raise PersistenceError(msg) from exc
    except OSError as exc:
        msg = f"BM25 file {source} cannot be read: {exc.strerror or exc}."
        raise PersistenceError(msg) from exc
    info = os.fstat(handle)
    if not stat.S_ISREG(info.st_mode):
        os.close(handle)
        raise _refuse(
            str(source),
            "is not a regular file (a folder, FIFO or device); point load() at the "
            "file save() wrote.",
        )
    with os.fdopen(handle, "rb") as stream:
        # The size is checked before reading and again while reading (a file may grow).
        data = b"" if info.st_size > max_bytes else stream.read(max_bytes + 1)
    if info.st_size > max_bytes or len(data) > max_bytes:
        raise _refuse(
            str(source),
            f"is larger than the {max_bytes:,}-byte limit. If you trust it, pass a "
            "larger max_bytes to load().",
        )
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        problem = f"is not UTF-8 text (byte {exc.start}): it is not a saved encoder."
        raise _refuse(str(source), f"{problem} {_REFIT}") from exc
    except json.JSONDecodeError as exc:
        msg = (
            f"BM25 file {source} is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}): it is truncated or was edited. Save the encoder "
            "again, or fit it again on your corpus."
        )
        raise PersistenceError(msg) from exc
    except (RecursionError, ValueError) as exc:  # absurd nesting or integer length
        raise _refuse(str(source), f"cannot be parsed ({exc}). {_REFIT}") from exc


class _Checker:
    """Field checks that name the file and the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, problem: str) -> PersistenceError:
        return _refuse(self.source, f"has an invalid field {field!r}: {problem} {_REFIT}")

    def mapping(self, value: Any, field: str, keys: frozenset[str] | set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(field, f"expected an object, got {_kind(value)}.")
        missing, extra = sorted(keys - value.keys()), sorted(value.keys() - keys)
        if missing:
            name = missing[0] if field == "<file>" else f"{field}.{missing[0]}"
            raise _refuse(self.source, f"lacks the required key {name!r}. {_REFIT}")
        if extra:
            raise self.fail(field, f"unexpected key(s) {extra}; expected {sorted(keys)}.")
        return value

    def count(self, value: Any, field: str, low: int, high: int) -> int:
        if type(value) is not int or not low <= value <= high:
            raise self.fail(field, f"expected an integer in {low}..{high}, got {_show(value)}.")
        return value

    def number(self, value: Any, field: str, low: float, high: float) -> float:
        if type(value) not in (int, float) or not math.isfinite(value) or not low <= value <= high:
            expected = f"expected a finite number in [{low}, {high}]"
            raise self.fail(field, f"{expected}, got {_show(value)}.")
        return float(value)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _show(value: Any) -> str:
    text = repr(value)
    return f"{_kind(value)} {text[:40]}{'...' if len(text) > 40 else ''}"


def parse_payload(payload: Any, *, source: str = "<dict>") -> SavedState:
    """Check every field of a parsed file; see :func:`read_payload` for reading it.

    Raises:
        PersistenceError: Not a BM25 file, a newer format version, a failed checksum,
            or a field of the wrong type or out of range (named in the message).
    """
    check = _Checker(source)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        found = payload.get("format") if isinstance(payload, dict) else _kind(payload)
        raise _refuse(
            source,
            f"is not a langchain-embedkit BM25 file (format {str(found)[:80]!r}, expected "
            f"{FORMAT_NAME!r}).",
        )
    version = payload.get("format_version")
    if type(version) is not int or version < 1:
        raise _refuse(
            source, f"has an invalid format_version {_show(version)}; expected an integer >= 1."
        )
    if version > FORMAT_VERSION:
        raise _refuse(
            source,
            f"has format version {version}, newer than the {FORMAT_VERSION} this "
            "langchain-embedkit reads. Upgrade langchain-embedkit to load it.",
        )
    if payload.get("checksum") != checksum(payload):
        raise _refuse(
            source,
            "fails its checksum: it was edited or corrupted after it was saved. "
            "Restore it from a backup, or fit and save the encoder again.",
        )
    check.mapping(payload, "<file>", _KEYS | {"checksum"})

    params = check.mapping(payload["params"], "params", set(_PARAMS) | {"idf"})
    for name, (low, high) in _PARAMS.items():
        check.number(params[name], f"params.{name}", low, high)
    if params["idf"] not in _IDF:
        raise check.fail("params.idf", f"expected one of {_IDF}, got {_show(params['idf'])}.")

    stats = check.mapping(payload["stats"], "stats", {"n_docs", "total_tokens"})
    low = 1 if version == 1 else 0
    n_docs = check.count(stats["n_docs"], "stats.n_docs", low, MAX_COUNT)
    total_tokens = check.count(stats["total_tokens"], "stats.total_tokens", 0, MAX_COUNT)
    if n_docs == 0 and total_tokens:
        raise check.fail("stats.total_tokens", f"{total_tokens} tokens in 0 documents.")

    tokens, df = _vocabulary(check, payload["vocab"], payload["df"], n_docs, low)
    if int(df.sum()) > total_tokens:
        raise check.fail(
            "df", f"its sum {int(df.sum())} exceeds stats.total_tokens ({total_tokens})."
        )

    analyzer_config = payload["analyzer"]
    if not isinstance(analyzer_config, dict):
        raise check.fail("analyzer", f"expected an object, got {_kind(analyzer_config)}.")
    try:
        analyzer = analyzer_from_config(analyzer_config)
    except (TypeError, ValueError) as exc:
        raise check.fail("analyzer", str(exc)) from exc
    return SavedState(
        params={name: params[name] for name in ("k1", "b", "idf", "epsilon")},
        analyzer=analyzer,
        tokens=tokens,
        df=df,
        n_docs=n_docs,
        total_tokens=total_tokens,
    )


def _vocabulary(
    check: _Checker, vocab: Any, df: Any, n_docs: int, low: int
) -> tuple[list[str], np.ndarray]:
    """Tokens in id order (unique strings) and their document frequencies (low..n_docs)."""
    if not isinstance(vocab, list):
        raise check.fail("vocab", f"expected a list of tokens in id order, got {_kind(vocab)}.")
    if not isinstance(df, list):
        raise check.fail("df", f"expected a list of counts, got {_kind(df)}.")
    if len(vocab) != len(df):
        raise check.fail(
            "df",
            f"'vocab' and 'df' must be lists of the same length; got {len(vocab)} tokens "
            f"and {len(df)} counts.",
        )
    if not set(map(type, vocab)) <= {str}:  # one pass in C; the loop only names the culprit
        index, token = next((i, t) for i, t in enumerate(vocab) if type(t) is not str)
        raise check.fail(f"vocab[{index}]", f"expected a string, got {_show(token)}.")
    if len(set(vocab)) != len(vocab):
        seen: dict[str, int] = {}
        for index, token in enumerate(vocab):
            if token in seen:
                raise check.fail(
                    f"vocab[{index}]",
                    f"duplicate token {token[:40]!r} (also id {seen[token]}): one id per token.",
                )
            seen[token] = index
    if not set(map(type, df)) <= {int}:
        index = next(i for i, count in enumerate(df) if type(count) is not int)
        raise check.fail(f"df[{index}]", f"expected an integer, got {_show(df[index])}.")
    if df and (min(df) < low or max(df) > n_docs):
        index = next(i for i, count in enumerate(df) if not low <= count <= n_docs)
        raise check.fail(
            f"df[{index}]",
            f"document frequency {_show(df[index])} outside {low}..n_docs ({n_docs}).",
        )
    return list(vocab), np.asarray(df, dtype=np.int64)
