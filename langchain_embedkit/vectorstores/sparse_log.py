"""A local store's saved BM25 statistics: a base file plus an append-only change log.

``<state>`` is the encoder's ordinary saved file (:meth:`BM25SparseEmbeddings.save`).
``<state>.log`` holds the changes made since, one JSON line per write
(:mod:`~langchain_embedkit.sparse.bm25_delta` records), so a write costs time in
proportion to what it changed, not to the vocabulary. The log's first line names the
base it extends (the SHA-256 of the base file's bytes); every line carries its own
checksum. When the log grows past the base file's size it is folded into a new base
(written atomically) and started afresh; a crash between the two leaves a log that names
the old base, which is then ignored (its changes are in the new base).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, NoReturn

from langchain_embedkit._fs import atomic_write
from langchain_embedkit.errors import PersistenceError
from langchain_embedkit.sparse.base import FittableSparseEmbeddings
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.sparse.bm25_delta import apply_delta

__all__ = ["LOG_FORMAT", "StateFiles"]

LOG_FORMAT = "langchain-embedkit/bm25-log"
_LOG_VERSION = 1


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _line(body: dict[str, Any]) -> bytes:
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return (
        json.dumps({**body, "sum": _digest(text.encode("utf-8"))}, ensure_ascii=False).encode(
            "utf-8"
        )
        + b"\n"
    )


class StateFiles:
    """The base file and change log of one collection's sparse statistics.

    Args:
        path: The base file (``<state>``); the log is ``<state>.log`` beside it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.log_path = path.with_name(path.name + ".log")
        self.base_id = ""  # digest of the base the log extends ("" when there is none)
        self._count: int | None = None  # lines in the log, once known
        # the files as this object last left them: another writer's change shows here
        self._seen: tuple[tuple[int, int, int] | None, int] | None = None

    def _signature(self) -> tuple[tuple[int, int, int] | None, int]:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None, self.log_size()
        return (info.st_ino, info.st_size, info.st_mtime_ns), self.log_size()

    # -- reading ----------------------------------------------------------------------------

    def log_size(self) -> int:
        """The log's size in bytes (0 when absent)."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def current_base_id(self) -> str:
        """The digest of the base file on disk now ("" when absent)."""
        try:
            return _digest(self.path.read_bytes())
        except FileNotFoundError:
            return ""

    def load(self, fittable: FittableSparseEmbeddings, *, log_bytes: int | None = None) -> bool:
        """Load the base and the changes of its log into ``fittable``.

        Args:
            fittable: The encoder to fill.
            log_bytes: Read only this many bytes of the log (the size it had before a
                write that did not finish); None reads all of it.

        Returns:
            False when there is no base file (``fittable`` is left as it was).

        Raises:
            PersistenceError: The base or a line of the log is damaged or does not fit
                the base (the message names the file, the line and the field).
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            self.base_id = ""
            self._seen = None
            return False
        fittable.load(self.path)
        self.base_id = _digest(data)
        self._count = None
        self._seen = self._signature() if log_bytes is None else None
        if not isinstance(fittable, BM25SparseEmbeddings):
            return True
        try:
            raw = self.log_path.read_bytes()
        except FileNotFoundError:
            return True
        if log_bytes is not None:
            raw = raw[:log_bytes]
        lines = raw.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        if not lines:
            return True
        header = self._parse(lines[0], 1)
        if header.get("format") != LOG_FORMAT or header.get("version") != _LOG_VERSION:
            self._fail(1, "format", f"expected {LOG_FORMAT!r} version {_LOG_VERSION}")
        if header.get("base") != self.base_id:
            # the log of a base folded into the current one by an interrupted compaction
            self.log_path.unlink(missing_ok=True)
            return True
        for number, line in enumerate(lines[1:], start=2):
            record = self._parse(line, number)
            if record.pop("line", None) != number:
                self._fail(number, "line", "lines are missing or out of order")
            apply_delta(fittable, record, where=f"{self.log_path} line {number}")
        return True

    def _fail(self, number: int, field: str, problem: str) -> NoReturn:
        msg = (
            f"BM25 change log {self.log_path} line {number}, field {field!r}: {problem}. "
            "Delete the state files to refit the statistics from the stored texts on the "
            "next open (or restore them from a backup)."
        )
        raise PersistenceError(msg)

    def _parse(self, line: bytes, number: int) -> dict[str, Any]:
        try:
            payload = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self._fail(number, "<line>", "not a complete JSON line (truncated or edited)")
        if not isinstance(payload, dict) or "sum" not in payload:
            self._fail(number, "sum", "missing")
        claimed = payload.pop("sum")
        text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        if claimed != _digest(text.encode("utf-8")):
            self._fail(number, "sum", "the line fails its checksum (edited or corrupted)")
        return payload

    # -- writing ----------------------------------------------------------------------------

    def append(self, record: dict[str, Any]) -> bool:
        """Add one write's change to the log (one ``write`` call of one whole line).

        Returns:
            False, writing nothing, when the files changed since this object last read
            or wrote them (another store object wrote to the collection): the caller
            then saves the whole state.
        """
        if self._seen is None or self._signature() != self._seen:
            return False
        if self.log_size() == 0:
            header = {"format": LOG_FORMAT, "version": _LOG_VERSION, "base": self.base_id}
            atomic_write(self.log_path, lambda stream: stream.write(_line(header)))
            self._count = 1
        number = self._lines() + 1
        data = _line({**record, "line": number})
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        self._count = number
        self._seen = self._signature()
        return True

    def _lines(self) -> int:
        count = self._count
        if count is None:
            with self.log_path.open("rb") as stream:
                count = sum(1 for _ in stream)
        return count

    def needs_compaction(self) -> bool:
        """Whether the log has grown past the base file."""
        try:
            return self.log_size() > self.path.stat().st_size
        except FileNotFoundError:
            return True

    def save(self, fittable: FittableSparseEmbeddings) -> None:
        """Write the whole statistics as the new base and start an empty log.

        A BM25 encoder that counts no document but has given token ids is saved too:
        the next write's new tokens must get the ids they got in memory.
        """
        keep = isinstance(fittable, BM25SparseEmbeddings) and fittable.dim > 0
        if not fittable.is_fitted and not keep:
            self.path.unlink(missing_ok=True)
            self.log_path.unlink(missing_ok=True)
            self.base_id = ""
            self._count = 0
            self._seen = None
            return
        if isinstance(fittable, BM25SparseEmbeddings):
            data = json.dumps(fittable.to_dict(), ensure_ascii=False).encode("utf-8")
            atomic_write(self.path, lambda stream: stream.write(data))
        else:
            fittable.save(self.path)
            data = self.path.read_bytes()
        self.base_id = _digest(data)
        self.log_path.unlink(missing_ok=True)
        self._count = 0
        self._seen = self._signature()

    def remove(self) -> None:
        """Delete the base and the log."""
        self.path.unlink(missing_ok=True)
        self.log_path.unlink(missing_ok=True)
        self.base_id = ""
        self._count = 0
        self._seen = None
