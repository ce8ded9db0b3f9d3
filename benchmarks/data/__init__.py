"""Data that ships with the repository for its tests, benchmarks and cookbook.

``scifact/`` holds the SciFact test split in BEIR format, gzip-compressed (origin, licence
and checksums in ``scifact/SOURCE.md``); ``langchain_embedkit.evaluation.load_beir`` reads
it as it is. :func:`scifact_dir` is the one place that knows where it lives.

Example:
    >>> from benchmarks.data import scifact_dir
    >>> from langchain_embedkit.evaluation import load_beir
    >>> dataset = load_beir(scifact_dir())
    >>> len(dataset.corpus), len(dataset)
    (5183, 300)
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SCIFACT", "SCIFACT_ENV", "scifact_dir"]

SCIFACT = Path(__file__).resolve().parent / "scifact"
"""The shipped SciFact copy."""
SCIFACT_ENV = "EMBEDKIT_SCIFACT"
"""Environment variable naming another BEIR folder to use instead."""


def scifact_dir() -> Path:
    """The SciFact BEIR folder: ``$EMBEDKIT_SCIFACT`` when set, else the shipped copy.

    Raises:
        FileNotFoundError: ``$EMBEDKIT_SCIFACT`` names a folder without a BEIR corpus.
    """
    chosen = os.environ.get(SCIFACT_ENV)
    if not chosen:
        return SCIFACT
    folder = Path(chosen).expanduser().resolve()
    if not any((folder / name).is_file() for name in ("corpus.jsonl", "corpus.jsonl.gz")):
        msg = (
            f"{SCIFACT_ENV}={chosen!r} is not a BEIR folder (no corpus.jsonl or "
            f"corpus.jsonl.gz in {folder}); point it at one, or unset it to use the "
            f"copy shipped in {SCIFACT}."
        )
        raise FileNotFoundError(msg)
    return folder
