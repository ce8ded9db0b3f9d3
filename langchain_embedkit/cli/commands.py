"""``embedkit ingest``, ``search``, ``info`` and ``demo``, and their argument checks.

Heavy packages (torch, the model, the database client) are imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_embedkit.cli.errors import CLIError
from langchain_embedkit.cli.output import _progress, _results_table, _timing_line
from langchain_embedkit.cli.session import Session
from langchain_embedkit.fusion import default_fetch_k

if TYPE_CHECKING:
    from langchain_core.documents import Document

DEMO_QUERIES = (
    "Who started AI research?",
    "向量数据库如何检索？",
    "When did a computer beat the world chess champion?",
    "什么是检索增强生成？",
)


def _cmd_ingest(args: argparse.Namespace) -> int:
    from langchain_embedkit import loaders

    size = args.chunk_size or loaders.DEFAULT_CHUNK_SIZE
    overlap = loaders.DEFAULT_CHUNK_OVERLAP if args.chunk_overlap is None else args.chunk_overlap
    if size <= 0 or not 0 <= overlap < size:
        msg = f"--chunk-size {size} / --chunk-overlap {overlap}: need 0 <= overlap < size."
        raise CLIError(msg, 2)
    start = time.perf_counter()
    files = loaders.discover_files(args.paths, follow_links=args.follow_links)
    session = Session(args)
    batches, skipped = _read_files(files, session, args, chunk_size=size, chunk_overlap=overlap)
    if not batches:
        msg = f"Nothing to ingest: every file under {' '.join(args.paths)} was skipped."
        raise CLIError(msg)
    read_s = time.perf_counter() - start
    folders = [p.resolve() for p in (Path(r).expanduser() for r in args.paths) if p.is_dir()]
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


def _read_files(
    files: Sequence[Any],
    session: Session,
    args: argparse.Namespace,
    *,
    chunk_size: int,
    chunk_overlap: int,
) -> tuple[dict[str, tuple[str, list[Document]]], int]:
    """Read and chunk ``files`` (``loaders.FoundFile``); returns ``{real path: (source,
    chunks)}`` and how many files were skipped. A file found in a folder that cannot be
    read is skipped with a message; a file named on the command line must be read."""
    from langchain_embedkit import loaders

    limit = args.max_file_size or loaders.DEFAULT_MAX_FILE_SIZE
    batches: dict[str, tuple[str, list[Document]]] = {}
    owners: dict[str, str] = {}
    skipped = 0
    for found in _progress(files, session, desc="Reading", unit="file"):
        within = None if args.follow_links else found.folder
        try:
            docs = loaders.load_file(found.path, within=within, max_file_size=limit)
        except loaders.LoaderError as exc:
            if found.folder is None:  # a file named on the command line must work
                raise
            skipped += 1
            print(f"embedkit ingest: skipped: {exc}", file=sys.stderr)
            continue
        source = loaders.display_source(found.path)
        chunks = loaders.split_documents(docs, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        for chunk in chunks:
            first = owners.setdefault(str(chunk.id), source)
            if first != source:
                msg = (
                    f"The id {chunk.id!r} is in both '{first}' and '{source}'; one would "
                    "overwrite the other. Give every record its own id across the files of "
                    "one collection (or ingest them into separate --collection names)."
                )
                raise CLIError(msg)
        batches[found.path.resolve().as_posix()] = (source, chunks)
    return batches, skipped


def _ingest(
    session: Session,
    batches: dict[str, tuple[str, list[Document]]],
    *,
    chunk_size: int,
    chunk_overlap: int,
    deleted_under: Sequence[Path] = (),
) -> dict[str, int]:
    """Bring the store to ``batches``: write new and changed chunks, then delete the chunks
    a file no longer has and those of files deleted from the folders in ``deleted_under``.

    The manifest lists every id before it is written and keeps every old id until it is
    deleted, so an interruption anywhere leaves nothing that a re-run cannot find: it
    writes what is missing and deletes what is left over. Returns counts.
    """
    chunks = {str(c.id): c for _, file_chunks in batches.values() for c in file_chunks}
    store = session.store
    session.check_embeddings()
    files = session.manifest.setdefault("files", {})
    gone = [
        key
        for key in files
        if key not in batches
        and not Path(key).exists()
        and any(folder in Path(key).parents for folder in deleted_under)
    ]
    _check_owners(files, batches, chunks, gone)
    existing = _stored(store, list(chunks))
    changed = {
        key
        for key, doc in existing.items()
        if (doc.page_content, doc.metadata) != (chunks[key].page_content, chunks[key].metadata)
    }
    stale = {i for key in gone for i in files[key].get("ids", []) if i not in chunks}
    for key in batches:
        stale.update(i for i in files.get(key, {}).get("ids", []) if i not in chunks)
    to_write = [doc for key, doc in chunks.items() if key not in existing or key in changed]
    # 1. write-ahead: the manifest names every id that is or may become stored
    for key, (source, file_chunks) in batches.items():
        old = [i for i in files.get(key, {}).get("ids", []) if i in stale]
        files[key] = {"source": source, "ids": [str(c.id) for c in file_chunks] + old}
    if to_write and "dimension" not in session.manifest:
        session.manifest["dimension"] = len(session.model().embed_query("dimension"))
    session.manifest.update(
        embeddings=session.spec, chunk_size=chunk_size, chunk_overlap=chunk_overlap
    )
    session.save_state()
    # 2. new and changed chunks land before anything is deleted
    _write(session, to_write)
    # 3. then what the files no longer have
    if stale:
        store.delete(ids=sorted(stale))
    for key in gone:
        del files[key]
    for key, (_, file_chunks) in batches.items():
        files[key]["ids"] = [str(c.id) for c in file_chunks]
    session.save_state()
    return {
        "chunks": len(chunks),
        "new": len(to_write) - len(changed),
        "updated": len(changed),
        "unchanged": len(chunks) - len(to_write),
        "removed": len(stale),
    }


def _check_owners(
    files: dict[str, Any],
    batches: dict[str, tuple[str, list[Document]]],
    chunks: dict[str, Document],
    gone: Sequence[str],
) -> None:
    """Refuse an id that a file still present, and not read now, already stored; take
    over the ids of a file that no longer exists."""
    sources = {str(c.id): source for source, file_chunks in batches.values() for c in file_chunks}
    for key, entry in files.items():
        if key in batches or key in gone:
            continue
        taken = [i for i in entry.get("ids", []) if i in chunks]
        if taken and not Path(key).exists():
            entry["ids"] = [i for i in entry["ids"] if i not in chunks]
            continue
        if taken:
            msg = (
                f"The id {taken[0]!r} in '{sources[taken[0]]}' is already stored from "
                f"'{entry.get('source', key)}'; one would overwrite the other. Give every "
                "record its own id, or ingest into another --collection."
            )
            raise CLIError(msg)


def _stored(store: Any, ids: Sequence[str]) -> dict[str, Document]:
    existing: dict[str, Document] = {}
    for offset in range(0, len(ids), 1000):
        existing.update((str(d.id), d) for d in store.get_by_ids(ids[offset : offset + 1000]))
    return existing


def _write(session: Session, to_write: Sequence[Document]) -> None:
    """Embed and write in batches. A changed chunk keeps its id and is replaced in place:
    an upsert, for which the store takes the old text's words out of BM25 and puts the
    new ones in (nothing here may change the statistics behind the store's back)."""
    if not to_write:
        return
    store = session.store
    start = time.perf_counter()
    loaded = session.timings.get("model load", 0.0)
    with _progress(None, session, desc="Embedding", unit="chunk", total=len(to_write)) as bar:
        for offset in range(0, len(to_write), 256):
            batch = to_write[offset : offset + 256]
            store.add_documents(batch, ids=[str(d.id) for d in batch])
            bar.update(len(batch))
    loaded = session.timings.get("model load", 0.0) - loaded
    session.timings["embed+write"] = time.perf_counter() - start - loaded


def _cmd_search(args: argparse.Namespace) -> int:
    where = _parse_filter(args.filter)
    k = _check_k(args.k)
    session = Session(args, read_only=True)
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
        query, k=default_fetch_k(k) if reranker else k, filter=where, retrieval_mode=mode
    )
    if reranker is not None:
        docs = reranker.compress_documents([doc for doc, _ in pairs], query)
        pairs = [(doc, doc.metadata["relevance_score"]) for doc in docs]
    return [(doc, float(score)) for doc, score in pairs], time.perf_counter() - start


def _make_reranker(model: str, k: int) -> Any:
    from langchain_embedkit.rerankers.cross_encoder import CrossEncoderReranker

    return CrossEncoderReranker(model_name=model, top_n=k)


def _cmd_info(args: argparse.Namespace) -> int:
    session = Session(args, read_only=True)
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
            ("encoder", _encoder(manifest.get("embeddings", session.spec))),
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


def _encoder(spec: str) -> str:
    """What encodes queries for ``spec`` and the int8 recipe for this CPU (nothing loaded)."""
    from langchain_embedkit.cli.session import _embeddings_spec
    from langchain_embedkit.embeddings.factory import describe_engine

    return describe_engine(*_embeddings_spec(spec))


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
