"""`import langchain_embedkit` must stay light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import langchain_embedkit
from langchain_embedkit._imports import require

HEAVY = [
    "torch", "transformers", "sentence_transformers", "chromadb", "pymilvus", "openai", "jieba",
]


def test_import_leaves_heavy_packages_unloaded() -> None:
    code = (
        "import sys, json, langchain_embedkit\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_all_is_sorted_and_importable() -> None:
    names = langchain_embedkit.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(langchain_embedkit, name) is not None


def test_missing_extra_names_the_pip_command() -> None:
    with pytest.raises(ImportError, match=r'pip install "langchain-embedkit\[milvus\]"'):
        require("surely_not_an_installed_module_xyz", "milvus")
