"""`import langchain_embedkit` must stay light, and every public name must still resolve."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import langchain_embedkit
from langchain_embedkit._imports import require

HEAVY = [
    "torch",
    "transformers",
    "sentence_transformers",
    "chromadb",
    "pymilvus",
    "openai",
    "jieba",
    "scipy",
    "httpx",
    "Stemmer",
    "onnxruntime",
    "tokenizers",
    "langchain_core.tracers",
    "langchain_core.runnables",
    "langchain_core.callbacks.manager",
]


def loaded_after(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; report heavy modules and embedkit modules loaded."""
    probe = (
        f"{code}\n"
        "import sys, json\n"
        f"print(json.dumps({{'heavy': [m for m in {HEAVY!r} if m in sys.modules], "
        "'ours': sorted(m for m in sys.modules if m.startswith('langchain_embedkit.'))}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def test_import_leaves_heavy_packages_unloaded() -> None:
    result = loaded_after("import langchain_embedkit")
    assert result["heavy"] == []
    # Nothing but the package itself: each name's module loads when the name is used.
    assert result["ours"] == []


@pytest.mark.parametrize(
    ("code", "allowed"),
    [
        (
            "from langchain_embedkit import DefaultEmbeddings",
            {"langchain_core.runnables", "langchain_core.callbacks.manager"},
        ),
        ("import langchain_embedkit.chains", set()),
        ("from langchain_embedkit import rrf, SparseVector, EmbedKitError", set()),
        ("import langchain_embedkit.embeddings", set()),
        ("from langchain_embedkit.vectorstores import ChromaOptions, MilvusOptions", set()),
        ("import langchain_embedkit.vectorstores.search", set()),
    ],
)
def test_names_load_only_what_they_need(code: str, allowed: set[str]) -> None:
    heavy = set(loaded_after(code)["heavy"])  # type: ignore[arg-type]
    assert heavy <= allowed, heavy - allowed


def test_all_names_resolve_lazily() -> None:
    names = [n for n in langchain_embedkit.__all__ if n != "__version__"]
    code = (
        "import importlib, sys, langchain_embedkit as pkg\n"
        "before = set(sys.modules)\n"
        f"names = {names!r}\n"
        "lazy = [n for n in names if n not in vars(pkg)]\n"
        "same = all(getattr(pkg, n) is getattr(importlib.import_module(pkg._LAZY[n]), n) "
        "for n in names)\n"
        "cached = all(n in vars(pkg) for n in names)\n"
        "print('RESULT', lazy == names, same, cached, sorted(set(sys.modules) - before)[:1] != [])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    ).stdout
    assert out.strip().splitlines()[-1] == "RESULT True True True True"


def test_all_is_sorted_and_complete() -> None:
    names = langchain_embedkit.__all__
    assert names == sorted(names)
    assert set(names) - {"__version__"} == set(langchain_embedkit._LAZY)
    assert set(dir(langchain_embedkit)) >= set(names)
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchName'"):
        langchain_embedkit.NoSuchName  # noqa: B018


def test_missing_extra_names_the_pip_command() -> None:
    with pytest.raises(ImportError, match=r'pip install "langchain-embedkit\[milvus\]"'):
        require("surely_not_an_installed_module_xyz", "milvus")
