"""Which Milvus engine a client talks to, and what it can do: detected on connect.

Milvus engines differ in their expression dialect (see
:class:`~langchain_embedkit.vectorstores._filters_milvus.MilvusDialect`) and in their
features. A server reports its version (``get_server_version``); Milvus Lite does not
(2.5 answers UNIMPLEMENTED), so its version is that of the installed ``milvus-lite``.

=====================  ========  ============  ==================  ===============
engine                 dialect   sparse/hybrid  flush after writes  measured on
=====================  ========  ============  ==================  ===============
milvus-lite 3.x        LITE3     yes            yes (search speed)  3.2.2
milvus-lite 2.4/2.5    LITE25    yes            no                  2.5.1
Milvus server 2.3.x    SERVER23  no             no                  2.3.5
Milvus server 2.4.0-2  SERVER23  yes            no                  release notes
Milvus server >=2.4.3  SERVER24  yes            no                  release notes
=====================  ========  ============  ==================  ===============
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from typing import Any

from langchain_embedkit.vectorstores._filters_milvus import (
    LITE3,
    LITE25,
    SERVER23,
    SERVER24,
    MilvusDialect,
)

__all__ = ["SPARSE_SINCE", "MilvusEngine", "detect_engine", "parse_version"]

logger = logging.getLogger(__name__)

SPARSE_SINCE = (2, 4, 0)
"""Sparse vectors and ``hybrid_search`` arrived in Milvus 2.4.0."""
_INFIX_LIKE_SINCE = (2, 4, 3)
_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """The first ``major.minor[.patch]`` in ``text``, e.g. ``"v2.3.5-lite"`` -> (2, 3, 5)."""
    found = _VERSION_RE.search(text or "")
    if found is None:
        return None
    return int(found.group(1)), int(found.group(2)), int(found.group(3) or 0)


def _show(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


@dataclass(frozen=True)
class MilvusEngine:
    """The engine behind a Milvus client and what it can do.

    Attributes:
        local: Milvus Lite (a local file) rather than a server.
        version: The engine version, e.g. ``(2, 3, 5)``.
        dialect: How filters are written for it.
        sparse_vectors: SPARSE_FLOAT_VECTOR fields and their inverted index.
        native_hybrid: ``hybrid_search`` with an RRF ranker on the engine.
        flush_after_writes: Searches run much faster on flushed data (milvus-lite 3).
    """

    local: bool
    version: tuple[int, int, int]
    dialect: MilvusDialect
    sparse_vectors: bool
    native_hybrid: bool
    flush_after_writes: bool

    @property
    def label(self) -> str:
        """The engine as users name it: ``"Milvus server 2.3.5"``, ``"milvus-lite 2.5.1"``."""
        kind = "milvus-lite" if self.local else "Milvus server"
        return f"{kind} {_show(self.version)}"

    @classmethod
    def for_version(cls, version: tuple[int, int, int], *, local: bool) -> MilvusEngine:
        """The capabilities of a given engine line and version."""
        if local:
            dialect = LITE3 if version[0] >= 3 else LITE25
            sparse = True
        else:
            dialect = SERVER24 if version >= _INFIX_LIKE_SINCE else SERVER23
            sparse = version >= SPARSE_SINCE
        label = f"{'milvus-lite' if local else 'Milvus server'} {_show(version)}"
        return cls(local, version, dialect.named(label), sparse, sparse, local and version[0] >= 3)


def detect_engine(client: Any, *, local: bool) -> MilvusEngine:
    """Read the engine version through ``client`` and return what that engine can do.

    A server whose version cannot be read or parsed is treated as the oldest line this
    package knows (Milvus 2.3: no sparse vectors, prefix LIKE only), with a warning.
    """
    if local:
        try:
            text = importlib_metadata.version("milvus-lite")
        except importlib_metadata.PackageNotFoundError:
            text = "3.0.0"  # a build without package metadata: the pinned line
        return MilvusEngine.for_version(parse_version(text) or (3, 0, 0), local=True)
    try:
        text = str(client.get_server_version())
    except Exception:
        logger.warning("could not read the Milvus server version", exc_info=True)
        text = ""
    version = parse_version(text)
    if version is None:
        logger.warning(
            "Milvus server version %r is not in major.minor.patch form; using the Milvus 2.3 "
            "filter dialect and features (no sparse vectors).",
            text,
        )
        version = (2, 3, 0)
    return MilvusEngine.for_version(version, local=False)
