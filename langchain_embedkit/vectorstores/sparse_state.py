"""BM25 statistics that follow the collection: bookkeeping, crash journal, reconcile on open.

The statistics that score queries (document count, document frequencies, token total)
always describe exactly the documents the collection holds: a write first removes the
replaced documents' old texts from them (``partial_unfit``) and adds the new texts
(``partial_fit``); a delete removes the deleted texts. Vocabulary ids never change meaning,
so stored sparse vectors stay valid when the statistics change.

Write order for a local store (one collection, under one lock):

1. statistics updated in memory, sparse vectors encoded;
2. the new state saved to a per-write pending file ``<state>.pending-<uuid>.json``;
3. a journal ``<state>.journal.json`` written (atomic replace) naming that pending file
   and, per document, its text before and after the write;
4. the engine write (or delete);
5. the pending file replaces the state file, and the journal is removed.

A crash before 3 leaves the old state and an untouched collection. A crash after 3 leaves
a journal: on open the pending state is loaded and every document of the journal whose
engine write did not land is taken back out of the statistics (compared with what the
collection holds now). A write the engine refuses is handled the same way at once.
Opening also compares the saved document count with the collection's (one count); when
they disagree (a missing or foreign state file, another program wrote to the collection)
the encoder is refitted on the stored texts and every stored sparse vector re-encoded,
with a warning.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_embedkit._fs import atomic_write_text
from langchain_embedkit.sparse.base import FittableSparseEmbeddings, SparseEmbeddings
from langchain_embedkit.types import SparseVector
from langchain_embedkit.vectorstores.backends.base import Backend

__all__ = ["Change", "SparseBook", "write_lock"]

logger = logging.getLogger(__name__)

_PAGE = 2000
_JOURNAL_VERSION = 1
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
        self.collection_name = collection_name
        # a fitted encoder given to an empty collection holds statistics of documents the
        # collection does not hold: the first write fits it afresh instead
        self._foreign = False

    # -- files ------------------------------------------------------------------------------

    @property
    def journal_path(self) -> Path | None:
        """Where the journal of the write in flight is kept."""
        return None if self.path is None else self.path.with_name(self.path.name + ".journal")

    def _pending_path(self) -> Path:
        assert self.path is not None
        return self.path.with_name(f"{self.path.name}.pending-{uuid.uuid4().hex}")

    def _n_docs(self) -> int:
        assert self.fittable is not None
        return self.fittable.statistics().n_docs if self.fittable.is_fitted else 0

    def _save_to(self, target: Path) -> None:
        assert self.fittable is not None
        self.fittable.save(target)

    def save(self) -> None:
        """Save the statistics to the state file (an empty collection has no state file)."""
        if self.fittable is None or self.path is None:
            return
        if not self.fittable.is_fitted:
            self.path.unlink(missing_ok=True)
            return
        pending = self._pending_path()
        self._save_to(pending)
        os.replace(pending, self.path)

    # -- open -------------------------------------------------------------------------------

    def open(self) -> None:
        """Load the saved state, finish an interrupted write, and check it against the data."""
        fittable = self.fittable
        if fittable is None:
            return
        journal = self._read_journal()
        if journal is not None and journal.get("kind") == "rebuild":
            logger.warning(
                "Re-encoding the sparse vectors of collection %r was interrupted; doing it again.",
                self.collection_name,
            )
            self.rebuild()
            return
        if journal is not None and not journal.get("pending"):
            # the write emptied the statistics; whether it landed, the stored texts say
            self.rebuild()
            return
        if journal is not None:
            pending = Path(str(journal["pending"]))
            source = pending if pending.name and pending.exists() else self.path
            if source is not None and source.exists():
                fittable.load(source)
            changes = [Change(*entry) for entry in journal.get("changes", [])]
            if not self.settle(changes):
                return
            self.save()
            self._clear(pending)
        elif self.path is not None and self.path.exists():
            fittable.load(self.path)
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
        if self.path is None or not self.path.parent.exists():
            return
        for stray in self.path.parent.glob(self.path.name + ".pending-*"):
            with contextlib.suppress(OSError):
                stray.unlink()

    def _clear(self, pending: Path | None) -> None:
        journal = self.journal_path
        if journal is not None:
            journal.unlink(missing_ok=True)
        if pending is not None and pending.name:
            pending.unlink(missing_ok=True)

    # -- writes -----------------------------------------------------------------------------

    def before_write(self, changes: Sequence[Change]) -> Path | None:
        """Update the statistics for ``changes`` and persist them before the engine write.

        Returns:
            The pending state file to pass to :meth:`after_write` (None for servers).
        """
        fittable = self.fittable
        if fittable is None:
            return None
        old = [c.old for c in changes if c.old is not None]
        new = [c.new for c in changes if c.new is not None]
        if self._foreign and new:
            fittable.fit(new)
            self._foreign = False
        else:
            if old:
                fittable.partial_unfit(old)
            if new:
                fittable.partial_fit(new)
        if self.path is None:
            return None
        pending = self._pending_path()
        if fittable.is_fitted:
            self._save_to(pending)
        payload = {
            "version": _JOURNAL_VERSION,
            "kind": "write",
            "pending": str(pending) if fittable.is_fitted else "",
            "changes": [[c.id, c.old, c.new] for c in changes],
        }
        journal = self.journal_path
        assert journal is not None
        _write_json(journal, payload)
        return pending

    def after_write(self, pending: Path | None) -> None:
        """The engine write landed: the pending state becomes the state."""
        if self.fittable is None or self.path is None:
            return
        if pending is not None and pending.exists():
            os.replace(pending, self.path)
        elif not self.fittable.is_fitted:
            self.path.unlink(missing_ok=True)
        self._clear(None)

    def write_failed(self, changes: Sequence[Change], pending: Path | None) -> None:
        """The engine refused the write (maybe after part of it): settle what landed."""
        if self.fittable is None:
            return
        if self.settle(changes):
            self.save()
            self._clear(pending)

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
            self._foreign = fittable.is_fitted
            if self.path is not None:
                self.path.unlink(missing_ok=True)
                self._clear(None)
            return
        fittable.fit(texts)
        del texts
        pending: Path | None = None
        if self.path is not None:
            pending = self._pending_path()
            self._save_to(pending)
            journal = self.journal_path
            assert journal is not None
            _write_json(journal, {"version": _JOURNAL_VERSION, "kind": "rebuild"})
        for ids, page in self._stored():
            vectors: list[SparseVector] = self.encoder.embed_documents(page)
            self.backend.write_sparse(ids, vectors)
        self.backend.end_of_writes()
        self.after_write(pending)
