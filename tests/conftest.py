"""Settings shared by every test: offline model hub, no telemetry, the shipped data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.data import scifact_dir as scifact_folder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def scifact_dir() -> Path:
    """The BEIR-format SciFact data set shipped in ``benchmarks/data/scifact`` (gzipped)."""
    return scifact_folder()
