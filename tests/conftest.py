"""Settings shared by every test: offline model hub, no telemetry, shared data paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SCIFACT_DIR = Path(
    os.environ.get("EMBEDKIT_SCIFACT", REPO_ROOT.parent / "shared" / "data" / "scifact")
)


@pytest.fixture(scope="session")
def scifact_dir() -> Path:
    """The BEIR-format SciFact data set that lives beside the repository."""
    if not (SCIFACT_DIR / "corpus.jsonl").exists():
        pytest.skip(
            f"SciFact data set not found at {SCIFACT_DIR}; set EMBEDKIT_SCIFACT to a BEIR folder"
        )
    return SCIFACT_DIR
