"""Where the command's store lives, its models and its manifest.

Nothing heavy is imported at module level: the store and the dense model load on first use.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from langchain_embedkit._fs import atomic_write_text
from langchain_embedkit.cli.errors import CLIError

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings

__all__ = ["Session"]


class Session:
    """One store as the command line sees it: where it is, its models and a manifest.

    The store keeps the BM25 statistics beside a local database itself
    (``<file>.db.<collection>.sparse.json`` or ``<folder>/embedkit/<collection>.sparse.json``);
    for a server the command keeps them in ``./.embedkit/``. The manifest (embedding model,
    chunk settings, the chunk ids of every ingested file, so that a shrunk file loses its
    extra chunks) sits next to that file as ``*.manifest.json``.
    """

    def __init__(self, args: argparse.Namespace, *, read_only: bool = False) -> None:
        from pathlib import Path

        # search and info open a StoreReader: the same open and the same searches as the
        # store, without LangChain's VectorStore and the tracers it imports
        self.read_only = read_only

        self.backend: str = args.store
        self.collection: str = args.collection
        self.spec: str = args.embeddings
        self.progress = not args.no_progress
        self.options: dict[str, Any] = {}
        self.local: Path | None = None  # the file or folder a local store lives in
        if self.backend == "milvus":
            if "://" in args.uri or args.uri.startswith("unix:"):
                self.location = f"Milvus server {args.uri}"
                self.options["uri"] = args.uri
            else:
                self.local = Path(args.uri).expanduser()
                self.location = f"Milvus Lite file {self.local}"
                self.options["uri"] = str(self.local)
        elif args.host:
            self.location = f"Chroma server {args.host}:{args.port}"
            self.options.update(host=args.host, port=args.port)
        else:
            self.local = Path(args.persist_directory or "./chroma_data").expanduser()
            self.location = f"Chroma folder {self.local}"
            self.options["persist_directory"] = str(self.local)
        _embeddings_spec(self.spec)  # a bad --embeddings fails before anything loads
        self.timings: dict[str, float] = {}
        self._store: Any = None
        self._model: Embeddings | None = None
        self.state_path = (
            Path(".embedkit") / f"{_slug(self.location)}-{self.collection}.sparse.json"
        )
        self.manifest: dict[str, Any] = {"format_version": 1, "files": {}}

    def exists(self) -> bool:
        """Whether a local store is already on disk (servers: assumed)."""
        return self.local is None or self.local.exists()

    @property
    def store(self) -> Any:
        """The opened :class:`EmbedKitVectorStore`, or a :class:`StoreReader` when the
        session is read-only (the dense model still loads lazily)."""
        if self._store is None:
            from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings

            opener: Any
            if self.backend == "milvus":
                _skip_scipy_probe()
            if self.read_only:
                from langchain_embedkit.vectorstores.search import StoreReader as opener
            else:
                from langchain_embedkit.vectorstores.store import EmbedKitVectorStore as opener

            start = time.perf_counter()
            sparse = BM25SparseEmbeddings(analyzer="auto")
            if self.local is None and self.state_path.exists():
                sparse = BM25SparseEmbeddings.load(self.state_path)
            self._store = opener(
                _lazy_embeddings(self),
                sparse,
                backend=self.backend,
                collection_name=self.collection,
                **self.options,
            )
            self.state_path = self._store.sparse_state_path() or self.state_path
            self.manifest = self._read_manifest()
            self.timings["store open"] = time.perf_counter() - start
        return self._store

    @property
    def sparse(self) -> BM25SparseEmbeddings:
        return self.store.sparse_embedding

    @property
    def manifest_path(self) -> Any:
        name = self.state_path.name.removesuffix(".sparse.json") + ".manifest.json"
        return self.state_path.with_name(name)

    def model(self) -> Embeddings:
        if self._model is None:
            from langchain_embedkit.embeddings.factory import make_embeddings

            start = time.perf_counter()
            self._model = make_embeddings(*_embeddings_spec(self.spec))
            self.timings["model load"] = time.perf_counter() - start
        return self._model

    def _read_manifest(self) -> dict[str, Any]:
        path = self.manifest_path
        if not path.exists():
            return {"format_version": 1, "files": {}}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("files", {}), dict):
                raise ValueError("not a manifest object")
            for key, entry in data.get("files", {}).items():
                ids = entry.get("ids") if isinstance(entry, dict) else None
                if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                    raise ValueError(f"the entry of {key!r} has no list of string ids")
        except (OSError, ValueError) as exc:
            msg = f"Cannot read {path} ({exc}); delete it and run `embedkit ingest` again."
            raise CLIError(msg) from exc
        return data

    def check_embeddings(self) -> None:
        """Refuse to mix vectors of two models in one collection."""
        self.store  # noqa: B018 - opening the store reads the manifest
        built = self.manifest.get("embeddings")
        if built and built != self.spec:
            msg = (
                f"Collection '{self.collection}' ({self.location}) was built with --embeddings "
                f"{built}, not {self.spec}; pass --embeddings {built} or another --collection."
            )
            raise CLIError(msg, 2)

    def save_state(self) -> None:
        """Save the manifest (and, for a server, the BM25 statistics); an atomic replace, so
        a reader sees the old file or the new one, never half of one."""
        if self.local is None and self.sparse.is_fitted:  # servers: the store keeps no state
            self.sparse.save(self.state_path)
        text = json.dumps(self.manifest, ensure_ascii=False, indent=1)
        atomic_write_text(self.manifest_path, text, durable=True)

    def require_documents(self, mode: str) -> None:
        if not self.exists() or self.store.count() == 0:
            msg = (
                f"Collection '{self.collection}' ({self.location}) is empty; run "
                "`embedkit ingest PATH` first (or pass the --uri/--collection you used then)."
            )
            raise CLIError(msg)
        self.check_embeddings()
        if mode != "dense" and not self.sparse.is_fitted:
            msg = (
                f"Collection '{self.collection}' has no BM25 statistics ({self.state_path} is "
                "missing); ingest again with `embedkit ingest PATH`, or use --mode dense."
            )
            raise CLIError(msg)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _lazy_embeddings(session: Session) -> Embeddings:
    """An ``Embeddings`` that loads the real model on first use: opening a store, counting
    it or failing on a bad argument never waits for torch."""
    from langchain_core.embeddings import Embeddings

    class Lazy(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return session.model().embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            return session.model().embed_query(text)

        def __repr__(self) -> str:
            return f"Embeddings({session.spec!r})"

    return Lazy()


def _skip_scipy_probe() -> None:
    """Keep pymilvus from importing ``scipy.sparse`` on the first search (0.17 s, 20 MB).

    pymilvus imports it only to ask whether the query is a scipy matrix. No object can be
    one while ``scipy.sparse`` has not been imported, so until then the answer is "no"
    without the import; once anything imports scipy.sparse, pymilvus checks as before.
    """
    try:
        from pymilvus.client.utils import SciPyHelper
    except ImportError:  # the store's own open names the missing extra
        return
    probe = SciPyHelper.__dict__.get("_init")
    if not isinstance(probe, classmethod) or getattr(probe.__func__, "_embedkit", False):
        return  # another pymilvus layout, or already done
    check = probe.__func__

    def _init(cls: type) -> None:
        if "scipy.sparse" in sys.modules:
            check(cls)

    _init._embedkit = True  # type: ignore[attr-defined]
    SciPyHelper._init = classmethod(_init)


def _embeddings_spec(spec: str) -> tuple[str, str]:
    from langchain_embedkit.embeddings.factory import parse_embeddings

    parsed = parse_embeddings(spec)
    if len(parsed) != 1:
        msg = f"--embeddings takes one model for a store; got {spec!r}."
        raise CLIError(msg, 2)
    return parsed[0][1], parsed[0][2]


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)
