"""Read files that come from outside: regular files only, inside their folder, bounded in
size, decoded only when the encoding is known with confidence.

A folder handed to ``embedkit ingest`` may hold anything: a link to ``/etc/passwd`` or to
``/dev/zero``, a FIFO named ``x.txt``, a 10 GB log, a Latin-1 or Shift-JIS file. Here a file
is checked with ``stat`` before it is opened, opened without blocking and without following a
last-moment link, checked again on the open descriptor, and read up to a size limit.

Example:
    >>> parse_size("50MB"), parse_size("1.5 GiB"), parse_size("200")
    (50000000, 1610612736, 200000000)
    >>> decode_text("Müller Straße".encode("latin-1"), "a.txt")
    'Müller Straße'
    >>> decode_text("中文编码的文件。".encode("gb18030"), "b.txt")
    '中文编码的文件。'
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path

from langchain_embedkit._imports import require
from langchain_embedkit.errors import LoaderError

__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "LoaderError",
    "decode_text",
    "format_size",
    "parse_size",
    "read_bytes",
]

DEFAULT_MAX_FILE_SIZE = 50_000_000
"""Bytes one file may hold (50 MB): far above any text or paper, far below a machine's memory."""

_READ_CHUNK = 1 << 20
_BINARY_PROBE = 8192
_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in after the check must not block open()
    | getattr(os, "O_NOFOLLOW", 0)  # nor a link swapped in for the checked path
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_LINK_HINT = "pass --follow-links to `embedkit ingest` (within=None to load_file) to read it anyway"
_SIZE_HINT = "raise the limit with `embedkit ingest --max-file-size 200MB` (max_file_size=...)"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# When several encodings read a short file equally well, the one people most often save
# text in wins: Chinese first, then Japanese, Korean, Western, Cyrillic, Central European.
_PREFERRED = tuple(
    codecs.lookup(name).name
    for name in (
        "gb18030",
        "big5",
        "cp932",
        "euc_jp",
        "cp949",
        "cp1252",
        "latin_1",
        "iso8859_15",
        "cp1251",
        "koi8_r",
        "cp1250",
        "iso8859_2",
        "cp1253",
        "cp1254",
        "cp1257",
    )
)
_UNITS = {"": 10**6, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9}
_UNITS.update({"k": 10**3, "m": 10**6, "g": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30})
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """Bytes in a size such as ``50MB``, ``512KB``, ``1.5GiB`` or ``200`` (megabytes).

    Raises:
        ValueError: not a positive size with a known unit.
    """
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS or float(match.group(1)) <= 0:
        msg = (
            f"Not a file size: {text!r}; give a positive number with an optional unit, e.g. "
            "50MB, 512KB, 2GB or 1GiB (a bare number is megabytes)."
        )
        raise ValueError(msg)
    return int(float(match.group(1)) * _UNITS[unit])


def format_size(size: int) -> str:
    """``size`` bytes in the largest decimal unit that keeps it at or above 1."""
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} bytes"


def read_bytes(
    path: str | os.PathLike[str],
    *,
    within: str | os.PathLike[str] | None = None,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
) -> bytes:
    """The bytes of a regular file, refusing anything else before it is opened.

    Args:
        path: The file.
        within: A folder the file must stay in once every link is resolved; ``None``
            follows links anywhere.
        max_file_size: Largest size in bytes to read (:data:`DEFAULT_MAX_FILE_SIZE`).

    Raises:
        LoaderError: missing or unreadable; a link out of ``within``; a FIFO, device,
            socket or folder; larger than ``max_file_size``; swapped while being opened.
    """
    path = Path(path)
    target = Path(os.path.realpath(path))
    try:
        info = os.stat(target)
    except FileNotFoundError:
        msg = f"File not found: '{path}'. Check the path."
        raise LoaderError(msg) from None
    except OSError as exc:
        msg = f"Cannot read '{path}': {exc.strerror or exc}. Check it and its permissions."
        raise LoaderError(msg) from None
    if within is not None:
        folder = Path(os.path.realpath(within))
        if not target.is_relative_to(folder):
            msg = (
                f"'{path}' is a link to '{target}', outside the folder '{within}'; it was "
                f"not read. If you trust it, {_LINK_HINT}."
            )
            raise LoaderError(msg)
    _check_regular(path, info)
    _check_size(path, info.st_size, max_file_size)
    try:
        fd = os.open(target, _FLAGS)
    except OSError as exc:
        msg = f"Cannot open '{path}': {exc.strerror or exc}. Check it and its permissions."
        raise LoaderError(msg) from None
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            msg = f"'{path}' was replaced while being opened; it was not read. Run again."
            raise LoaderError(msg)
        _check_regular(path, opened)
        data = bytearray()
        while len(data) <= max_file_size:
            chunk = os.read(fd, min(_READ_CHUNK, max_file_size + 1 - len(data)))
            if not chunk:
                break
            data += chunk
        _check_size(path, len(data), max_file_size)  # it grew after the stat
        return bytes(data)
    except OSError as exc:
        msg = f"Cannot read '{path}': {exc.strerror or exc}."
        raise LoaderError(msg) from None
    finally:
        os.close(fd)


def _check_regular(path: Path, info: os.stat_result) -> None:
    mode = info.st_mode
    if stat.S_ISREG(mode):
        return
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    kind = next((name for test, name in kinds if test(mode)), "not a regular file")
    msg = f"'{path}' is {kind}, not a regular file; it was not read. Pass regular files only."
    raise LoaderError(msg)


def _check_size(path: Path, size: int, limit: int) -> None:
    if size > limit:
        msg = (
            f"'{path}' is {format_size(size)}, over the {format_size(limit)} limit for one "
            f"file; it was not read. Split it, or {_SIZE_HINT}."
        )
        raise LoaderError(msg)


def decode_text(data: bytes, path: str | os.PathLike[str]) -> str:
    """Decode a text file's bytes, detecting the encoding; refuse what is not text.

    A byte-order mark decides (UTF-8, UTF-16, UTF-32); else valid UTF-8 is UTF-8; else
    ``charset-normalizer`` ranks the encodings that read the bytes as plausible text, and
    among equally plausible ones the most common wins (GB18030 before Big5, Shift-JIS,
    EUC-KR, Windows-1252 and the rest). Bytes that no encoding reads as text are refused.

    Raises:
        LoaderError: binary data, or an encoding that cannot be told with confidence.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _checked(data.decode(encoding), path)
            except UnicodeDecodeError:
                msg = (
                    f"'{path}' starts with a {encoding.upper()} byte-order mark but is not "
                    f"valid {encoding.upper()}; re-save it as UTF-8."
                )
                raise LoaderError(msg) from None
    if b"\x00" in data[:_BINARY_PROBE]:
        msg = f"'{path}' looks like a binary file (it contains NUL bytes), not text."
        raise LoaderError(msg)
    try:
        return _checked(data.decode("utf-8"), path)
    except UnicodeDecodeError:
        pass
    return _checked(_detect(data, path), path)


def _detect(data: bytes, path: str | os.PathLike[str]) -> str:
    charset_normalizer = require("charset_normalizer", "cli")
    # Without a byte-order mark UTF-16/32 is not claimed: short Latin-1 bytes pass for it.
    matches = [
        match
        for match in charset_normalizer.from_bytes(data)
        if not match.encoding.startswith(("utf_16", "utf_32"))
    ]
    if not matches:
        msg = (
            f"Cannot tell the encoding of '{path}' with confidence: it is not UTF-8 and no "
            "other encoding reads it as text. Convert it to UTF-8 first, e.g. "
            f"`iconv -f <encoding> -t UTF-8 '{path}' > out.txt`."
        )
        raise LoaderError(msg)
    least = min(match.chaos for match in matches)
    tied = [match for match in matches if match.chaos <= least + 0.01]
    candidates = {
        codecs.lookup(name).name
        for match in tied
        for name in match.could_be_from_charset
        if not name.startswith(("utf_16", "utf_32"))
    }
    for encoding in _PREFERRED:
        if encoding in candidates:
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:  # a candidate by likeness, not by a full decode
                continue
    readings = {str(match) for match in tied}
    if len(readings) > 1:
        names = ", ".join(sorted(match.encoding for match in tied)[:5])
        msg = (
            f"Cannot tell the encoding of '{path}' with confidence: {names} read it "
            "differently. Convert it to UTF-8 first, e.g. "
            f"`iconv -f <encoding> -t UTF-8 '{path}' > out.txt`."
        )
        raise LoaderError(msg)
    return readings.pop()


def _checked(text: str, path: str | os.PathLike[str]) -> str:
    probe = text[:_BINARY_PROBE]
    controls = sum(1 for ch in probe if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > max(2, len(probe) // 100):
        msg = (
            f"'{path}' looks like a binary file ({controls} control characters in its first "
            f"{len(probe)}), not text; convert it to UTF-8 text first."
        )
        raise LoaderError(msg)
    return text
