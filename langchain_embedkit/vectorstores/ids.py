"""Deterministic document ids, so that ingesting the same content twice is a no-op."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["NAMESPACE", "canonical_json", "content_id", "resolve_ids"]

NAMESPACE = uuid.UUID("6f1f7c52-3a43-5b8e-9d0c-6c8a1e4b2f10")
"""The uuid5 namespace of content ids; changing it would re-key every stored document."""

_NAMESPACE_BYTES = NAMESPACE.bytes
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(metadata: Mapping[str, Any]) -> str:
    """One JSON text per metadata value: keys sorted, no spaces, UTF-8 kept.

    Raises:
        ValueError: naming the key whose value JSON cannot hold (NaN, a ``datetime``, ...).
    """
    try:
        return _CANONICAL.encode(metadata)
    except (TypeError, ValueError):
        for key, value in metadata.items():
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as exc:
                kind = type(value).__name__
                msg = (
                    f"Metadata key {key!r} holds a value of type {kind} ({value!r}) that cannot "
                    "be stored: metadata values must be JSON (str, int, finite float, bool, "
                    "None, lists and dicts of those). Convert it first, e.g. str(value) or "
                    "value.isoformat() for dates."
                )
                raise ValueError(msg) from exc
        raise


def content_id(text: str, metadata: Mapping[str, Any] | None = None) -> str:
    """A uuid5 of the text and its canonical metadata.

    Example:
        >>> content_id("hello", {"b": 1, "a": 2}) == content_id("hello", {"a": 2, "b": 1})
        True
        >>> content_id("hello") == content_id("hello", {"a": 1})
        False
    """
    name = text + "\x00" + canonical_json(metadata or {})
    # uuid.uuid5 spelled out (same value, a third of the time): SHA-1 of namespace + name,
    # the first 16 bytes with the version (5) and RFC 4122 variant bits set
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def resolve_ids(
    texts: Sequence[str],
    metadatas: Sequence[Mapping[str, Any]],
    ids: Sequence[str | None] | None,
) -> tuple[list[str], list[bool]]:
    """Ids for one batch: explicit ones kept, missing ones derived from content.

    Returns:
        The ids, and per id whether it was derived from content (such a record can be
        skipped when it already exists, since same id means same content).
    """
    out: list[str] = []
    derived: list[bool] = []
    for i, text in enumerate(texts):
        given = ids[i] if ids is not None else None
        if given is None or given == "":
            out.append(content_id(text, metadatas[i]))
            derived.append(True)
        else:
            if not isinstance(given, str):
                msg = f"Document ids must be strings; got {given!r} ({type(given).__name__})."
                raise TypeError(msg)
            out.append(given)
            derived.append(False)
    return out, derived


def is_finite_number(value: Any) -> bool:
    """True for ints and finite floats (bools excluded)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)
