"""Tiny models built once per session, shared by the embeddings unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit_tests.embeddings.tiny_models import tiny_models


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders of the tiny bge (en, zh, m3) and Qwen3 models (same root for every suite)."""
    return tiny_models(tmp_path_factory.getbasetemp() / "tiny-models")
