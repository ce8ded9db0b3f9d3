"""The examples in the docstrings run and print what they say (offline, no network)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "langchain_embedkit.similarity",
    "langchain_embedkit.embeddings._inputs",
    "langchain_embedkit.embeddings._onnx",
    "langchain_embedkit.embeddings._sentence_transformers",
    "langchain_embedkit.embeddings.bge",
    "langchain_embedkit.embeddings.default",
    "langchain_embedkit.embeddings.qwen3",
    "langchain_embedkit.embeddings.openai_compatible",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DASHSCOPE_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
