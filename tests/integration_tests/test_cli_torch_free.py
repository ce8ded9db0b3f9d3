"""`embedkit search` and `info` on the default store and model never import torch.

Ingestion may use torch; the commands a user runs again and again must not pay for it,
nor for the evaluation package, nor for LangChain's ``VectorStore`` (its retrievers pull
the tracers and langsmith): they open the collection with ``StoreReader``. Nor scipy,
which pymilvus would import on the first search only to ask whether the query is a matrix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROBE = (
    "import json, sys\n"
    "from langchain_embedkit.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "heavy = ('torch', 'transformers', 'sentence_transformers', 'langchain_embedkit.evaluation',"
    " 'langchain_core.vectorstores', 'langchain_core.retrievers', 'langchain_core.tracers',"
    " 'langsmith', 'scipy')\n"
    "loaded = [m for m in heavy if m in sys.modules]\n"
    "print('PROBE ' + json.dumps({'code': code, 'heavy': loaded}))\n"
)


def run(args: list[str], cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "EMBEDKIT_CACHE_DIR": str(cache),
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


def probe(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    line = next(x for x in result.stdout.splitlines() if x.startswith("PROBE "))
    data: dict[str, object] = json.loads(line.removeprefix("PROBE "))
    return data


@pytest.mark.timeout(3600)  # three fresh processes; ingestion loads torch
def test_search_and_info_on_the_default_store_leave_torch_out(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "filters.md").write_text(
        "# Filters\n\nFilter search results by metadata with a dict such as "
        "{'source': 'a.md'}.\n\n# Rerankers\n\nA cross-encoder reorders the hits.\n",
        encoding="utf-8",
    )
    cache = tmp_path / "cache"
    ingest = run(["ingest", "docs", "--no-progress"], tmp_path, cache)
    assert ingest.returncode == 0, ingest.stderr
    search = run(["search", "how do I filter by metadata?", "--k", "1"], tmp_path, cache)
    assert search.returncode == 0, search.stderr
    assert probe(search) == {"code": 0, "heavy": []}
    assert "filters.md" in search.stdout
    info = run(["info"], tmp_path, cache)
    assert probe(info) == {"code": 0, "heavy": []}
    assert "onnxruntime fp32 for queries (no torch)" in info.stdout
    assert "int8 recipe for this CPU: " in info.stdout
