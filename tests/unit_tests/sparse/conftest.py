"""A small slice of SciFact (doc text = title + " " + text), read once per session."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def scifact_sample(scifact_dir: Path) -> tuple[list[str], list[str]]:
    """The first 400 documents and first 40 queries of SciFact."""
    with (scifact_dir / "corpus.jsonl").open(encoding="utf-8") as stream:
        rows = [json.loads(line) for line in islice(stream, 400)]
    with (scifact_dir / "queries.jsonl").open(encoding="utf-8") as stream:
        queries = [json.loads(line)["text"] for line in islice(stream, 40)]
    docs = [f"{row['title']} {row['text']}" for row in rows]
    # titles of sampled documents guarantee queries with many matches
    return docs, queries + [row["title"] for row in rows[:20]]
