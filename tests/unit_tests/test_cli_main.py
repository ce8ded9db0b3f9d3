"""``embedkit``'s entry point: exit codes and the names the package exports."""

from __future__ import annotations

import argparse

import pytest

import langchain_embedkit.cli as cli
from langchain_embedkit.cli import main
from langchain_embedkit.cli.errors import CLIError


def test_the_package_exports_only_the_entry_point() -> None:
    assert cli.__all__ == ["main"]
    private = sorted(name for name in vars(cli) if name.startswith("_") and name[1:2] != "_")
    # what main() itself uses, nothing re-exported from the modules the command is split into
    assert private == ["_describe", "_exit_code"], private


def test_a_bad_embeddings_spec_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "q", "--embeddings", "nope"]) == 2
    assert "Unknown --embeddings entry 'nope'" in capsys.readouterr().err


def test_errors_are_told_apart_by_type_not_by_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class UsageError(ValueError):
        """Same name as the evaluation command's error, another class."""

    def handler(raised: Exception) -> None:
        def run(args: argparse.Namespace) -> int:
            raise raised

        monkeypatch.setattr("langchain_embedkit.cli.parser._cmd_info", run)

    handler(UsageError("not the command's own usage error"))
    assert main(["info"]) == 1
    handler(CLIError("own code", 7))
    assert main(["info"]) == 7
    assert "embedkit info: error: own code" in capsys.readouterr().err


def test_pymilvus_still_recognises_scipy_matrices_once_scipy_is_imported() -> None:
    """The command spares pymilvus' scipy probe only while no scipy matrix can exist."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pymilvus.client.utils import SciPyHelper\n"
        "from langchain_embedkit.cli.session import _skip_scipy_probe\n"
        "_skip_scipy_probe()\n"
        "_skip_scipy_probe()\n"
        "print(SciPyHelper.is_scipy_sparse([[0.5, 1.0]]), 'scipy' in sys.modules)\n"
        "from scipy.sparse import csr_array, csr_matrix\n"
        "print(SciPyHelper.is_scipy_sparse(csr_array([[0.5, 1.0]])),"
        " SciPyHelper.is_scipy_sparse(csr_matrix([[0.5, 1.0]])),"
        " SciPyHelper.is_scipy_sparse([[0.5, 1.0]]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split("\n")[:2] == ["False False", "True True False"]
