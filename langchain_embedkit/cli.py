"""The ``embedkit`` command: ingest files, search them, ask questions, run the demo.

Everything heavy (torch, the model, the database client) is imported inside the
command handlers, so ``embedkit --help`` answers at once. Errors are printed as one
line that says what to do; ``--debug`` shows the traceback instead.

Example:
    .. code-block:: console

        $ embedkit ingest docs/ notes.md
        $ embedkit search "向量数据库如何检索？" --mode hybrid --k 5 --filter '{"lang": "zh"}'
        $ OPENAI_BASE_URL=http://localhost:11434/v1 embedkit ask "Who started AI research?" \\
              --model qwen2.5
        $ embedkit demo
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from langchain_embedkit.errors import EmbedKitError

if TYPE_CHECKING:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings

    from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings

__all__ = ["CLIError", "build_parser", "format_table", "main"]

MODES = ("dense", "sparse", "hybrid")
DEMO_QUERIES = (
    "Who started AI research?",
    "向量数据库如何检索？",
    "When did a computer beat the world chess champion?",
    "什么是检索增强生成？",
)
_DASHSCOPE_BASE_URL = "https://dashscope.aliyuncs.com/compatible-mode/v1"
_EVAL_HELP = "Compare embedding models and retrieval modes on your own data."
_DEFAULT_CHAT_MODELS = {"openai": "gpt-4o-mini", "dashscope": "qwen-plus"}


class CLIError(EmbedKitError):
    """A user-facing error: printed as one line, the process exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# ---------------------------------------------------------------------------- parser


def build_parser(*, eval_command: bool = True) -> argparse.ArgumentParser:
    """The ``embedkit`` argument parser.

    Args:
        eval_command: Register the real ``eval`` sub-command (imports the evaluation
            package); ``False`` lists it in the help only.
    """
    parser = argparse.ArgumentParser(
        prog="embedkit",
        description="Ingest files into a local vector store and search them "
        "(dense, BM25 or hybrid), ask questions with cited sources, evaluate retrieval.",
        epilog="Store options may also follow the command: `embedkit search q --store chroma`.",
    )
    _add_store_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    def command(name: str, help: str, handler: Callable[[argparse.Namespace], int]) -> Any:
        sub = commands.add_parser(name, help=help, description=help)
        _add_store_options(sub, suppress=True)
        sub.set_defaults(handler=handler)
        return sub

    ingest = command(
        "ingest", "Read .txt/.md/.jsonl/.pdf files or folders into the store.", _cmd_ingest
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    ingest.add_argument(
        "--chunk-size", type=int, default=None, help="estimated word pieces per chunk (default 200)"
    )
    ingest.add_argument(
        "--chunk-overlap",
        type=int,
        default=None,
        help="estimated word pieces shared by neighbouring chunks (default 30)",
    )

    search = command("search", "Search the store and print a ranked table.", _cmd_search)
    search.add_argument("query", metavar="QUERY")
    _add_retrieval_options(search)
    search.add_argument("--json", action="store_true", help="print JSON instead of a table")

    ask = command(
        "ask", "Answer a question from the store with an OpenAI-compatible chat model.", _cmd_ask
    )
    ask.add_argument("question", metavar="QUESTION")
    _add_retrieval_options(ask)
    ask.add_argument(
        "--base-url",
        default=None,
        help="chat endpoint (env OPENAI_BASE_URL), e.g. http://localhost:11434/v1",
    )
    ask.add_argument("--model", default=None, help="chat model name (env EMBEDKIT_CHAT_MODEL)")
    ask.add_argument("--timeout", type=float, default=120.0, help="seconds per chat request")

    command("info", "Show the store location, collection, counts and models.", _cmd_info)
    demo = command(
        "demo", "Ingest the bundled sample corpus into a temporary store and search it.", _cmd_demo
    )
    demo.add_argument("--k", type=int, default=3, help="results per query (default 3)")

    if not eval_command:
        # Importing the evaluation package costs a second; `embedkit --help` must not wait.
        commands.add_parser("eval", help=_EVAL_HELP, add_help=False)
        return parser
    try:
        from langchain_embedkit.evaluation.command import add_parser
    except ImportError:  # pragma: no cover - a trimmed installation
        return parser
    add_parser(commands)
    return parser


def _add_store_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # On sub-commands the defaults are suppressed so that a value given before the
    # command is not overwritten by the sub-parser's default.
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("store options")
    group.add_argument(
        "--store",
        choices=("milvus", "chroma"),
        default=default("milvus"),
        help="vector database (default milvus: a Milvus Lite file)",
    )
    group.add_argument(
        "--uri",
        default=default("./embedkit.db"),
        help="Milvus Lite file or server URL such as http://localhost:19530 "
        "(token from env MILVUS_TOKEN); default ./embedkit.db",
    )
    group.add_argument(
        "--persist-directory", default=default(None), help="Chroma folder (default ./chroma_data)"
    )
    group.add_argument("--host", default=default(None), help="Chroma server host")
    group.add_argument("--port", type=int, default=default(8000), help="Chroma server port")
    group.add_argument(
        "--collection", default=default("embedkit"), help="collection name (default embedkit)"
    )
    group.add_argument(
        "--embeddings",
        default=default("default"),
        help="dense model: default, default:PATH, bge:PATH, qwen3:PATH or "
        "openai:MODEL (default: the packaged all-MiniLM-L6-v2)",
    )
    group.add_argument(
        "--no-progress", action="store_true", default=default(False), help="hide progress bars"
    )
    group.add_argument(
        "--debug", action="store_true", default=default(False), help="show tracebacks"
    )


def _add_retrieval_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="hybrid",
        help="dense vectors, BM25, or both fused with RRF (default hybrid)",
    )
    parser.add_argument("--k", type=int, default=None, help="number of passages (default 5)")
    parser.add_argument(
        "--filter",
        default=None,
        metavar="JSON",
        help='metadata filter, e.g. \'{"lang": "zh"}\' or \'{"year": {"$gte": 2017}}\'',
    )
    parser.add_argument(
        "--rerank",
        default=None,
        metavar="MODEL",
        help="cross-encoder folder (or cached model id) to rerank candidates",
    )


# ---------------------------------------------------------------------------- store session


class Session:
    """One store as the command line sees it: where it is, its models and a manifest.

    The store keeps the BM25 statistics beside a local database itself
    (``<file>.db.<collection>.sparse.json`` or ``<folder>/embedkit/<collection>.sparse.json``);
    for a server the command keeps them in ``./.embedkit/``. The manifest (embedding model,
    chunk settings, the chunk ids of every ingested file, so that a shrunk file loses its
    extra chunks) sits next to that file as ``*.manifest.json``.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        from pathlib import Path

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
        """The opened :class:`EmbedKitVectorStore` (the dense model still loads lazily)."""
        if self._store is None:
            from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
            from langchain_embedkit.vectorstores import EmbedKitVectorStore

            start = time.perf_counter()
            sparse = BM25SparseEmbeddings(analyzer="auto")
            if self.local is None and self.state_path.exists():
                sparse = BM25SparseEmbeddings.load(self.state_path)
            self._store = EmbedKitVectorStore(
                _lazy_embeddings(self),
                sparse,
                backend=self.backend,  # type: ignore[arg-type]
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
            from langchain_embedkit.evaluation.command import make_embeddings

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
        if self.local is None and self.sparse.is_fitted:  # servers: the store keeps no state
            self.sparse.save(self.state_path)
        path = self.manifest_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)

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


def _embeddings_spec(spec: str) -> tuple[str, str]:
    from langchain_embedkit.evaluation.command import parse_embeddings

    parsed = parse_embeddings(spec)
    if len(parsed) != 1:
        msg = f"--embeddings takes one model for a store; got {spec!r}."
        raise CLIError(msg, 2)
    return parsed[0][1], parsed[0][2]


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


# ---------------------------------------------------------------------------- commands


def _cmd_ingest(args: argparse.Namespace) -> int:
    from pathlib import Path

    from langchain_embedkit import loaders

    size = args.chunk_size or loaders.DEFAULT_CHUNK_SIZE
    overlap = loaders.DEFAULT_CHUNK_OVERLAP if args.chunk_overlap is None else args.chunk_overlap
    if size <= 0 or not 0 <= overlap < size:
        msg = f"--chunk-size {size} / --chunk-overlap {overlap}: need 0 <= overlap < size."
        raise CLIError(msg, 2)
    start = time.perf_counter()
    files = loaders.discover_files(args.paths)
    named = {Path(p).resolve() for p in args.paths if Path(p).is_file()}
    session = Session(args)
    batches: dict[str, tuple[str, list[Document]]] = {}
    skipped = 0
    for path in _progress(files, session, desc="Reading", unit="file"):
        try:
            docs = loaders.load_file(path)
        except loaders.LoaderError as exc:
            if path.resolve() in named:  # a file named on the command line must work
                raise
            skipped += 1
            print(f"embedkit ingest: skipped: {exc}", file=sys.stderr)
            continue
        chunks = loaders.split_documents(docs, chunk_size=size, chunk_overlap=overlap)
        batches[path.resolve().as_posix()] = (loaders.display_source(path), chunks)
    if not batches:
        msg = f"Nothing to ingest: every file under {' '.join(args.paths)} was skipped."
        raise CLIError(msg)
    read_s = time.perf_counter() - start
    folders = [Path(p).resolve() for p in args.paths if Path(p).is_dir()]
    counts = _ingest(
        session, batches, chunk_size=size, chunk_overlap=overlap, deleted_under=folders
    )
    total = session.store.count()
    session.close()
    print(
        f"Ingested {len(batches)} file(s)"
        + (f" ({skipped} skipped)" if skipped else "")
        + f": {counts['chunks']} chunks, {counts['new']} new, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['removed']} removed."
    )
    print(f"Collection '{session.collection}' ({session.location}) holds {total} chunks.")
    timings = {"read+chunk": read_s, **session.timings, "total": time.perf_counter() - start}
    print(_timing_line(timings))
    return 0


def _ingest(
    session: Session,
    batches: dict[str, tuple[str, list[Document]]],
    *,
    chunk_size: int,
    chunk_overlap: int,
    deleted_under: Sequence[Any] = (),
) -> dict[str, int]:
    """Write new and changed chunks, drop chunks a file no longer has and the chunks of
    files deleted from the folders in ``deleted_under``; returns counts."""
    from pathlib import Path

    chunks: dict[str, Document] = {}
    for _, file_chunks in batches.values():
        for chunk in file_chunks:
            chunks[str(chunk.id)] = chunk  # a repeated id: the last one wins
    store = session.store
    session.check_embeddings()
    ids = list(chunks)
    existing: dict[str, Document] = {}
    for offset in range(0, len(ids), 1000):
        existing.update((str(d.id), d) for d in store.get_by_ids(ids[offset : offset + 1000]))
    changed = {
        key
        for key in ids
        if key in existing
        and (existing[key].page_content, existing[key].metadata)
        != (chunks[key].page_content, chunks[key].metadata)
    }
    files = session.manifest.setdefault("files", {})
    stale: set[str] = set()
    for key in list(files):
        path = Path(key)
        if (
            key not in batches
            and not path.exists()
            and any(f in path.parents for f in deleted_under)
        ):
            stale.update(i for i in files.pop(key).get("ids", []) if i not in chunks)
    for key, (source, file_chunks) in batches.items():
        stale.update(i for i in files.get(key, {}).get("ids", []) if i not in chunks)
        files[key] = {"source": source, "ids": [str(c.id) for c in file_chunks]}
    # Changed chunks are deleted and written as new ones: the store teaches BM25 the words
    # of new documents only, and an edited chunk may bring new words.
    if stale or changed:
        store.delete(ids=sorted(stale | changed))
    to_write = [chunks[key] for key in ids if key not in existing or key in changed]
    if to_write:
        start = time.perf_counter()
        loaded = session.timings.get("model load", 0.0)
        with _progress(None, session, desc="Embedding", unit="chunk", total=len(to_write)) as bar:
            for offset in range(0, len(to_write), 256):
                batch = to_write[offset : offset + 256]
                store.add_documents(batch, ids=[str(d.id) for d in batch])
                bar.update(len(batch))
        loaded = session.timings.get("model load", 0.0) - loaded
        session.timings["embed+write"] = time.perf_counter() - start - loaded
        session.manifest["dimension"] = len(session.model().embed_query("dimension"))
    session.manifest.update(
        embeddings=session.spec, chunk_size=chunk_size, chunk_overlap=chunk_overlap
    )
    session.save_state()
    return {
        "chunks": len(chunks),
        "new": len(to_write) - len(changed),
        "updated": len(changed),
        "unchanged": len(chunks) - len(to_write),
        "removed": len(stale),
    }


def _cmd_search(args: argparse.Namespace) -> int:
    where = _parse_filter(args.filter)
    k = _check_k(args.k)
    session = Session(args)
    session.require_documents(args.mode)
    results, elapsed = _retrieve(session, args.query, args.mode, k, where, args.rerank)
    session.close()
    if args.json:
        rows = [
            {"rank": n, "score": score, "id": d.id, "text": d.page_content, "metadata": d.metadata}
            for n, (d, score) in enumerate(results, 1)
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    if results:
        print(_results_table(results))
    else:
        print("No results" + (" (the filter matched nothing)" if where else "") + ".")
    label = args.mode + (f" + rerank {args.rerank}" if args.rerank else "")
    print(f"{len(results)} result(s), {label}, {elapsed * 1000:.0f} ms")
    return 0


def _retrieve(
    session: Session,
    query: str,
    mode: str,
    k: int,
    where: dict[str, Any] | None,
    rerank: str | None,
) -> tuple[list[tuple[Document, float]], float]:
    """``(document, relevance in [0, 1])`` pairs, best first, and the seconds it took."""
    reranker = _make_reranker(rerank, k) if rerank else None
    store = session.store
    if mode != "sparse":
        session.model()  # load outside the timed part
    start = time.perf_counter()
    pairs = store.similarity_search_with_relevance_scores(
        query, k=max(4 * k, 20) if reranker else k, filter=where, retrieval_mode=mode
    )
    if reranker is not None:
        docs = reranker.compress_documents([doc for doc, _ in pairs], query)
        pairs = [(doc, doc.metadata["relevance_score"]) for doc in docs]
    return [(doc, float(score)) for doc, score in pairs], time.perf_counter() - start


def _make_reranker(model: str, k: int) -> Any:
    from langchain_embedkit.rerankers.cross_encoder import CrossEncoderReranker

    return CrossEncoderReranker(model_name=model, top_n=k)


def _cmd_ask(args: argparse.Namespace) -> int:
    chat = _chat_settings(args)
    where = _parse_filter(args.filter)
    k = _check_k(args.k)
    session = Session(args)
    session.require_documents(args.mode)
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    from langchain_embedkit.chains import create_rag_chain

    reranker = _make_reranker(args.rerank, k) if args.rerank else None
    search_kwargs: dict[str, Any] = {"k": max(4 * k, 20) if reranker else k}
    if where:
        search_kwargs["filter"] = where
    retriever = session.store.as_retriever(retrieval_mode=args.mode, search_kwargs=search_kwargs)
    llm = ChatOpenAI(
        model=chat["model"],
        base_url=chat["base_url"],
        api_key=SecretStr(chat["api_key"]),
        temperature=0,
        timeout=args.timeout,
        max_retries=1,
    )
    chain = create_rag_chain(retriever, llm, reranker=reranker)
    if args.mode != "sparse":
        session.model()
    start = time.perf_counter()
    sources: list[Document] = []
    try:
        for part in chain.stream({"question": args.question}):
            sources = part.get("sources", sources)
            if part.get("answer"):
                print(part["answer"], end="", flush=True)
    except Exception as exc:
        raise _chat_error(exc, chat) from exc
    elapsed = time.perf_counter() - start
    session.close()
    print("\n\nSources:")
    for doc in sources:
        number = doc.metadata.get("citation", "?")
        where_from = doc.metadata.get("source", "")
        print(f"[{number}] {doc.id}  {where_from}  {_clip(doc.page_content, 70)}")
    print(f"\n{chat['model']} at {chat['base_url'] or 'api.openai.com'}, {elapsed:.1f} s")
    return 0


_NO_ENDPOINT = (
    "No chat endpoint configured. Set OPENAI_API_KEY (OpenAI) or DASHSCOPE_API_KEY "
    "(DashScope), or point --base-url / OPENAI_BASE_URL at an OpenAI-compatible server "
    "(vLLM: http://localhost:8000/v1, Ollama: http://localhost:11434/v1) and name the model "
    "with --model / EMBEDKIT_CHAT_MODEL."
)


def _chat_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Resolve the chat endpoint from flags and environment; exit code 2 when missing."""
    env = os.environ
    base_url = args.base_url or env.get("OPENAI_BASE_URL") or None
    openai_key, dashscope_key = env.get("OPENAI_API_KEY"), env.get("DASHSCOPE_API_KEY")
    if base_url is None:
        if openai_key:
            provider, key = "openai", openai_key
        elif dashscope_key:
            provider, key, base_url = "dashscope", dashscope_key, _DASHSCOPE_BASE_URL
        else:
            raise CLIError(_NO_ENDPOINT, 2)
    else:
        provider = "dashscope" if "dashscope" in base_url else "custom"
        preferred = dashscope_key if provider == "dashscope" else openai_key
        # vLLM and Ollama accept any key, but the client insists on having one.
        key = preferred or openai_key or dashscope_key or "not-needed"
    model = args.model or env.get("EMBEDKIT_CHAT_MODEL") or _DEFAULT_CHAT_MODELS.get(provider)
    if not model:
        msg = (
            f"No chat model named for {base_url}; pass --model NAME or set "
            "EMBEDKIT_CHAT_MODEL (the name the server serves, e.g. qwen2.5:7b on Ollama)."
        )
        raise CLIError(msg, 2)
    return {"base_url": base_url, "model": model, "api_key": key}


def _chat_error(exc: Exception, chat: dict[str, Any]) -> Exception:
    import openai

    where = chat["base_url"] or "https://api.openai.com/v1"
    if isinstance(exc, openai.APIConnectionError):
        msg = f"Cannot reach the chat endpoint {where} ({exc}); check --base-url / OPENAI_BASE_URL."
    elif isinstance(exc, openai.AuthenticationError):
        msg = f"{where} rejected the API key (401); check OPENAI_API_KEY or DASHSCOPE_API_KEY."
    elif isinstance(exc, openai.NotFoundError):
        msg = f"{where} has no model '{chat['model']}' (404); check --model / EMBEDKIT_CHAT_MODEL."
    elif isinstance(exc, openai.APIStatusError):
        msg = f"The chat endpoint {where} answered HTTP {exc.status_code}: {exc.message}"
    else:
        return exc
    return CLIError(msg)


def _cmd_info(args: argparse.Namespace) -> int:
    session = Session(args)
    rows = [("store", session.location), ("collection", session.collection)]
    if not session.exists():
        rows.append(("chunks", "0 (nothing ingested yet: run `embedkit ingest PATH`)"))
    else:
        count = session.store.count()  # opening the store reads the manifest
        manifest = session.manifest
        dim = manifest.get("dimension")
        sparse = session.sparse
        rows += [
            ("chunks", str(count)),
            ("files", str(len(manifest.get("files", {})))),
            ("embeddings", manifest.get("embeddings", session.spec) + f" ({dim or '?'} dims)"),
            (
                "sparse",
                f"BM25, {sparse.dim} terms over {sparse.n_docs} chunks ({session.state_path})"
                if sparse.is_fitted
                else "BM25, not fitted yet",
            ),
        ]
        if "chunk_size" in manifest:
            sizes = f"{manifest['chunk_size']} word pieces, overlap {manifest['chunk_overlap']}"
            rows.append(("chunking", sizes))
        session.close()
    for name, value in rows:
        print(f"{name + ':':<12} {value}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import statistics
    import tempfile
    from collections import Counter

    from langchain_embedkit import loaders

    k = _check_k(args.k)
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="embedkit-demo-", ignore_cleanup_errors=True) as tmp:
        args.uri, args.host = os.path.join(tmp, "demo.db"), None
        args.persist_directory, args.collection = os.path.join(tmp, "chroma"), "demo"
        session = Session(args)
        dim = len(session.model().embed_query("warm-up"))
        model = "all-MiniLM-L6-v2, packaged" if args.embeddings == "default" else args.embeddings
        print("embedkit demo: ingest -> hybrid search, no server, no key\n")
        print(f"store:       {session.location} (temporary)")
        print(f"embeddings:  {model}; dimension {dim}")
        print("sparse:      BM25 (jieba for Chinese), fitted while ingesting")
        print("fusion:      reciprocal rank fusion of the dense and BM25 rankings")
        start = time.perf_counter()
        chunks = loaders.split_documents(loaders.load_sample_corpus())
        counts = _ingest(
            session,
            {loaders.sample_corpus_path().as_posix(): ("sample corpus", chunks)},
            chunk_size=loaders.DEFAULT_CHUNK_SIZE,
            chunk_overlap=loaders.DEFAULT_CHUNK_OVERLAP,
        )
        ingest_s = time.perf_counter() - start
        langs = Counter(str(chunk.metadata.get("lang")) for chunk in chunks)
        mix = ", ".join(f"{n} {lang}" for lang, n in sorted(langs.items()))
        print(f"ingested:    {counts['chunks']} passages ({mix}) in {ingest_s:.1f} s")
        latencies = []
        for query in DEMO_QUERIES:
            results, elapsed = _retrieve(session, query, "hybrid", k, None, None)
            latencies.append(elapsed * 1000)
            print(f"\nQuery: {query}   (hybrid, {elapsed * 1000:.0f} ms)")
            print(_results_table(results))
        session.close()
    print(
        "\nall-MiniLM-L6-v2 is an English model: its tokenizer turns most Chinese characters "
        "into [UNK],\nso on Chinese its dense ranking is close to noise and only BM25 (jieba) "
        "carries the match.\nFor Chinese text use --embeddings bge:PATH (bge-small-zh-v1.5) "
        "or qwen3:PATH, or search with --mode sparse."
    )
    total = time.perf_counter() - begin
    timings = {"model load": session.timings["model load"], "ingest": ingest_s, "total": total}
    print(f"\n{_timing_line(timings)}; query median {statistics.median(latencies):.0f} ms")
    print('Next: `embedkit ingest DOCS/`, then `embedkit search "..."` or `embedkit ask "..."`.')
    return 0


# ---------------------------------------------------------------------------- helpers


def _parse_filter(text: str | None) -> dict[str, Any] | None:
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = (
            f"--filter is not valid JSON ({exc.msg} at column {exc.colno}): {text!r}. "
            """Quote it for the shell, e.g. --filter '{"lang": "zh"}'."""
        )
        raise CLIError(msg, 2) from None
    if not isinstance(value, dict):
        msg = (
            f"--filter must be a JSON object, got {type(value).__name__}: {text!r}; "
            """e.g. '{"lang": "zh"}' or '{"year": {"$gte": 2017}}'."""
        )
        raise CLIError(msg, 2)
    return value


def _check_k(k: int | None) -> int:
    if k is None:
        return 5
    if k < 1:
        msg = f"--k must be a positive number of results; got {k}."
        raise CLIError(msg, 2)
    return k


def _progress(items: Any, session: Session, **kwargs: Any) -> Any:
    from tqdm.auto import tqdm

    # disable=None hides the bar when stderr is not a terminal.
    return tqdm(
        items, disable=None if session.progress else True, file=sys.stderr, leave=False, **kwargs
    )


def _timing_line(timings: dict[str, float]) -> str:
    return "Time: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    if _width(flat) <= width:
        return flat
    out, used = [], 0
    for ch in flat:
        used += _width(ch)
        if used > width - 1:
            break
        out.append(ch)
    return "".join(out) + "…"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Align columns by display width (a Chinese character takes two columns).

    Example:
        >>> print(format_table(["id", "text"], [["a", "向量"], ["bb", "x"]]))
        id  text
        --  ----
        a   向量
        bb  x
    """
    widths = [max([_width(h)] + [_width(row[i]) for row in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [c + " " * (w - _width(c)) for c, w in zip(cells, widths)]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _results_table(results: Sequence[tuple[Document, float]]) -> str:
    import shutil

    rows = [
        [
            str(rank),
            f"{score:.3f}",
            _clip(str(doc.id), 24),
            _clip(str(doc.metadata.get("source", "")), 28),
        ]
        for rank, (doc, score) in enumerate(results, 1)
    ]
    used = sum(
        max([_width(h)] + [_width(r[i]) for r in rows]) + 2
        for i, h in enumerate(("rank", "score", "id", "source"))
    )
    room = max(30, shutil.get_terminal_size((120, 24)).columns - used)
    for row, (doc, _) in zip(rows, results):
        row.append(_clip(doc.page_content, room))
    return format_table(["rank", "score", "id", "source", "text"], rows)


# ---------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``embedkit`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(eval_command="eval" in argv)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None) or getattr(args, "func", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        result = handler(args)
    except KeyboardInterrupt:
        print("embedkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`
        return 0
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        code = exc.exit_code if isinstance(exc, CLIError) else 1
        if type(exc).__name__ == "UsageError":  # from `embedkit eval`
            code = 2
        print(f"embedkit {args.command}: error: {_describe(exc)}", file=sys.stderr)
        return code
    return int(result or 0)


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (EmbedKitError, ValueError, ImportError, OSError)):
        return text
    return f"{type(exc).__name__}: {text} (run with --debug for the traceback)"


if __name__ == "__main__":
    sys.exit(main())
