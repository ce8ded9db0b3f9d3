"""Retrieval data sets: the BEIR folder format and a simple question/passage file.

BEIR folder (``load_beir``)::

    corpus.jsonl        {"_id": "4983", "title": "...", "text": "..."}
    queries.jsonl       {"_id": "1", "text": "..."}
    qrels/test.tsv      query-id <TAB> corpus-id <TAB> score   (first line is a header)

A document's text is ``(title + " " + text).strip()``, the usual BEIR practice. As BEIR's
loader does, only queries that appear in the qrels are kept.

Question file (``load_qa``), CSV or JSONL, one question per row::

    question,relevant_ids                      # ids of passages in a corpus file
    "What is RAG?","doc-3|doc-7"

    {"question": "RAG是什么?", "relevant_texts": ["RAG是一种检索增强生成技术"]}

Relevant passages are given either by id (``relevant_ids``; a JSON list, or ids
separated by ``|`` or ``;`` in CSV) with a corpus file (``corpus=``: a BEIR
``corpus.jsonl``, or a CSV/JSONL with ``id`` and ``text`` columns), or as the passage
texts themselves (``relevant_texts``). Without a corpus file the corpus is every passage
named in the file, deduplicated, with ids derived from the text. Column aliases:
``query`` for ``question``; ``positive_ids``/``doc_ids``/``relevant_id`` for
``relevant_ids``; ``relevant_passages``/``positives``/``passages``/``contexts``/
``relevant_text`` for ``relevant_texts``.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

__all__ = ["RetrievalDataset", "load_beir", "load_dataset", "load_qa"]


@dataclass(frozen=True)
class RetrievalDataset:
    """A corpus, queries and relevance judgements (qrels).

    Example:
        >>> ds = RetrievalDataset(
        ...     corpus={"d1": "Paris is the capital of France.", "d2": "Rome is in Italy."},
        ...     queries={"q1": "capital of France"},
        ...     qrels={"q1": {"d1": 1}},
        ... )
        >>> ds.documents()[0].id, len(ds)
        ('d1', 1)
    """

    corpus: dict[str, str]
    """Document id -> text that gets embedded."""
    queries: dict[str, str]
    """Query id -> query text; every query here has qrels."""
    qrels: dict[str, dict[str, int]]
    """Query id -> {document id: grade}; grade >= 1 is relevant."""
    name: str = "dataset"
    """Shown in reports."""
    titles: dict[str, str] = field(default_factory=dict)
    """Document id -> title, when the source has one (kept in document metadata)."""

    def __len__(self) -> int:
        return len(self.queries)

    def documents(self) -> list[Document]:
        """The corpus as LangChain documents whose ``id`` is the corpus id."""
        docs = []
        for doc_id, text in self.corpus.items():
            metadata: dict[str, Any] = {"doc_id": doc_id}
            if doc_id in self.titles:
                metadata["title"] = self.titles[doc_id]
            docs.append(Document(page_content=text, id=doc_id, metadata=metadata))
        return docs

    def sample(
        self, limit: int | None = None, *, corpus_size: int | None = None, seed: int = 0
    ) -> RetrievalDataset:
        """A deterministic sample of the queries, and optionally of the corpus.

        Args:
            limit: Number of queries to keep, drawn with ``random.Random(seed)`` from the
                query ids in sorted order, so the same ``limit`` and ``seed`` always give
                the same queries. ``None`` keeps all.
            corpus_size: ``None`` keeps the corpus whole (scores stay comparable with
                the full run). Otherwise keep every document judged for the kept
                queries plus random other documents up to this size: a smaller,
                easier corpus meant for smoke tests, not for reporting.
            seed: Random seed.
        """
        query_ids = sorted(self.queries)
        if limit is not None:
            if limit < 1:
                msg = f"limit must be >= 1; got {limit}."
                raise ValueError(msg)
            if limit < len(query_ids):
                query_ids = sorted(random.Random(seed).sample(query_ids, limit))
        keep = set(query_ids)
        queries = {q: t for q, t in self.queries.items() if q in keep}
        qrels = {q: dict(r) for q, r in self.qrels.items() if q in keep}
        corpus = self.corpus
        if corpus_size is not None and corpus_size < len(corpus):
            judged = {d for r in qrels.values() for d in r if d in corpus}
            others = sorted(d for d in corpus if d not in judged)
            extra = max(0, corpus_size - len(judged))
            chosen = judged | set(random.Random(seed).sample(others, min(extra, len(others))))
            corpus = {d: t for d, t in corpus.items() if d in chosen}
        titles = {d: t for d, t in self.titles.items() if d in corpus}
        return RetrievalDataset(dict(corpus), queries, qrels, self.name, titles)


def _open_text(path: Path, newline: str | None = None) -> io.TextIOBase:
    """Open a text file for reading, decompressing it on the fly when it ends in ``.gz``."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline=newline)
    return open(path, encoding="utf-8-sig", newline=newline)


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with _open_text(path) as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                msg = (
                    f"{path}:{line_no} is not valid JSON ({exc.msg}); each line must be one object."
                )
                raise ValueError(msg) from exc
            if not isinstance(row, dict):
                msg = f"{path}:{line_no} holds a {type(row).__name__}; each line must be an object."
                raise ValueError(msg)
            yield line_no, row


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.jsonl", f"{stem}.jsonl.gz"):
        if (folder / name).exists():
            return folder / name
    return None


def _doc_text(title: Any, text: Any) -> str:
    return (f"{title or ''} {text or ''}").strip()


def load_beir(path: str | Path, split: str = "test") -> RetrievalDataset:
    """Load a BEIR-format folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``).

    Each file may also be gzip-compressed (``corpus.jsonl.gz``, ``queries.jsonl.gz``,
    ``qrels/<split>.tsv.gz``); it is read as it is, with the same result.

    Args:
        path: The folder.
        split: Which ``qrels/<split>.tsv`` to read.

    Example:
        >>> import gzip, json, pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as f:
        ...     _ = f.write(json.dumps({"_id": "d1", "title": "Paris", "text": "is in France."}))
        >>> _ = (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "Where is Paris?"}')
        >>> (folder / "qrels").mkdir()
        >>> qrels = ["query-id\\tcorpus-id\\tscore", "q1\\td1\\t1"]
        >>> _ = (folder / "qrels" / "test.tsv").write_text("\\n".join(qrels))
        >>> ds = load_beir(folder)
        >>> ds.corpus, ds.queries, ds.qrels
        ({'d1': 'Paris is in France.'}, {'q1': 'Where is Paris?'}, {'q1': {'d1': 1}})

        The repository ships SciFact this way, in ``benchmarks/data/scifact``.
    """
    folder = Path(path)
    corpus_file, queries_file, qrels_file = _beir_files(folder, split)
    corpus, titles = _read_beir_corpus(corpus_file)
    all_queries = _read_beir_queries(queries_file)
    qrels = _read_qrels(qrels_file)
    _drop_unknown_queries(qrels, all_queries, qrels_file, queries_file)
    _warn_unknown_documents(qrels, corpus, qrels_file)
    queries = {q: all_queries[q] for q in qrels}
    return RetrievalDataset(corpus, queries, qrels, folder.name or str(folder), titles)


def _beir_files(folder: Path, split: str) -> tuple[Path, Path, Path]:
    """The corpus, queries and qrels files of a BEIR folder, each plain or gzipped."""
    corpus_file = _find(folder, "corpus")
    queries_file = _find(folder, "queries")
    qrels_dir = folder / "qrels"
    if corpus_file is None or queries_file is None or not qrels_dir.is_dir():
        msg = (
            f"{folder} is not a BEIR data set folder: it needs corpus.jsonl, queries.jsonl "
            "and qrels/<split>.tsv. For a CSV/JSONL of questions use load_qa()."
        )
        raise FileNotFoundError(msg)
    for name in (f"{split}.tsv", f"{split}.tsv.gz"):
        if (qrels_dir / name).exists():
            return corpus_file, queries_file, qrels_dir / name
    splits = sorted(
        p.name.removesuffix(".gz").removesuffix(".tsv")
        for p in qrels_dir.iterdir()
        if p.name.endswith((".tsv", ".tsv.gz"))
    )
    msg = f"No qrels for split {split!r} in {qrels_dir}; available splits: {splits}."
    raise FileNotFoundError(msg)


def _read_beir_corpus(corpus_file: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Document id -> ``title + " " + text``, and document id -> title where there is one."""
    corpus: dict[str, str] = {}
    titles: dict[str, str] = {}
    for line_no, row in _read_jsonl(corpus_file):
        if "_id" not in row:
            msg = (
                f"{corpus_file}:{line_no} has no '_id' field; "
                "BEIR corpus rows need _id, title, text."
            )
            raise ValueError(msg)
        doc_id = str(row["_id"])
        corpus[doc_id] = _doc_text(row.get("title"), row.get("text"))
        if row.get("title"):
            titles[doc_id] = str(row["title"])
    return corpus, titles


def _read_beir_queries(queries_file: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for line_no, row in _read_jsonl(queries_file):
        if "_id" not in row or "text" not in row:
            msg = f"{queries_file}:{line_no} needs '_id' and 'text' fields."
            raise ValueError(msg)
        queries[str(row["_id"])] = str(row["text"])
    return queries


def _read_qrels(qrels_file: Path) -> dict[str, dict[str, int]]:
    """Query id -> {document id: grade} from a BEIR qrels TSV (its first line is a header)."""
    qrels: dict[str, dict[str, int]] = {}
    with _open_text(qrels_file, newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        for line_no, cells in enumerate(reader, start=1):
            if line_no == 1 or not cells:
                continue  # the header line, as BEIR's loader skips it
            if len(cells) < 3:
                msg = f"{qrels_file}:{line_no} needs query-id, corpus-id and score; got {cells}."
                raise ValueError(msg)
            try:
                grade = int(float(cells[2]))
            except ValueError as exc:
                msg = f"{qrels_file}:{line_no}: score {cells[2]!r} is not a number."
                raise ValueError(msg) from exc
            qrels.setdefault(cells[0], {})[cells[1]] = grade
    return qrels


def _drop_unknown_queries(
    qrels: dict[str, dict[str, int]],
    queries: dict[str, str],
    qrels_file: Path,
    queries_file: Path,
) -> None:
    """Remove (with a warning) judged queries whose text the queries file lacks."""
    missing = sorted(q for q in qrels if q not in queries)
    if missing:
        msg = (
            f"{qrels_file} judges {len(missing)} queries that {queries_file.name} does not "
            f"contain (e.g. {missing[:5]}); they are left out."
        )
        warnings.warn(msg, stacklevel=3)
        for q in missing:
            del qrels[q]


def _warn_unknown_documents(
    qrels: dict[str, dict[str, int]], corpus: dict[str, str], qrels_file: Path
) -> None:
    unknown = {d for r in qrels.values() for d in r if d not in corpus}
    if unknown:
        msg = (
            f"{qrels_file} names {len(unknown)} documents missing from the corpus "
            f"(e.g. {sorted(unknown)[:5]}); they count as relevant but cannot be retrieved."
        )
        warnings.warn(msg, stacklevel=3)


_QUESTION = ("question", "query", "questions", "问题")
_IDS = ("relevant_ids", "positive_ids", "doc_ids", "relevant_id", "relevant_doc_ids", "ids")
_TEXTS = (
    "relevant_texts",
    "relevant_passages",
    "positives",
    "passages",
    "contexts",
    "relevant_text",
    "passage",
    "context",
)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".jsonl"):
        yield from _read_jsonl(path)
    elif name.endswith(".json"):
        with _open_text(path) as handle:
            data = json.load(handle)
        if not isinstance(data, list):
            msg = f"{path} must hold a JSON list of objects (or use .jsonl, one per line)."
            raise ValueError(msg)
        for i, row in enumerate(data, start=1):
            if not isinstance(row, dict):
                msg = f"{path}: item {i} is a {type(row).__name__}, expected an object."
                raise ValueError(msg)
            yield i, row
    elif name.endswith((".csv", ".tsv")):
        delimiter = "\t" if name.endswith(".tsv") else ","
        with _open_text(path) as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            for i, row in enumerate(reader, start=2):
                yield i, {(k or "").strip().lower(): v for k, v in row.items()}
    else:
        msg = (
            f"Unsupported file type for {path}; "
            "supported: .csv, .tsv, .jsonl, .json (optionally .gz)."
        )
        raise ValueError(msg)


def _pick(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    lowered = {str(k).strip().lower(): v for k, v in row.items()}
    for name in names:
        value = lowered.get(name)
        if value not in (None, "", []):
            return value
    return None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return [str(v) for v in parsed if str(v).strip()]
    sep = "|" if "|" in text else ";" if ";" in text else None
    parts = text.split(sep) if sep else [text]
    return [p.strip() for p in parts if p.strip()]


def _text_id(text: str) -> str:
    return "p-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _load_corpus_file(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    corpus: dict[str, str] = {}
    titles: dict[str, str] = {}
    for line_no, row in _rows(path):
        doc_id = _pick(row, ("_id", "id", "doc_id", "corpus-id"))
        text = _pick(row, ("text", "passage", "content", "page_content", "document"))
        if doc_id is None or text is None:
            msg = (
                f"{path}:{line_no} needs an id (_id, id or doc_id) and a text (text, passage "
                f"or content); got columns {sorted(row)}."
            )
            raise ValueError(msg)
        title = _pick(row, ("title",))
        corpus[str(doc_id)] = _doc_text(title, text)
        if title:
            titles[str(doc_id)] = str(title)
    return corpus, titles


def load_qa(path: str | Path, corpus: str | Path | None = None) -> RetrievalDataset:
    """Load a CSV/JSONL file of questions with their relevant passages (ids or texts).

    Args:
        path: The question file (``.csv``, ``.tsv``, ``.jsonl`` or ``.json``).
        corpus: Optional corpus file (BEIR ``corpus.jsonl`` or CSV/JSONL with ``id`` and
            ``text``). Required when passages are given by id; when passages are given
            as texts, texts missing from it are added to it.

    Example:
        >>> import json, tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "qa.jsonl"
        >>> row = {"question": "RAG是什么?", "relevant_texts": ["RAG是一种检索增强生成技术"]}
        >>> _ = f.write_text(json.dumps(row, ensure_ascii=False) + "\\n", encoding="utf-8")
        >>> ds = load_qa(f)
        >>> len(ds), list(ds.corpus.values())
        (1, ['RAG是一种检索增强生成技术'])
    """
    path = Path(path)
    if not path.exists():
        msg = f"Question file not found: {path}."
        raise FileNotFoundError(msg)
    docs, titles = _load_corpus_argument(corpus) if corpus is not None else ({}, {})
    by_text = {text: doc_id for doc_id, text in docs.items()}

    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    skipped = 0
    for line_no, row in _rows(path):
        question = _pick(row, _QUESTION)
        if question is None:
            msg = (
                f"{path}:{line_no} has no question; name the column 'question' (or 'query'). "
                f"Columns found: {sorted(row)}."
            )
            raise ValueError(msg)
        query_id = str(_pick(row, ("_id", "id", "query_id", "qid")) or f"q{len(queries) + 1}")
        ids, texts = _relevant_passages(row)
        if ids:
            judged = _judged_by_id(ids, docs, has_corpus=corpus is not None, where=(path, line_no))
        elif texts:
            judged = _judged_by_text(texts, docs, by_text)
        else:
            skipped += 1
            continue
        if query_id in queries:
            msg = f"{path}:{line_no}: query id {query_id!r} appears twice."
            raise ValueError(msg)
        queries[query_id] = str(question)
        qrels[query_id] = judged
    if skipped:
        msg = f"{path}: {skipped} questions list no relevant passage and are left out."
        warnings.warn(msg, stacklevel=2)
    if not queries:
        msg = (
            f"{path} holds no question with a relevant passage; each row needs a question "
            "and relevant_ids or relevant_texts."
        )
        raise ValueError(msg)
    return RetrievalDataset(docs, queries, qrels, path.stem, titles)


def _load_corpus_argument(corpus: str | Path) -> tuple[dict[str, str], dict[str, str]]:
    """Read ``load_qa``'s corpus: a file, or a folder holding ``corpus.jsonl(.gz)``."""
    corpus_path = Path(corpus)
    if corpus_path.is_dir():
        found = _find(corpus_path, "corpus")
        if found is None:
            msg = f"No corpus.jsonl in {corpus_path}."
            raise FileNotFoundError(msg)
        corpus_path = found
    if not corpus_path.exists():
        msg = f"Corpus file not found: {corpus_path}."
        raise FileNotFoundError(msg)
    return _load_corpus_file(corpus_path)


def _relevant_passages(row: dict[str, Any]) -> tuple[list[str], list[str]]:
    """A question row's relevant passage ids, or (when it has none) passage texts."""
    ids = _as_list(_pick(row, _IDS))
    raw_texts = None if ids else _pick(row, _TEXTS)
    if isinstance(raw_texts, str):
        # One passage per cell (| and ; are ordinary text there); several as a JSON list.
        raw = raw_texts.strip()
        texts = _as_list(raw) if raw.startswith("[") else [raw]
    else:
        texts = _as_list(raw_texts)
    return ids, texts


def _judged_by_id(
    ids: list[str], docs: dict[str, str], *, has_corpus: bool, where: tuple[Path, int]
) -> dict[str, int]:
    path, line_no = where
    if not has_corpus:
        msg = (
            f"{path}:{line_no} names relevant passages by id, but no corpus file was "
            "given; pass corpus=PATH (embedkit eval --corpus PATH)."
        )
        raise ValueError(msg)
    unknown = [d for d in ids if d not in docs]
    if unknown:
        msg = f"{path}:{line_no}: relevant ids {unknown[:5]} are not in the corpus file."
        raise ValueError(msg)
    return dict.fromkeys(ids, 1)


def _judged_by_text(
    texts: list[str], docs: dict[str, str], by_text: dict[str, str]
) -> dict[str, int]:
    """Relevance by passage text; texts not yet in the corpus are added to it (in place)."""
    judged: dict[str, int] = {}
    for text in texts:
        doc_id = by_text.get(text.strip())
        if doc_id is None:
            doc_id = _text_id(text.strip())
            docs[doc_id] = text.strip()
            by_text[text.strip()] = doc_id
        judged[doc_id] = 1
    return judged


def load_dataset(
    path: str | Path, *, split: str = "test", corpus: str | Path | None = None
) -> RetrievalDataset:
    """Load a BEIR folder or a question file, whichever ``path`` is.

    Example:
        >>> load_dataset("benchmarks/data/scifact").name
        'scifact'
    """
    p = Path(path)
    if p.is_dir():
        return load_beir(p, split=split)
    if p.exists():
        return load_qa(p, corpus=corpus)
    msg = (
        f"Data set not found: {p}. Give a BEIR folder (corpus.jsonl, queries.jsonl, "
        "qrels/<split>.tsv) or a CSV/JSONL file of questions and relevant passages."
    )
    raise FileNotFoundError(msg)
