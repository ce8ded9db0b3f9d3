"""A local store's per-document BM25 counts, kept by id beside the statistics.

For every stored document the index holds what BM25 counted for it
(:class:`~langchain_embedkit.sparse.bm25_counts.DocumentCounts`: its length and distinct
token ids), so an upsert or a delete takes the old version out of the statistics without
reading its text from the engine, and knows which ids are stored without asking it.

It is one SQLite file (``<state>.docs``, WAL mode: a killed process leaves the last
committed transaction; the WAL is folded back every ~64 MB and on close) with the
documents and two totals, document count and token count, changed in the same
transaction as the rows. A removed document is first only named in a small ``gone`` table
(a delete of 1,000 random ids would otherwise rewrite about as many pages); its row is
dropped with the others in one ordered pass once ``gone`` holds 10,000 ids. The store
trusts the index only while those totals equal the statistics' (which equal the
collection's count), and rebuilds it from the stored texts otherwise. Everything read
back is checked.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from langchain_embedkit.errors import PersistenceError
from langchain_embedkit.sparse.bm25_counts import DocumentCounts, read_counts

__all__ = ["DocIndex"]

_VERSION = 2  # 2: the gone table (a version 1 file is read as a version 2 one with none)
_PAGE = 900  # ids per statement, under SQLite's variable limit on every build
_CHECKPOINT_PAGES = 16_000  # the WAL is folded back at about 64 MB (and on close)
_GONE_LIMIT = 10_000  # removed rows are dropped from docs in one pass past this many
_CACHE_KIB = 32_768  # page cache, allocated as used: an upsert or delete of 1,000 random
# ids touches about as many pages, and SQLite's default 2 MB re-reads them from the OS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    id TEXT PRIMARY KEY NOT NULL, length INTEGER NOT NULL, tokens BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gone (id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS totals (
    key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL
) WITHOUT ROWID;
"""


class DocIndex:
    """Per-document counts of one collection's BM25 statistics.

    Args:
        path: The SQLite file (created on first use).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        db = self._db
        if db is not None:
            return db
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            # A write of 1,000 random ids touches about as many pages; checkpointing the WAL
            # every 1,000 pages (the default) would copy them back after every write.
            db.execute(f"PRAGMA wal_autocheckpoint={_CHECKPOINT_PAGES}")
            db.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
            db.executescript(_SCHEMA)
            version = self._total(db, "version")
            if version is None:
                self._set_totals(db, {"version": _VERSION, "n_docs": 0, "total_tokens": 0})
            elif version == 1:
                self._set_totals(db, {"version": _VERSION})
            elif version != _VERSION:
                db.close()
                msg = f"unknown version {version}"
                raise PersistenceError(self._problem(msg))
        except (OSError, sqlite3.Error) as exc:
            msg = self._problem(f"cannot be opened ({exc})")
            raise PersistenceError(msg) from None
        self._db = db
        return db

    def _problem(self, what: str) -> str:
        return (
            f"BM25 document index {self.path} {what}. Delete it: the store rebuilds it from "
            "the stored texts on its next write."
        )

    @staticmethod
    def _total(db: sqlite3.Connection, key: str) -> int | None:
        row = db.execute("SELECT value FROM totals WHERE key = ?", (key,)).fetchone()
        return None if row is None else int(row[0])

    @staticmethod
    def _set_totals(db: sqlite3.Connection, values: dict[str, int]) -> None:
        db.executemany("INSERT OR REPLACE INTO totals VALUES (?, ?)", values.items())

    def close(self) -> None:
        """Close the file (it reopens on the next call)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- reading ----------------------------------------------------------------------------

    def totals(self) -> tuple[int, int]:
        """The document count and token total the rows add up to."""
        db = self._connect()
        return self._total(db, "n_docs") or 0, self._total(db, "total_tokens") or 0

    @staticmethod
    def _pages(ids: Sequence[str]) -> Iterator[tuple[list[str], str]]:
        """``ids`` in slices one statement can bind, each with its ``?,?,...`` marks."""
        for start in range(0, len(ids), _PAGE):
            part = list(ids[start : start + _PAGE])
            yield part, ",".join("?" * len(part))

    def _rows(self, ids: Sequence[str], columns: str) -> Iterator[tuple[object, ...]]:
        db = self._connect()
        for part, marks in self._pages(ids):
            yield from db.execute(
                f"SELECT {columns} FROM docs WHERE id IN ({marks}) "
                "AND NOT EXISTS (SELECT 1 FROM gone WHERE gone.id = docs.id)",
                part,
            )

    def stored(self, ids: Sequence[str]) -> set[str]:
        """The ids among ``ids`` that the index holds."""
        try:
            return {str(row[0]) for row in self._rows(ids, "id")}
        except sqlite3.Error as exc:
            raise PersistenceError(self._problem(f"cannot be read ({exc})")) from None

    def counts(self, ids: Sequence[str]) -> dict[str, DocumentCounts]:
        """The counts of the ids the index holds (the others are absent)."""
        try:
            rows = list(self._rows(ids, "id, length, tokens"))
            return dict(zip((str(r[0]) for r in rows), read_counts(rows), strict=True))
        except (sqlite3.Error, ValueError) as exc:
            raise PersistenceError(self._problem(f"holds a damaged row ({exc})")) from None

    # -- writing ----------------------------------------------------------------------------

    def apply(
        self,
        removed: Iterable[str],
        added: Iterable[tuple[str, DocumentCounts]],
        stored: Mapping[str, DocumentCounts] | None = None,
    ) -> None:
        """In one transaction: drop ``removed`` and (re)place ``added``; update the totals.

        Args:
            removed: Ids to drop (absent ones are ignored).
            added: Rows to write, replacing any with the same id.
            stored: The rows the index holds now among those ids, when the caller just read
                them (saves reading them again for the totals).
        """
        rows = dict(added)  # one row per id: the last wins
        added = list(rows.items())
        removed = [doc_id for doc_id in dict.fromkeys(removed) if doc_id not in rows]
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                n_docs, total = self.totals()
                leaving = removed + [doc_id for doc_id, _ in added]
                if stored is None:
                    held = {str(r[0]): int(r[1]) for r in self._rows(leaving, "id, length")}  # type: ignore[call-overload]
                else:
                    held = {i: stored[i].length for i in set(leaving).intersection(stored)}
                n_docs -= len(held)
                total -= sum(held.values())
                if db.execute("SELECT 1 FROM gone LIMIT 1").fetchone() is not None:
                    for part, marks in self._pages([doc_id for doc_id, _ in added]):
                        db.execute(f"DELETE FROM gone WHERE id IN ({marks})", part)
                db.executemany(  # a replaced row is rewritten in place
                    "INSERT OR REPLACE INTO docs VALUES (?, ?, ?)",
                    ((doc_id, c.length, c.token_bytes()) for doc_id, c in added),
                )
                named = [(doc_id,) for doc_id in removed if doc_id in held]
                db.executemany("INSERT OR IGNORE INTO gone VALUES (?)", named)
                # gone only grows here, so only a write that named rows can reach the limit
                if named and db.execute("SELECT count(*) FROM gone").fetchone()[0] >= _GONE_LIMIT:
                    # one pass in id order over the pages the rows are on
                    db.execute("DELETE FROM docs WHERE id IN (SELECT id FROM gone)")
                    db.execute("DELETE FROM gone")
                n_docs += len(added)
                total += sum(c.length for _, c in added)
                self._set_totals(db, {"n_docs": n_docs, "total_tokens": total})
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise PersistenceError(self._problem(f"cannot be written ({exc})")) from None

    def clear(self) -> None:
        """Remove every row."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM docs")
            db.execute("DELETE FROM gone")
            self._set_totals(db, {"n_docs": 0, "total_tokens": 0})
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise PersistenceError(self._problem(f"cannot be written ({exc})")) from None

    def remove(self) -> None:
        """Delete the file (and SQLite's companions)."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
