"""Read .txt, .md, .jsonl, .json and .pdf files into Documents and cut them into chunks.

Every Document gets a positional id (file + record/page + chunk number) and
``metadata["source"]``, so ingesting the same files again writes nothing new and an
edited file replaces its own chunks.

Chunk sizes are counted in *estimated* word pieces of the BERT tokenizer that
all-MiniLM-L6-v2 uses, not in characters: the model silently drops everything past
256 word pieces, and one Chinese character costs one word piece where an English
word of five letters costs about one. :func:`estimate_tokens` counts without loading
a tokenizer and over-estimates English (on SciFact abstracts the real count is below
the estimate for 95% of 40-word windows), so a 200-token chunk stays inside the
256-token window with room for ``[CLS]``/``[SEP]``.

Example:
    >>> from langchain_core.documents import Document
    >>> doc = Document(page_content="向量数据库存储嵌入。它支持近似最近邻检索！", id="d1",
    ...                metadata={"source": "notes.md"})
    >>> [c.page_content for c in split_documents([doc], chunk_size=12, chunk_overlap=0)]
    ['向量数据库存储嵌入。', '它支持近似最近邻检索！']
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from langchain_embedkit._imports import require
from langchain_embedkit.files import (
    DEFAULT_MAX_FILE_SIZE,
    LoaderError,
    decode_text,
    read_bytes,
)

if TYPE_CHECKING:
    from langchain_core.documents import Document

__all__ = [
    "CHINESE_AWARE_SEPARATORS",
    "DEFAULT_CHUNK_OVERLAP",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_FILE_SIZE",
    "SUPPORTED_SUFFIXES",
    "FoundFile",
    "LoaderError",
    "discover_files",
    "display_source",
    "estimate_tokens",
    "file_key",
    "load_file",
    "load_sample_corpus",
    "sample_corpus_path",
    "split_documents",
]

CHINESE_AWARE_SEPARATORS: list[str] = [
    "\n\n",
    "\n",
    "。",
    "！",
    "？",
    "；",
    ". ",
    "! ",
    "? ",
    "; ",
    " ",
    "",
]
"""Paragraphs, lines, then Chinese and English sentence ends, then words, then characters."""

DEFAULT_CHUNK_SIZE = 200
"""Estimated MiniLM word pieces per chunk: under the model's 256-piece window with margin."""

DEFAULT_CHUNK_OVERLAP = 30
"""Estimated word pieces shared by neighbouring chunks (15%), so a sentence cut at a
boundary still appears whole in one of them."""

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".markdown", ".jsonl", ".json", ".pdf")
"""File types :func:`load_file` reads; folders are searched for these."""

_TEXT_KEYS = ("text", "page_content", "content")
_LIST_KEYS = ("documents", "records", "data", "items", "docs")
"""Preferred list fields of a ``.json`` object that has more than one list."""
_ID_KEYS = ("id", "_id")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_PIECES = re.compile(rf"[{_CJK}]|[^\W_]+|[^\w\s]|_")
_ASCII_CHARS_PER_PIECE = 4


class FoundFile(NamedTuple):
    """A file to read and the folder it was found in (``None``: named directly)."""

    path: Path
    folder: Path | None


def estimate_tokens(text: str) -> int:
    """Estimate the number of BERT word pieces in ``text`` without a tokenizer.

    One piece per CJK character and per punctuation mark, one per started four
    letters of a Latin word plus one per capital letter inside it (acronyms split into
    letters), one per character of words in other scripts.

    Example:
        >>> estimate_tokens("Vector search, explained.")  # the tokenizer gives 5
        9
        >>> estimate_tokens("向量检索。")
        5
    """
    count = 0
    for match in _PIECES.finditer(text):
        piece = match.group()
        if len(piece) == 1:
            count += 1
        elif piece.isascii():
            # Acronyms and camel case break into pieces of one or two letters ("RLHF" is
            # four, "ChatGPT" three): count each capital after the first one by itself.
            capitals = sum(1 for ch in piece[1:] if ch.isupper())
            count += capitals + math.ceil((len(piece) - capitals) / _ASCII_CHARS_PER_PIECE)
        else:
            count += len(piece)
    return count


def discover_files(
    paths: Sequence[str | os.PathLike[str]], *, follow_links: bool = False
) -> list[FoundFile]:
    """Expand files and folders into the sorted list of supported files to read.

    Folders are searched recursively for :data:`SUPPORTED_SUFFIXES`; hidden files and
    folders are skipped, and so are links to folders unless ``follow_links`` (a folder
    reached twice is searched once). A file named explicitly must exist and have a
    supported suffix. A file reached twice (through a link) is listed once. Nothing is
    opened here: :func:`load_file` checks each file when it reads it.

    Raises:
        LoaderError: a path does not exist, a named file has an unsupported type, or
            nothing readable was found.
    """
    if not paths:
        msg = "No path given; pass files or folders, e.g. `embedkit ingest docs/ notes.md`."
        raise LoaderError(msg)
    found: dict[str, FoundFile] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            msg = f"Path not found: '{raw}'. Check the spelling or pass an existing file or folder."
            raise LoaderError(msg)
        if path.is_dir():
            for child in sorted(_walk(path, follow_links)):
                found.setdefault(os.path.realpath(child), FoundFile(child, path))
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            found.setdefault(os.path.realpath(path), FoundFile(path, None))
        else:
            msg = (
                f"Unsupported file type '{path.suffix or '(none)'}' for '{raw}'; supported: "
                f"{', '.join(SUPPORTED_SUFFIXES)}. Convert it to one of these or rename it."
            )
            raise LoaderError(msg)
    if not found:
        msg = (
            f"No {', '.join(SUPPORTED_SUFFIXES)} files found under "
            f"{', '.join(repr(str(p)) for p in paths)}."
        )
        raise LoaderError(msg)
    return list(found.values())


def _walk(folder: Path, follow_links: bool) -> Iterator[Path]:
    seen = {os.path.realpath(folder)}
    for root, dirs, files in os.walk(folder, followlinks=follow_links):
        kept = []
        for name in dirs:
            child = os.path.join(root, name)
            if name.startswith(".") or (not follow_links and os.path.islink(child)):
                continue
            real = os.path.realpath(child)
            if real not in seen:  # a folder reached twice, or a link loop, is searched once
                seen.add(real)
                kept.append(name)
        dirs[:] = kept
        for name in files:
            if name.startswith("."):
                continue
            path = Path(root) / name
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                yield path


def display_source(path: Path) -> str:
    """``path`` relative to the working directory when inside it, else absolute."""
    absolute = path.resolve()
    try:
        return absolute.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return absolute.as_posix()


def file_key(path: Path) -> str:
    """Stable id prefix for a file: its name and a hash of its absolute path."""
    digest = hashlib.sha1(path.resolve().as_posix().encode("utf-8")).hexdigest()[:8]
    return f"{path.name}-{digest}"


def load_file(
    path: str | os.PathLike[str],
    *,
    source: str | None = None,
    within: str | os.PathLike[str] | None = None,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
) -> list[Document]:
    """Read one file into Documents (before chunking).

    ``.txt``/``.md`` give one Document, ``.pdf`` one per page with text (``page`` is
    0-based, as in LangChain's ``PyPDFLoader``), ``.jsonl`` one per line, ``.json`` one
    per record of a JSON array (or of the one list in a JSON object, such as
    ``{"documents": [...]}``). A record holds its text under ``text`` (or
    ``page_content``/``content``), an optional ``id`` (or BEIR's ``_id``, unique within
    the file; default: the file and the line or position) kept as the Document id, an
    optional ``title`` put before the text, an optional ``metadata`` object, and any other
    scalar fields as metadata. ``metadata["source"]`` is the record's own ``source`` if it has
    one, else the file.

    Only regular files are read (never a FIFO, device or socket), up to ``max_file_size``
    bytes. The text encoding is detected (:func:`~langchain_embedkit.files.decode_text`):
    UTF-8, UTF-16/32 with a byte-order mark, GB18030, Big5, Shift-JIS, EUC-KR, Latin-1
    and the other common ones; a file whose encoding is unclear is refused.

    Args:
        path: The file.
        source: ``metadata["source"]``; default the path relative to the working folder.
        within: The folder the file was found in: a link that leads out of it is refused.
        max_file_size: Largest file size in bytes.

    Raises:
        LoaderError: the file is missing, refused (see above), empty, binary, of an unclear
            encoding, or a JSONL line or JSON record is malformed (the message names the file
            and the line or the record's position, such as ``documents[3]``).
    """
    file_path = Path(path)
    src = source if source is not None else display_source(file_path)
    suffix = file_path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        msg = (
            f"Unsupported file type '{suffix or '(none)'}' for '{file_path}'; supported: "
            f"{', '.join(SUPPORTED_SUFFIXES)}."
        )
        raise LoaderError(msg)
    data = read_bytes(file_path, within=within, max_file_size=max_file_size)
    if suffix == ".pdf":
        return _load_pdf(file_path, data, src)
    text = decode_text(data, file_path)
    if not text.strip():
        msg = (
            f"'{file_path}' is empty (no text after removing whitespace); add text or leave it out."
        )
        raise LoaderError(msg)
    if suffix == ".jsonl":
        return _load_jsonl(file_path, text, src)
    if suffix == ".json":
        return _load_json(file_path, text, src)
    from langchain_core.documents import Document

    return [Document(page_content=text, metadata={"source": src}, id=file_key(file_path))]


def _load_jsonl(path: Path, text: str, src: str) -> list[Document]:
    records: list[tuple[str, str, Any]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            msg = f"'{path}' line {lineno} is not valid JSON ({exc.msg}); fix or remove that line."
            raise LoaderError(msg) from None
        except RecursionError:
            msg = f"'{path}' line {lineno} is nested too deeply to be a record."
            raise LoaderError(msg) from None
        records.append((str(lineno), f"L{lineno}", record))
    return _records_to_documents(
        path, "line", records, src, example='lines such as {"text": "..."}'
    )


def _load_json(path: Path, text: str, src: str) -> list[Document]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = (
            f"'{path}' is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "fix it, or use .jsonl with one record per line."
        )
        raise LoaderError(msg) from None
    except RecursionError:
        msg = f"'{path}' is nested too deeply to hold records."
        raise LoaderError(msg) from None
    field = ""
    if isinstance(data, dict):
        field = _list_field(path, data)
        data = data[field]
    if not isinstance(data, list):
        msg = (
            f"'{path}' holds a JSON {type(data).__name__}; expected an array of records "
            '([{"id": "1", "text": "..."}, ...]) or an object with one list of them '
            '({"documents": [...]}).'
        )
        raise LoaderError(msg)
    records = [(f"{field}[{i}]", f"{field}[{i}]", record) for i, record in enumerate(data)]
    return _records_to_documents(path, "record", records, src, example='[{"text": "..."}]')


def _list_field(path: Path, data: dict[str, Any]) -> str:
    """The field of a ``.json`` object that holds the records."""
    lists = [name for name, value in data.items() if isinstance(value, list)]
    if len(lists) > 1:
        lists = [name for name in lists if name in _LIST_KEYS] or lists
    if len(lists) == 1:
        return lists[0]
    found = ", ".join(repr(name) for name in lists) if lists else "none"
    msg = (
        f"'{path}' is a JSON object, so the records must be its one list field; list fields "
        f"found: {found}. Keep one (preferred names: {', '.join(_LIST_KEYS)}) or make the "
        "file a JSON array of records."
    )
    raise LoaderError(msg)


def _records_to_documents(
    path: Path, noun: str, records: Sequence[tuple[str, str, Any]], src: str, *, example: str
) -> list[Document]:
    """Documents from ``(place, id suffix, record)`` triples of one file, in order.

    ``noun`` and ``place`` name a record in messages: ``line 3``, ``record documents[2]``.
    """
    documents: list[Document] = []
    places: dict[str, str] = {}
    key = file_key(path)
    for place, suffix, record in records:
        where = f"{noun} {place}"
        document = _record_document(path, where, record, src, default_id=f"{key}#{suffix}")
        if document is None:
            continue
        doc_id = str(document.id)
        if doc_id in places:
            msg = (
                f"'{path}' {noun}s {places[doc_id]} and {place} both have the id {doc_id!r}; "
                "one would overwrite the other. Give every record its own id."
            )
            raise LoaderError(msg)
        places[doc_id] = place
        documents.append(document)
    if not documents:
        msg = f"'{path}' has no records with text; add {example}."
        raise LoaderError(msg)
    return documents


def _record_document(
    path: Path, where: str, record: Any, src: str, *, default_id: str
) -> Document | None:
    """One record as a Document (``None`` when its text is blank)."""
    from langchain_core.documents import Document

    if not isinstance(record, dict):
        msg = (
            f"'{path}' {where} is a JSON {type(record).__name__}, expected an object "
            'such as {"id": "1", "text": "...", "metadata": {...}}.'
        )
        raise LoaderError(msg)
    body = next((record[k] for k in _TEXT_KEYS if isinstance(record.get(k), str)), None)
    if body is None:
        msg = (
            f"'{path}' {where} has no text field; expected one of "
            f"{', '.join(_TEXT_KEYS)} (a string), got keys: {', '.join(sorted(record))}."
        )
        raise LoaderError(msg)
    title = record.get("title")
    if isinstance(title, str) and title.strip():
        body = f"{title.strip()}\n{body}" if body.strip() else title.strip()
    if not body.strip():
        return None
    metadata = _record_metadata(record, path, where)
    metadata.setdefault("source", src)
    raw_id = next((record[k] for k in _ID_KEYS if record.get(k) not in (None, "")), None)
    doc_id = str(raw_id) if raw_id is not None else default_id
    return Document(page_content=body, metadata=metadata, id=doc_id)


def _record_metadata(record: dict[str, Any], path: Path, where: str) -> dict[str, Any]:
    nested = record.get("metadata")
    if nested is not None and not isinstance(nested, dict):
        msg = f"'{path}' {where}: 'metadata' must be an object, got {type(nested).__name__}."
        raise LoaderError(msg)
    metadata: dict[str, Any] = {}
    skip = {*_TEXT_KEYS, *_ID_KEYS, "metadata"}
    for name, value in record.items():
        if name not in skip and isinstance(value, (str, int, float, bool)):
            metadata[name] = value
    metadata.update(nested or {})
    return metadata


def _load_pdf(path: Path, data: bytes, src: str) -> list[Document]:
    pypdf = require("pypdf", "pdf")
    from langchain_core.documents import Document

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            msg = f"'{path}' is an encrypted PDF; decrypt it first (e.g. `qpdf --decrypt`)."
            raise LoaderError(msg)
        pages = list(reader.pages)
        labels = list(reader.page_labels)
    except LoaderError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        msg = f"'{path}' is not a readable PDF ({type(exc).__name__}: {exc}). Re-export it."
        raise LoaderError(msg) from None
    key = file_key(path)
    documents = []
    for number, page in enumerate(pages):
        text = page.extract_text() or ""
        if not text.strip():
            continue
        metadata: dict[str, Any] = {"source": src, "page": number}
        if number < len(labels):
            metadata["page_label"] = labels[number]
        documents.append(Document(page_content=text, metadata=metadata, id=f"{key}#p{number}"))
    if not documents:
        msg = (
            f"'{path}' has no extractable text (a scanned PDF?); run OCR on it first, "
            "e.g. `ocrmypdf in.pdf out.pdf`."
        )
        raise LoaderError(msg)
    return documents


def split_documents(
    documents: Iterable[Document],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
) -> list[Document]:
    """Cut Documents into chunks of at most ``chunk_size`` estimated word pieces.

    Splits on paragraphs, lines, Chinese and English sentence ends, words, then
    characters (:data:`CHINESE_AWARE_SEPARATORS`); sentence punctuation stays at the end
    of its sentence. Each chunk is a new Document (inputs are not changed) with the
    parent's metadata plus ``chunk_index``, and the id ``parent_id`` when the parent
    fits in one chunk, ``parent_id#<n>`` otherwise.

    Raises:
        ValueError: ``chunk_size`` is not positive or ``chunk_overlap`` is not smaller.
    """
    if chunk_size <= 0 or not 0 <= chunk_overlap < chunk_size:
        msg = (
            f"Invalid chunking: chunk_size={chunk_size}, chunk_overlap={chunk_overlap}; need "
            "chunk_size > 0 and 0 <= chunk_overlap < chunk_size "
            f"(defaults {DEFAULT_CHUNK_SIZE} and {DEFAULT_CHUNK_OVERLAP})."
        )
        raise ValueError(msg)
    text_splitters = require("langchain_text_splitters", "cli")
    from langchain_core.documents import Document

    splitter = text_splitters.RecursiveCharacterTextSplitter(
        separators=CHINESE_AWARE_SEPARATORS,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        length_function=estimate_tokens,
    )
    chunks: list[Document] = []
    for number, document in enumerate(documents):
        pieces = [p for p in splitter.split_text(document.page_content) if p.strip()]
        parent_id = document.id or f"doc{number}"
        for index, piece in enumerate(pieces):
            chunk_id = parent_id if len(pieces) == 1 else f"{parent_id}#{index}"
            metadata = {**document.metadata, "chunk_index": index}
            chunks.append(Document(page_content=piece, metadata=metadata, id=chunk_id))
    return chunks


def sample_corpus_path() -> Path:
    """Path of the small English and Chinese corpus shipped with the package."""
    return Path(__file__).resolve().parent / "data" / "sample_corpus.jsonl"


def load_sample_corpus() -> list[Document]:
    """The packaged sample corpus as Documents (history of AI, vector search and RAG).

    Example:
        >>> docs = load_sample_corpus()
        >>> sorted({d.metadata["lang"] for d in docs})
        ['en', 'zh']
    """
    return load_file(sample_corpus_path(), source="embedkit:sample_corpus.jsonl")
