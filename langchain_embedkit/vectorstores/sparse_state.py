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
   log size the write starts from and, per document, its text before and after;
3. the engine write (or delete);
4. the change appended to the log, and the journal removed (a log grown past the base
   is then folded into a new base).

A crash before 2 leaves the saved state and an untouched collection. A crash after 2
leaves a journal: on open the state is read as it was before the write (the log cut to
the journaled size), the journal's changes applied again, and every document whose engine
write did not land taken back out (compared with what the collection holds now); then a
new base is saved. A journal naming an older base was already folded into the current
one. A write the engine refuses is settled the same way at once. Opening also compares
the saved document count with the collection's (one count); when they disagree (a
missing or foreign state file, another program wrote to the collection) the encoder is
refitted on the stored texts and every stored sparse vector re-encoded, with a warning.
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
from langchain_embedkit.sparse.base import FittableSparseEmbeddings, SparseEmbeddings
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.sparse.bm25_delta import delta_since, take_snapshot
from langchain_embedkit.types import SparseVector
from langchain_embedkit.vectorstores.backends.base import Backend
from langchain_embedkit.vectorstores.sparse_log import StateFiles

__all__ = ["Change", "PendingWrite", "SparseBook", "write_lock"]

logger = logging.getLogger(__name__)

_PAGE = 2000
_JOURNAL_VERSION = 2
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
    """One document's text before and after a write (``None``: not stored)."""

    id: str
    old: str | None
    new: str | None


def _write_json(path: Path, payload: Any) -> None:
    """Write JSON through a per-write temporary file, then replace ``path`` atomically."""
    atomic_write_text(path, json.dumps(payload, ensure_ascii=False))


@dataclass(frozen=True)
class PendingWrite:
    """What :meth:`SparseBook.before_write` hands to :meth:`SparseBook.after_write`."""

    record: dict[str, Any] | None
    """The change as a log record (None: the whole state must be saved)."""


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

    # -- files ------------------------------------------------------------------------------

    @property
    def journal_path(self) -> Path | None:
        """Where the journal of the write in flight is kept."""
        return None if self.path is None else self.path.with_name(self.path.name + ".journal")

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
        if type(log_bytes) is not int or log_bytes < 0 or not isinstance(entries, list):
            self.rebuild()
            return False
        changes = [Change(*entry) for entry in entries]
        loaded = files.load(fittable, log_bytes=log_bytes)
        old = [c.old for c in changes if c.old is not None]
        new = [c.new for c in changes if c.new is not None]
        if journal.get("fit") is True or not loaded:
            # the write started from no saved statistics: they are those of its new texts
            if not new:
                self.rebuild()
                return False
            fittable.fit(new)
        else:
            if old:
                fittable.partial_unfit(old)
            if new:
                fittable.partial_fit(new)
        if not self.settle(changes):
            return False
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
        if not isinstance(payload, dict) or payload.get("version") != _JOURNAL_VERSION:
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

    # -- writes -----------------------------------------------------------------------------

    def before_write(self, changes: Sequence[Change]) -> PendingWrite | None:
        """Update the statistics for ``changes`` and journal them before the engine write.

        Returns:
            What to pass to :meth:`after_write` (None for servers).
        """
        fittable = self.fittable
        if fittable is None:
            return None
        old = [c.old for c in changes if c.old is not None]
        new = [c.new for c in changes if c.new is not None]
        fit = self._foreign and bool(new)
        snapshot = None
        if isinstance(fittable, BM25SparseEmbeddings) and not fit and fittable.is_fitted:
            snapshot = take_snapshot(fittable)
        if fit:
            fittable.fit(new)
            self._foreign = False
        else:
            if old:
                fittable.partial_unfit(old)
            if new:
                fittable.partial_fit(new)
        files = self.files
        if files is None:
            return None
        record = None
        if snapshot is not None and isinstance(fittable, BM25SparseEmbeddings):
            record = delta_since(fittable, snapshot)
        payload = {
            "version": _JOURNAL_VERSION,
            "kind": "write",
            "base": files.base_id,
            "log_bytes": files.log_size(),
            "fit": fit,
            "changes": [[c.id, c.old, c.new] for c in changes],
        }
        journal = self.journal_path
        assert journal is not None
        _write_json(journal, payload)
        return PendingWrite(record)

    def after_write(self, pending: PendingWrite | None) -> None:
        """The engine write landed: log the change (or save the whole state)."""
        fittable = self.fittable
        files = self.files
        if fittable is None or files is None:
            return
        record = pending.record if pending is not None else None
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
        if self.settle(changes):
            self.save()
            self._clear()

    def settle(self, changes: Sequence[Change]) -> bool:
        """Take out of the statistics every change the collection does not show.

        The statistics are assumed to include every change. Returns False when the
        collection shows neither version of a document (then everything was rebuilt).
        """
        fittable = self.fittable
        assert fittable is not None
        if not changes:
            return True
        stored = {r.id: r.text for r in self.backend.get([c.id for c in changes])}
        undo_new: list[str] = []
        redo_old: list[str] = []
        for change in changes:
            now = stored.get(change.id)
            if now == change.new:
                continue
            if now == change.old:
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
            return False
        if undo_new:
            fittable.partial_unfit(undo_new)
        if redo_old:
            fittable.partial_fit(redo_old)
        return True

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
        self.backend.end_of_writes()
        self.after_write(None)
