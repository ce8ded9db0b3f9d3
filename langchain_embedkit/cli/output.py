"""Printing: progress bars, timing lines and tables aligned by display width."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.documents import Document

    from langchain_embedkit.cli.session import Session

__all__ = ["format_table"]


def _progress(items: Any, session: Session, **kwargs: Any) -> Any:
    from tqdm.auto import tqdm

    # disable=None hides the bar when stderr is not a terminal.
    return tqdm(
        items, disable=None if session.progress else True, file=sys.stderr, leave=False, **kwargs
    )


def _timing_line(timings: dict[str, float]) -> str:
    return "Time: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    if _width(flat) <= width:
        return flat
    out, used = [], 0
    for ch in flat:
        used += _width(ch)
        if used > width - 1:
            break
        out.append(ch)
    return "".join(out) + "…"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Align columns by display width (a Chinese character takes two columns).

    Example:
        >>> print(format_table(["id", "text"], [["a", "向量"], ["bb", "x"]]))
        id  text
        --  ----
        a   向量
        bb  x
    """
    widths = [max([_width(h)] + [_width(row[i]) for row in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True)]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _results_table(results: Sequence[tuple[Document, float]]) -> str:
    import shutil

    rows = [
        [
            str(rank),
            f"{score:.3f}",
            _clip(str(doc.id), 24),
            _clip(str(doc.metadata.get("source", "")), 28),
        ]
        for rank, (doc, score) in enumerate(results, 1)
    ]
    used = sum(
        max([_width(h)] + [_width(r[i]) for r in rows]) + 2
        for i, h in enumerate(("rank", "score", "id", "source"))
    )
    room = max(30, shutil.get_terminal_size((120, 24)).columns - used)
    for row, (doc, _) in zip(rows, results, strict=True):
        row.append(_clip(doc.page_content, room))
    return format_table(["rank", "score", "id", "source", "text"], rows)
