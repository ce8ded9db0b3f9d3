"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[BinaryIO], object], *, durable: bool = False
) -> Path:
    """Write ``path`` through a per-write temporary file in its folder, then replace it.

    Concurrent writers each get their own temporary file, so the last replace wins and no
    writer sees another's half-written bytes. On any error the temporary file is removed and
    ``path`` is left as it was.

    Args:
        path: The file to write; its folder is created if needed.
        write: Called with the open binary stream of the temporary file.
        durable: ``fsync`` the file before the replace (survives a power loss, not only a
            killed process).

    Returns:
        The written path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, *, durable: bool = False) -> Path:
    """Write ``text`` as UTF-8 with :func:`atomic_write`.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write_text(folder / "a.json", '{"n": 1}').read_text()
    '{"n": 1}'
    >>> sorted(p.name for p in folder.iterdir())
    ['a.json']
    """
    data = text.encode("utf-8")
    return atomic_write(path, lambda stream: stream.write(data), durable=durable)
