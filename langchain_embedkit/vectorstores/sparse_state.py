"""BM25 statistics that follow the collection: bookkeeping, crash journal, reconcile on open.

The statistics that score queries (document count, document frequencies, token total)
always describe exactly the documents the collection holds: a write first removes the
replaced documents' old texts from them (``partial_unfit``) and adds the new texts
(``partial_fit``); a delete removes the deleted texts. Vocabulary ids never change meaning,
so stored sparse vectors stay valid when the statistics change.

The statistics are saved as a base file and a change log (:mod:`.sparse_log`): a write
appends one line holding what it changed, so its cost follows the change, not the
vocabulary. Write order for a local store (one collection, under one lock):

1. statistics updated in memory, sparse vectors encoded;
2. a journal ``<state>.journal`` written (atomic replace) naming the base file and the
   log size the write starts from and, per document, its text after and what was
   counted for it before;
3. the engine write (or delete);
4. the document index updated (one SQLite transaction), the change appended to the log,
   and the journal removed (a log grown past the base is then folded into a new base).

A local BM25 store keeps what was counted for each document by id (:mod:`.doc_index`),
so the old version of a replaced or deleted document leaves the statistics without
being read from the engine, and Milvus knows which ids are stored without asking it.

A crash before 2 leaves the saved state and an untouched collection. A crash after 2
leaves a journal: on open the state is read as it was before the write (the log cut to
the journaled size), the journal's changes applied again, and every document whose engine
write did not land taken back out (compared with what the collection holds now); the
journaled ids get their index rows as the collection holds them, and a new base is
saved. A journal naming an older base was already folded into the current
one. A write the engine refuses is settled the same way at once. Opening also compares
the saved document count with the collection's (one count); when they disagree (a
missing or foreign state file, another program wrote to the collection) the encoder is
refitted on the stored texts and every stored sparse vector re-encoded, with a warning.
The document index is trusted while its totals equal the statistics'; a lost, damaged or
older index is rebuilt from the stored texts by the next write (and when the texts do
not add up to the statistics, those are refitted too).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_embedkit._fs import atomic_write_text
from langchain_embedkit.errors import PersistenceError
from langchain_embedkit.sparse.base import FittableSparseEmbeddings, SparseEmbeddings
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.sparse.bm25_counts import (
    DocumentCounts,
    check_unfit,
    count_documents,
    refit_counts,
    unfit_counts,
)
from langchain_embedkit.sparse.bm25_delta import delta_since, take_snapshot
from langchain_embedkit.types import SparseVector
from langchain_embedkit.vectorstores.backends.base import Backend
from langchain_embedkit.vectorstores.doc_index import DocIndex
from langchain_embedkit.vectorstores.sparse_log import StateFiles

__all__ = ["Change", "PendingWrite", "SparseBook", "write_lock"]

logger = logging.getLogger(__name__)

_PAGE = 10_000  # Milvus Lite 3 scans the collection once per page: few, large pages
_JOURNAL_VERSION = 3
_JOURNAL_VERSIONS = (2, 3)  # 2 journaled old texts only; 3 also document counts
_locks: dict[str, threading.RLock] = {}
_locks_guard = threading.Lock()


def write_lock(key: str) -> threading.RLock:
    """One re-entrant lock per collection in this process (writes and their bookkeeping)."""
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = threading.RLock()
        return lock


@dataclass(frozen=True)
class Change:
    """One document before and after a write (``None``: not stored).

    The old version is its text, or what BM25 counted for it (read from the document
    index instead of the engine).
    """

    id: str
    old: str | DocumentCounts | None
    new: str | None

    def to_json(self) -> list[Any]:
        old = self.old.to_json() if isinstance(self.old, DocumentCounts) else self.old
        return [self.id, old, self.new]

    @classmethod
    def from_json(cls, entry: Any) -> Change:
        """Read a journal entry; raises ValueError when it is not one."""
        if not isinstance(entry, list) or len(entry) != 3 or not isinstance(entry[0], str):
            msg = "not a journal entry"
            raise ValueError(msg)
        doc_id, old, new = entry
        if isinstance(old, dict):
            old = DocumentCounts.from_json(old)
        if not (old is None or isinstance(old, str | DocumentCounts)) or not (
            new is None or isinstance(new, str)
        ):
            msg = "not a journal entry"
            raise ValueError(msg)
        return cls(doc_id, old, new)


def _write_json(path: Path, payload: Any) -> None:
    """Write JSON through a per-write temporary file, then replace ``path`` atomically."""
    atomic_write_text(path, json.dumps(payload, ensure_ascii=False))


@dataclass(frozen=True)
class PendingWrite:
    """What :meth:`SparseBook.before_write` hands to :meth:`SparseBook.after_write`."""

    record: dict[str, Any] | None
    """The change as a log record (None: the whole state must be saved)."""
    rows: list[tuple[str, DocumentCounts | None]]
    """The document index's new rows (None: the id leaves it)."""
    stored: dict[str, DocumentCounts] | None = None
    """The index's rows for those ids before the write, when they were read from it."""


class SparseBook:
    """Keeps a fittable sparse encoder's statistics equal to the collection's documents.

    Args:
        encoder: The store's sparse encoder.
        backend: The engine adapter.
        path: The state file (None for servers: the state lives in memory only).
        collection_name: For messages.
    """

    def __init__(
        self,
        encoder: SparseEmbeddings,
        backend: Backend,
        path: Path | None,
        collection_name: str,
    ) -> None:
        self.encoder = encoder
        self.fittable: FittableSparseEmbeddings | None = (
            encoder if isinstance(encoder, FittableSparseEmbeddings) else None
        )
        self.backend = backend
        self.path = path
        self.files = StateFiles(path) if path is not None else None
        self.collection_name = collection_name
        # a fitted encoder given to an empty collection holds statistics of documents the
        # collection does not hold: the first write fits it afresh instead
        self._foreign = False
        self.docs: DocIndex | None = None
        """Per-document counts of a local BM25 store (see :mod:`.doc_index`)."""
        if path is not None and isinstance(encoder, BM25SparseEmbeddings):
            self.docs = DocIndex(path.with_name(path.name + ".docs"))
        self._docs_ok = False  # the index's rows are known to match the statistics

    # -- files ------------------------------------------------------------------------------

    @property
    def journal_path(self) -> Path | None:
        """Where the journal of the write in flight is kept."""
        return None if self.path is None else self.path.with_name(self.path.name + ".journal")

    def _bm25(self) -> BM25SparseEmbeddings:
        assert isinstance(self.fittable, BM25SparseEmbeddings)
        return self.fittable

    def _n_docs(self) -> int:
        fittable = self.fittable
        assert fittable is not None
        if not fittable.is_fitted:
            return 0
        if isinstance(fittable, BM25SparseEmbeddings):
            return fittable.n_docs  # statistics() would copy the whole vocabulary
        return fittable.statistics().n_docs

    def save(self) -> None:
        """Save the statistics as a new base file (an empty collection has no state file)."""
        if self.fittable is None or self.files is None:
            return
        self.files.save(self.fittable)

    def close(self) -> None:
        """Close the document index (it reopens when used again)."""
        if self.docs is not None:
            self.docs.close()

    # -- open -------------------------------------------------------------------------------

    def open(self) -> None:
        """Load the saved state, finish an interrupted write, and check it against the data."""
        fittable = self.fittable
        if fittable is None:
            return
        files = self.files
        journal = self._read_journal()
        if journal is not None and journal.get("kind") != "write":
            logger.warning(
                "Re-encoding the sparse vectors of collection %r was interrupted; doing it again.",
                self.collection_name,
            )
            self.rebuild()
            return
        if journal is not None and files is not None:
            if journal.get("base") != files.current_base_id():
                # a base saved after the journal already holds the write and its settling
                files.load(fittable)
                self._clear()
            elif not self._recover(journal):
                return
        elif files is not None:
            files.load(fittable)
        self._remove_stray_pending()
        stored = self.backend.count()
        counted = self._n_docs()
        if stored == counted:
            self._docs_ok = self._docs_match()
            return
        if stored == 0:
            self._foreign = True
            return
        logger.warning(
            "The sparse statistics of collection %r count %d documents but it holds %d "
            "(the state file is missing, or another program changed the collection); "
            "refitting the sparse encoder on the stored texts and re-encoding them.",
            self.collection_name,
            counted,
            stored,
        )
        self.rebuild()

    def _recover(self, journal: dict[str, Any]) -> bool:
        """Redo a journaled write on the state it started from, then settle it."""
        fittable = self.fittable
        files = self.files
        assert fittable is not None and files is not None
        log_bytes = journal.get("log_bytes")
        entries = journal.get("changes")
        try:
            changes = [Change.from_json(e) for e in entries] if isinstance(entries, list) else None
        except ValueError:
            changes = None
        if changes is None or type(log_bytes) is not int or log_bytes < 0:
            self.rebuild()
            return False
        loaded = files.load(fittable, log_bytes=log_bytes)
        new = [c.new for c in changes if c.new is not None]
        if journal.get("fit") is True or not loaded:
            # the write started from no saved statistics: they are those of its new texts
            if not new:
                self.rebuild()
                return False
            fittable.fit(new)
            if self.docs is not None:
                self._clear_docs()
        else:
            self._take_out([c.old for c in changes])
            if new:
                fittable.partial_fit(new)
        rows = self.settle(changes)
        if rows is None:
            return False
        self._index(rows, recovering=True)
        self.save()
        self._clear()
        return True

    def _read_journal(self) -> dict[str, Any] | None:
        journal = self.journal_path
        if journal is None or not journal.exists():
            return None
        try:
            payload = json.loads(journal.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            # a journal is replaced atomically, so this is damage from outside: rebuild
            return {"kind": "rebuild"}
        if not isinstance(payload, dict) or payload.get("version") not in _JOURNAL_VERSIONS:
            return {"kind": "rebuild"}
        return payload

    def _remove_stray_pending(self) -> None:
        # whole-state files of the previous write order (one per write)
        if self.path is None or not self.path.parent.exists():
            return
        for stray in self.path.parent.glob(self.path.name + ".pending-*"):
            with contextlib.suppress(OSError):
                stray.unlink()

    def _clear(self) -> None:
        journal = self.journal_path
        if journal is not None:
            journal.unlink(missing_ok=True)

    # -- the document index -----------------------------------------------------------------

    def _docs_match(self) -> bool:
        """Whether the index's totals equal the statistics' (then its rows are trusted)."""
        if self.docs is None or not self.docs.path.exists():
            return False  # a store saved without one: the next write builds it
        fittable = self._bm25()
        try:
            return self.docs.totals() == (fittable.n_docs, fittable._total_tokens)
        except PersistenceError:
            return False

    def _clear_docs(self) -> None:
        assert self.docs is not None
        try:
            self.docs.clear()
        except PersistenceError:
            self.docs.remove()  # damaged from outside: start a new file
            self.docs.clear()
        self._docs_ok = True

    def _ensure_docs(self) -> bool:
        """Make the index match the statistics (built from the stored texts if it does not).

        Returns False when there is no index (servers, other encoders).
        """
        docs = self.docs
        if docs is None:
            return False
        if self._docs_ok:
            return True
        fittable = self._bm25()
        self._clear_docs()
        if fittable.is_fitted and not self._foreign:
            logger.info(
                "Building the BM25 document index of collection %r from the stored texts.",
                self.collection_name,
            )
            for ids, page in self._stored():
                docs.apply((), zip(ids, count_documents(fittable, page), strict=True))
        if not self._foreign and not self._docs_match():
            logger.warning(
                "The sparse statistics of collection %r do not add up to its stored texts; "
                "refitting the sparse encoder on them and re-encoding them.",
                self.collection_name,
            )
            self.rebuild()
        return True

    def _index(
        self,
        rows: Sequence[tuple[str, DocumentCounts | None]],
        stored: dict[str, DocumentCounts] | None = None,
        *,
        recovering: bool = False,
    ) -> None:
        """Write settled rows to the index (when it is in use).

        A recovery writes them whenever the file exists: the index is only judged after
        it, and rows the interrupted write left behind could otherwise pass that judgement
        (an upsert keeping a document's length keeps the totals).
        """
        if self.docs is None or not rows:
            return
        if not (self._docs_ok or (recovering and self.docs.path.exists())):
            return
        try:
            self.docs.apply(
                [doc_id for doc_id, counts in rows if counts is None],
                [(doc_id, counts) for doc_id, counts in rows if counts is not None],
                stored,
            )
        except PersistenceError:
            logger.warning("The BM25 document index %s is damaged; rebuilding it.", self.docs.path)
            self.docs.remove()
            self._docs_ok = False

    def _damaged(self, error: Exception) -> None:
        assert self.docs is not None
        logger.warning(
            "The BM25 document index %s of collection %r cannot be used (%s); rebuilding it "
            "from the stored texts.",
            self.docs.path,
            self.collection_name,
            error,
        )
        self.docs.remove()
        self._docs_ok = False
        self._ensure_docs()

    def stored_ids(self, ids: Sequence[str]) -> set[str] | None:
        """The ids among ``ids`` the collection holds, from the index (None: ask the engine)."""
        if not self._ensure_docs():
            return None
        assert self.docs is not None
        try:
            return self.docs.stored(ids)
        except PersistenceError as error:
            self._damaged(error)
            return self.docs.stored(ids)

    def old_versions(self, ids: Sequence[str]) -> dict[str, str | DocumentCounts]:
        """What the statistics counted for the stored ids among ``ids``.

        From the document index when there is one (nothing is read from the engine), else
        the stored texts.
        """
        if not ids:
            return {}
        if self._ensure_docs():
            assert self.docs is not None
            try:
                found = self.docs.counts(ids)
                check_unfit(self._bm25(), list(found.values()))  # rows the statistics counted
            except (PersistenceError, ValueError) as error:
                self._damaged(error)
                found = self.docs.counts(ids)
            return dict(found)
        return {r.id: r.text for r in self.backend.get(ids)}

    def _take_out(self, olds: Sequence[str | DocumentCounts | None], *, back: bool = False) -> None:
        """Remove old versions from the statistics (``back=True``: put them back)."""
        fittable = self.fittable
        assert fittable is not None
        texts = [old for old in olds if isinstance(old, str)]
        if texts:
            (fittable.partial_fit if back else fittable.partial_unfit)(texts)
        counted = [old for old in olds if isinstance(old, DocumentCounts)]
        if counted:
            (refit_counts if back else unfit_counts)(self._bm25(), counted)

    def _counts(self, texts: list[str]) -> list[DocumentCounts]:
        return count_documents(self._bm25(), texts) if self.docs is not None else []

    # -- writes -----------------------------------------------------------------------------

    def before_write(self, changes: Sequence[Change]) -> PendingWrite | None:
        """Update the statistics for ``changes`` and journal them before the engine write.

        Returns:
            What to pass to :meth:`after_write` (None for servers).
        """
        fittable = self.fittable
        if fittable is None:
            return None
        if self.files is not None:
            self._ensure_docs()  # the first write to a store saved without an index builds it
        new = [c.new for c in changes if c.new is not None]
        fit = self._foreign and bool(new)
        snapshot = None
        if isinstance(fittable, BM25SparseEmbeddings) and not fit and fittable.is_fitted:
            snapshot = take_snapshot(fittable)
        if fit:
            fittable.fit(new)
            self._foreign = False
            if self.docs is not None:
                self._clear_docs()
        else:
            self._take_out([c.old for c in changes])
            if new:
                fittable.partial_fit(new)
        files = self.files
        if files is None:
            return None
        counted = iter(self._counts(new))
        rows = [(c.id, next(counted) if c.new is not None else None) for c in changes]
        record = None
        if snapshot is not None and isinstance(fittable, BM25SparseEmbeddings):
            record = delta_since(fittable, snapshot)
        payload = {
            "version": _JOURNAL_VERSION,
            "kind": "write",
            "base": files.base_id,
            "log_bytes": files.log_size(),
            "fit": fit,
            "changes": [c.to_json() for c in changes],
        }
        journal = self.journal_path
        assert journal is not None
        _write_json(journal, payload)
        if self.docs is None:
            return PendingWrite(record, [])
        stored = None
        if not any(isinstance(c.old, str) for c in changes):  # every old version from the index
            stored = {c.id: c.old for c in changes if isinstance(c.old, DocumentCounts)}
        return PendingWrite(record, rows, stored)

    def after_write(self, pending: PendingWrite | None) -> None:
        """The engine write landed: log the change (or save the whole state)."""
        fittable = self.fittable
        files = self.files
        if fittable is None or files is None:
            return
        record = pending.record if pending is not None else None
        if pending is not None:
            self._index(pending.rows, pending.stored)
        if record is None or not files.base_id or not fittable.is_fitted:
            files.save(fittable)
            self._clear()
            return
        if not files.append(record):
            files.save(fittable)  # another store object wrote: the last whole state wins
        self._clear()
        if files.needs_compaction():
            files.save(fittable)

    def write_failed(self, changes: Sequence[Change], pending: PendingWrite | None) -> None:
        """The engine refused the write (maybe after part of it): settle what landed."""
        if self.fittable is None:
            return
        rows = self.settle(changes)
        if rows is not None:
            self._index(rows)
            self.save()
            self._clear()

    def settle(self, changes: Sequence[Change]) -> list[tuple[str, DocumentCounts | None]] | None:
        """Take out of the statistics every change the collection does not show.

        The statistics are assumed to include every change. Returns each changed id's
        counts as the collection now holds it (None: not stored), or None when the
        collection shows neither version of a document (then everything was rebuilt).
        """
        fittable = self.fittable
        assert fittable is not None
        if not changes:
            return []
        stored = {r.id: r.text for r in self.backend.get([c.id for c in changes])}
        undo_new: list[str] = []
        redo_old: list[str | DocumentCounts] = []
        now_texts: dict[str, str] = {}
        for change in changes:
            now = stored.get(change.id)
            if now is not None:
                now_texts[change.id] = now
            if now == change.new:
                continue
            if self._is_old(now, change.old):
                if change.new is not None:
                    undo_new.append(change.new)
                if change.old is not None:
                    redo_old.append(change.old)
                continue
            logger.warning(
                "Document %r of collection %r changed outside this store during a write; "
                "refitting the sparse encoder on the stored texts.",
                change.id,
                self.collection_name,
            )
            self.rebuild()
            return None
        if undo_new:
            fittable.partial_unfit(undo_new)
        self._take_out(redo_old, back=True)
        ids = [c.id for c in changes if c.id in now_texts]
        now_counts = dict(zip(ids, self._counts([now_texts[i] for i in ids]), strict=False))
        return [(c.id, now_counts.get(c.id)) for c in changes]

    def _is_old(self, now: str | None, old: str | DocumentCounts | None) -> bool:
        if not isinstance(old, DocumentCounts):
            return now == old
        return now is not None and count_documents(self._bm25(), [now])[0] == old

    # -- rebuild ----------------------------------------------------------------------------

    def _stored(self) -> Iterator[tuple[list[str], list[str]]]:
        for records in self.backend.iter_records(None, _PAGE):
            yield [r.id for r in records], [r.text for r in records]

    def rebuild(self) -> None:
        """Refit the encoder on the stored texts and re-encode every stored sparse vector.

        Document vectors carry the document-length average of their write time; this
        brings them all to the current one too.
        """
        fittable = self.fittable
        if fittable is None:
            return
        texts = [text for _, page in self._stored() for text in page]
        self._foreign = False
        if self.docs is not None:
            self._clear_docs()
        if not texts:
            # fitted statistics of an empty collection are foreign: the next write fits
            self._foreign = fittable.is_fitted
            if self.files is not None:
                if self._foreign:
                    self.files.remove()
                else:
                    self.files.save(fittable)
                self._clear()
            return
        fittable.fit(texts)
        del texts
        journal = self.journal_path
        if journal is not None:
            _write_json(journal, {"version": _JOURNAL_VERSION, "kind": "rebuild"})
        for ids, page in self._stored():
            vectors: list[SparseVector] = self.encoder.embed_documents(page)
            self.backend.write_sparse(ids, vectors)
            self._index(list(zip(ids, self._counts(page), strict=True)))
        self.backend.end_of_writes()
        self.after_write(None)
