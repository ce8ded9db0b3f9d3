"""Every ```python block of README.md and README.zh-CN.md runs, offline, as written.

The convention, kept small and explicit:

1. Each fenced block that opens with ```python is one script. It runs in a fresh
   ``python`` process (this interpreter), in an empty temporary working directory,
   with ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` and the repository first
   on ``PYTHONPATH``. It passes when it exits with status 0 within ``BLOCK_TIMEOUT_S``.
   Blocks in other languages (```bash) are not run. Nothing is skipped.
2. Servers are real and local. A block that talks to a Chroma server says
   ``host="localhost", port=8000`` (what ``chroma run`` uses by default); the test runs
   ``chroma run`` on a free loopback port and rewrites those two arguments to it.
   OpenAI and DashScope blocks read their keys and endpoints from the environment, which
   points ``OPENAI_BASE_URL`` and ``DASHSCOPE_BASE_URL`` at the loopback
   OpenAI-compatible server of ``tests/support/embeddings_server.py``.
3. Models that cannot be downloaded here are named in a block by their hub id or the local
   folder a user would download them to; ``MODEL_SUBSTITUTES`` maps each such quoted
   name to a tiny random model of the same architecture and layout, built by the tests.
   Every entry must be used by some block, so the table cannot go stale.

The rewritten source of a failing block is printed with its output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration_tests.vectorstores.conftest import chroma_server
from tests.support.embeddings_server import EmbeddingsAPIHandler
from tests.support.http import serve
from tests.unit_tests.embeddings.tiny_bge_m3 import build_tiny_bge_m3
from tests.unit_tests.embeddings.tiny_models import tiny_models

__all__ = ["chroma_server"]  # the fixture, imported for the blocks that need a server

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
READMES = ("README.md", "README.zh-CN.md")
BLOCK_TIMEOUT_S = 900

_FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_CHROMA_SERVER = re.compile(r'host="localhost",\s*port=8000\b')

MODEL_SUBSTITUTES = {
    '"BAAI/bge-small-zh-v1.5"': "bge_zh",
    '"./models/bge-small-zh-v1.5"': "bge_zh",
    '"Qwen/Qwen3-Embedding-0.6B"': "qwen3",
    '"BAAI/bge-m3"': "bge_m3_full",
}
"""Quoted model name in a README block -> key of the tiny model that replaces it."""


def python_blocks() -> list[tuple[str, int, str]]:
    """``(readme, line, source)`` of every ```python block, in file order."""
    blocks = []
    for name in READMES:
        text = (REPO_ROOT / name).read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            blocks.append((name, line, match.group(1)))
    return blocks


BLOCKS = python_blocks()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("readme-models")
    found = dict(tiny_models(root / "st"))
    found["bge_m3_full"] = build_tiny_bge_m3(root / "tiny-bge-m3")
    return found


@pytest.fixture(scope="module")
def api_base_url() -> Iterator[str]:
    with serve(EmbeddingsAPIHandler) as server:
        server.state["key"] = "sk-readme-test"
        yield f"{server.base_url}/v1"


def rewrite(source: str, models: dict[str, Path], chroma: tuple[str, int]) -> str:
    """Apply the convention's substitutions to one block."""
    host, port = chroma
    source = _CHROMA_SERVER.sub(f'host="{host}", port={port}', source)
    for quoted, key in MODEL_SUBSTITUTES.items():
        source = source.replace(quoted, repr(str(models[key])))
    return source


def test_every_readme_has_python_blocks_and_every_substitute_is_used() -> None:
    per_file = {name: sum(1 for b in BLOCKS if b[0] == name) for name in READMES}
    assert all(count > 0 for count in per_file.values()), per_file
    sources = "\n".join(source for _, _, source in BLOCKS)
    unused = [quoted for quoted in MODEL_SUBSTITUTES if quoted not in sources]
    assert not unused, f"MODEL_SUBSTITUTES entries no block uses: {unused}"
    assert _CHROMA_SERVER.search(sources), "no block uses the Chroma server convention"


@pytest.mark.timeout(BLOCK_TIMEOUT_S + 120)
@pytest.mark.parametrize(
    ("readme", "line", "source"), BLOCKS, ids=[f"{b[0]}:{b[1]}" for b in BLOCKS]
)
def test_readme_block_runs(
    readme: str,
    line: int,
    source: str,
    tmp_path: Path,
    models: dict[str, Path],
    chroma_server: tuple[str, int],
    api_base_url: str,
) -> None:
    script = rewrite(source, models, chroma_server)
    (tmp_path / "tmp").mkdir()
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DASHSCOPE_"))},
        "PYTHONPATH": os.pathsep.join(
            [str(REPO_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        ),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "ANONYMIZED_TELEMETRY": "False",
        "TMPDIR": str(tmp_path / "tmp"),
        "OPENAI_API_KEY": "sk-readme-test",
        "OPENAI_BASE_URL": api_base_url,
        "DASHSCOPE_API_KEY": "sk-readme-test",
        "DASHSCOPE_BASE_URL": api_base_url,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, (
        f"{readme} block at line {line} failed (exit {result.returncode}).\n"
        f"--- source as run ---\n{script}\n--- stdout ---\n{result.stdout[-3000:]}\n"
        f"--- stderr ---\n{result.stderr[-5000:]}"
    )
