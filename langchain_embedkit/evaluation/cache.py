"""On-disk cache of embeddings, so evaluating again does not encode the corpus again.

An entry is keyed by the model's identity (class and the settings that change vectors,
never secrets) and a hash of the texts in order, and stored as two files named for what
they hold::

    <cache_dir>/<model-slug>-<identity hash>/documents-<content hash>.npy   float32 rows
    <cache_dir>/<model-slug>-<identity hash>/documents-<content hash>.json  what made them

The ``.json`` is written last, so an interrupted write is never read back; a file that
does not match its description is ignored with a warning and encoded again. Nothing is
pickled (``np.load(..., allow_pickle=False)``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, SecretStr

from langchain_embedkit._fs import atomic_write

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

__all__ = ["EmbeddingCache", "content_hash", "default_cache_dir", "model_identity"]

FORMAT_VERSION = 1
Role = Literal["documents", "queries"]

# Settings that change speed or transport but never the vectors.
_IGNORED = {
    "batch_size",
    "show_progress_bar",
    "show_progress",
    "device",
    "max_retries",
    "timeout",
    "request_timeout",
    "max_concurrency",
    "num_workers",
    "verbose",
    "client",
    "async_client",
    "cache_folder",
    "http_client",
    "http_async_client",
}
_SECRET = re.compile(r"key|secret|token|password|auth|header|cookie", re.IGNORECASE)
_SKIP: Any = object()


def default_cache_dir() -> Path:
    """``embeddings/`` under ``$EMBEDKIT_CACHE_DIR``, else under
    ``$XDG_CACHE_HOME/langchain-embedkit`` (see :func:`langchain_embedkit._cache.cache_root`)."""
    from langchain_embedkit._cache import cache_root

    return cache_root() / "embeddings"


def content_hash(texts: Sequence[str]) -> str:
    """SHA-256 of the texts in order (length-prefixed, so boundaries count).

    Example:
        >>> content_hash(["ab", "c"]) == content_hash(["a", "bc"])
        False
    """
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        items = [_jsonable(v) for v in value]
        return _SKIP if any(i is _SKIP for i in items) else items
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if _SECRET.search(str(k)):
                continue
            j = _jsonable(v)
            if j is not _SKIP:
                out[str(k)] = j
        return out
    return _SKIP


def _fingerprint(path: str) -> dict[str, list[int]] | None:
    """Sizes and times of a local model folder's files, so a changed model is seen."""
    if len(path) > 4096 or "\n" in path:
        return None
    try:
        p = Path(path).expanduser()
        if not p.exists():
            return None
        files = [p] if p.is_file() else sorted(f for f in p.iterdir() if f.is_file())
        return {
            f.name: [f.stat().st_size, f.stat().st_mtime_ns]
            for f in files
            if not f.name.startswith(".")
        }
    except OSError:
        return None


def model_identity(embeddings: Embeddings) -> dict[str, Any]:
    """What identifies the vectors an embeddings object produces.

    The class, and every plain setting (model name, dimensions, prompts, base URL...)
    except secrets and speed settings (pydantic fields, or for other classes the
    attributes named like ``__init__`` parameters); a local model path also brings the sizes and
    modification times of its files.

    Example:
        >>> from langchain_core.embeddings import FakeEmbeddings
        >>> model_identity(FakeEmbeddings(size=8))["params"]
        {'size': 8}
    """
    cls = type(embeddings)
    params: dict[str, Any] = {}
    if isinstance(embeddings, BaseModel):
        names = list(type(embeddings).model_fields)
    else:
        # Plain classes: the attributes named like constructor parameters are the
        # configuration (the scikit-learn convention); other state may change per call.
        try:
            signature = inspect.signature(cls.__init__)
        except (TypeError, ValueError):
            signature = None
        params_in_init = set(signature.parameters) - {"self"} if signature else set()
        names = [n for n in vars(embeddings) if n in params_in_init]
    for name in sorted(names):
        if name in _IGNORED or _SECRET.search(name):
            continue
        value = getattr(embeddings, name, None)
        if isinstance(value, SecretStr):
            continue
        j = _jsonable(value)
        if j is _SKIP:
            continue
        params[name] = j
    files = {}
    for name, value in params.items():
        if isinstance(value, str) and ("/" in value or os.sep in value or value.startswith(".")):
            fp = _fingerprint(value)
            if fp:
                files[name] = fp
    identity: dict[str, Any] = {"class": f"{cls.__module__}.{cls.__qualname__}", "params": params}
    if files:
        identity["files"] = files
    return identity


def _slug(identity: dict[str, Any]) -> str:
    params = identity.get("params", {})
    name = next(
        (
            str(params[k])
            for k in ("model_name", "model", "model_id", "model_path")
            if params.get(k)
        ),
        identity["class"].rsplit(".", 1)[-1],
    )
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rstrip("/").rsplit("/", 1)[-1])[:40]
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return f"{name or 'model'}-{digest}"


class EmbeddingCache:
    """Embeddings on disk (npy + JSON), keyed by model identity and text content.

    Args:
        cache_dir: Folder for the cache; :func:`default_cache_dir` when ``None``.
        chunk_size: Texts per ``embed_documents`` call while encoding (one progress step).

    Example:
        >>> import tempfile
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> cache = EmbeddingCache(tempfile.mkdtemp())
        >>> emb = DeterministicFakeEmbedding(size=4)
        >>> cache.encode(emb, ["a", "b"], show_progress_bar=False).shape
        (2, 4)
        >>> cache.last_hit
        False
        >>> _ = cache.encode(emb, ["a", "b"], show_progress_bar=False); cache.last_hit
        True
    """

    def __init__(self, cache_dir: str | Path | None = None, *, chunk_size: int = 256) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        if chunk_size < 1:
            msg = f"chunk_size must be >= 1; got {chunk_size}."
            raise ValueError(msg)
        self.chunk_size = chunk_size
        self.last_hit = False
        """Whether the last :meth:`encode` call was answered from disk."""

    def paths(
        self, identity: dict[str, Any], role: Role, texts: Sequence[str]
    ) -> tuple[Path, Path]:
        """The ``.npy`` and ``.json`` paths of an entry."""
        folder = self.cache_dir / _slug(identity)
        stem = f"{role}-{content_hash(texts)[:32]}"
        return folder / f"{stem}.npy", folder / f"{stem}.json"

    def load(self, identity: dict[str, Any], role: Role, texts: Sequence[str]) -> np.ndarray | None:
        """The cached matrix, or ``None`` when absent or not matching its description."""
        npy, meta_path = self.paths(identity, role, texts)
        if not meta_path.exists() or not npy.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("format_version") != FORMAT_VERSION:
                return None
            matrix = np.load(npy, allow_pickle=False)
        except (OSError, ValueError) as exc:
            msg = f"Ignoring unreadable embedding cache entry {npy} ({exc}); encoding again."
            warnings.warn(msg, stacklevel=2)
            return None
        expected = (meta.get("count"), meta.get("dim"))
        if (
            meta.get("content_hash") != content_hash(texts)
            or meta.get("identity") != json.loads(json.dumps(identity, sort_keys=True))
            or matrix.ndim != 2
            or matrix.shape != expected
            or matrix.shape[0] != len(texts)
        ):
            msg = (
                f"Ignoring embedding cache entry {npy}: it does not match its description "
                f"{meta_path.name} (shape {matrix.shape}, expected {expected}); encoding again."
            )
            warnings.warn(msg, stacklevel=2)
            return None
        return matrix.astype(np.float32, copy=False)

    def save(
        self, identity: dict[str, Any], role: Role, texts: Sequence[str], matrix: np.ndarray
    ) -> Path:
        """Write an entry atomically; returns the ``.npy`` path."""
        npy, meta_path = self.paths(identity, role, texts)
        npy.parent.mkdir(parents=True, exist_ok=True)
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        meta = {
            "format_version": FORMAT_VERSION,
            "identity": identity,
            "role": role,
            "content_hash": content_hash(texts),
            "count": int(matrix.shape[0]),
            "dim": int(matrix.shape[1]) if matrix.ndim == 2 else 0,
            "dtype": "float32",
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        for target, write in (
            (npy, lambda f: np.save(f, matrix, allow_pickle=False)),
            (meta_path, lambda f: f.write(json.dumps(meta, indent=1, sort_keys=True).encode())),
        ):
            atomic_write(target, write)
        return npy

    def encode(
        self,
        embeddings: Embeddings,
        texts: Sequence[str],
        *,
        role: Role = "documents",
        show_progress_bar: bool = True,
        desc: str | None = None,
    ) -> np.ndarray:
        """Embeddings of ``texts`` as a float32 matrix, from disk when cached.

        Documents go through ``embed_documents`` in chunks of ``chunk_size``; queries
        through ``embed_query`` one by one (that is where query instructions apply).
        """
        identity = model_identity(embeddings)
        cached = self.load(identity, role, texts)
        if cached is not None:
            self.last_hit = True
            return cached
        self.last_hit = False
        matrix = encode_texts(
            embeddings,
            texts,
            role=role,
            chunk_size=self.chunk_size,
            show_progress_bar=show_progress_bar,
            desc=desc,
        )
        self.save(identity, role, texts, matrix)
        return matrix


def encode_texts(
    embeddings: Embeddings,
    texts: Sequence[str],
    *,
    role: Role = "documents",
    chunk_size: int = 256,
    show_progress_bar: bool = True,
    desc: str | None = None,
) -> np.ndarray:
    """Encode without caching, with a progress bar over texts."""
    from tqdm.auto import tqdm

    rows: list[list[float]] = []
    label = desc or f"Encoding {role}"
    with tqdm(total=len(texts), desc=label, unit=role[:-1], disable=not show_progress_bar) as bar:
        if role == "documents":
            for start in range(0, len(texts), chunk_size):
                chunk = list(texts[start : start + chunk_size])
                vectors = embeddings.embed_documents(chunk)
                if len(vectors) != len(chunk):
                    msg = (
                        f"{type(embeddings).__name__}.embed_documents returned {len(vectors)} "
                        f"vectors for {len(chunk)} texts."
                    )
                    raise RuntimeError(msg)
                rows.extend(vectors)
                bar.update(len(chunk))
        else:
            for text in texts:
                rows.append(embeddings.embed_query(text))
                bar.update(1)
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return np.asarray(rows, dtype=np.float32)
