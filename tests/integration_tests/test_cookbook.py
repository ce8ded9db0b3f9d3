"""Every cookbook notebook runs from top to bottom, offline, within its time budget.

Each notebook is executed with nbclient on a kernel of the interpreter running the tests
(registered in a temporary folder, so no Jupyter installation is needed), in an empty
temporary working directory, with no API keys or servers configured: the notebooks must take
their offline paths. Any cell error fails the test.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
COOKBOOK = REPO_ROOT / "cookbook"
NOTEBOOKS = sorted(COOKBOOK.glob("[0-9][0-9]_*.ipynb"))
BUDGET_S = float(os.environ.get("EMBEDKIT_NOTEBOOK_BUDGET_S", "180"))
"""Seconds one notebook may take, kernel start included."""

# Settings that would send a notebook to a real endpoint, model or server instead of its
# offline path. They are removed from the kernel's environment.
_ONLINE_SETTINGS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "DASHSCOPE_API_KEY",
    "DASHSCOPE_BASE_URL",
    "EMBEDKIT_CHAT_MODEL",
    "JINA_API_KEY",
    "COHERE_API_KEY",
    "CO_API_KEY",
    "VLLM_API_KEY",
    "CHROMA_HOST",
    "CHROMA_PORT",
    "CHROMA_TOKEN",
    "MILVUS_URI",
    "MILVUS_TOKEN",
    "EMBEDKIT_BGE_MODEL",
    "EMBEDKIT_BGE_ZH_MODEL",
    "EMBEDKIT_QWEN3_MODEL",
    "EMBEDKIT_RERANKER_MODEL",
)


def test_cookbook_has_the_eight_notebooks() -> None:
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07", "08"]
    index = (COOKBOOK / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in NOTEBOOKS if p.name not in index]
    assert not missing, f"cookbook/README.md does not link {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for number, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {number} of {path.name} has outputs"
            assert cell.execution_count is None, f"cell {number} of {path.name} was run"


@pytest.fixture(scope="module")
def kernel_dirs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``python3`` kernelspec for this interpreter, in a folder of its own."""
    from ipykernel.kernelspec import write_kernel_spec

    folder = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(folder / "python3", overrides={"display_name": "cookbook tests"})
    return folder


def _kernel_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _ONLINE_SETTINGS}
    paths = [str(COOKBOOK), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env.update(
        PYTHONPATH=os.pathsep.join(paths),
        PYTHONDONTWRITEBYTECODE="1",  # no __pycache__ beside the notebooks
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        ANONYMIZED_TELEMETRY="False",
        TMPDIR=str(tmp),
        IPYTHONDIR=str(tmp / "ipython"),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


@pytest.fixture
def clean_cookbook() -> Iterator[None]:
    before = sorted(p.relative_to(COOKBOOK) for p in COOKBOOK.rglob("*"))
    yield
    after = sorted(p.relative_to(COOKBOOK) for p in COOKBOOK.rglob("*"))
    assert after == before, f"a notebook wrote into cookbook/: {set(after) - set(before)}"


@pytest.mark.slow
@pytest.mark.timeout(BUDGET_S + 120)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_offline(
    path: Path, tmp_path: Path, kernel_dirs: Path, clean_cookbook: None
) -> None:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    nb = nbformat.read(path, as_version=4)
    workdir, tmp = tmp_path / "cwd", tmp_path / "tmp"
    workdir.mkdir()
    tmp.mkdir()
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dirs)])
    manager = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs)
    deadline = time.monotonic() + BUDGET_S

    def time_left(cell: Any) -> int:
        # The per-cell limit is whatever is left of the notebook's budget.
        return max(1, int(deadline - time.monotonic()))

    client = nbclient.NotebookClient(
        nb,
        km=manager,
        timeout_func=time_left,
        startup_timeout=120,
        resources={"metadata": {"path": str(workdir)}},
    )
    start = time.monotonic()
    client.execute(env=_kernel_env(tmp))
    elapsed = time.monotonic() - start

    assert manager.kernel_spec is not None
    assert manager.kernel_spec.argv[0] == sys.executable, "the kernel ran another interpreter"
    assert elapsed <= BUDGET_S, f"{path.name} took {elapsed:.0f} s (budget {BUDGET_S:.0f} s)"
    assert sorted(workdir.iterdir()) == [], "the notebook left files in its working directory"
    errors = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("output_type") == "error"
    ]
    assert errors == []
    ran = [c for c in nb.cells if c.cell_type == "code" and c.execution_count is not None]
    assert len(ran) == sum(1 for c in nb.cells if c.cell_type == "code")
