"""The ``eval`` command: registration, arguments, errors and a sparse-only run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from langchain_embedkit.embeddings.factory import parse_embeddings
from langchain_embedkit.evaluation import command
from langchain_embedkit.evaluation.command import UsageError, add_parser, main


def test_add_parser_registers_eval_with_a_handler() -> None:
    parser = argparse.ArgumentParser(prog="embedkit")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", "data", "--embeddings", "default,bge:./m", "--k", "5"])
    assert args.command == "eval"
    assert args.handler is command.run
    assert args.embeddings == "default,bge:./m" and args.k == 5
    assert args.modes == "dense,sparse,hybrid"


def test_parse_embeddings() -> None:
    assert parse_embeddings(" default , qwen3:/m/q , openai:text-embedding-v3") == [
        ("default", "default", ""),
        ("qwen3:/m/q", "qwen3", "/m/q"),
        ("openai:text-embedding-v3", "openai", "text-embedding-v3"),
    ]
    with pytest.raises(UsageError, match="Unknown --embeddings entry 'e5:x'"):
        parse_embeddings("e5:x")
    with pytest.raises(UsageError, match="needs a model: bge:PATH"):
        parse_embeddings("bge")
    with pytest.raises(UsageError, match="lists a model twice"):
        parse_embeddings("default,default")


def test_sparse_only_run_prints_a_table_and_writes_the_report(
    tiny_beir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    code = main(
        [
            str(tiny_beir),
            "--modes",
            "sparse",
            "--k",
            "3",
            "--output",
            str(out),
            "--no-progress",
            "--analyzer",
            "en",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "tiny: 3 queries, 5 documents, k=3" in captured.out
    assert "bm25" in captured.out and "nDCG@3" in captured.out
    assert "wrote json" in captured.err
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [r["mode"] for r in data["results"]] == ["sparse"]
    assert (out / "results.md").exists()
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"


def test_limit_samples_queries(tiny_beir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tiny_beir), "--modes", "sparse", "--limit", "2", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "2 queries (sample of 3, seed 0)" in captured.err
    assert "tiny: 2 queries" in captured.out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--modes", "semantic"], 2, "Unknown mode 'semantic' in --modes"),
        (["--modes", "hybrid+rerank"], 2, "needs --rerank MODEL"),
        (["--k", "0"], 2, "--k must be >= 1"),
        (["--limit", "0"], 2, "--limit must be >= 1"),
        (["--embeddings", "e5:x"], 2, "Unknown --embeddings entry"),
        (["--embeddings", "bge:./no/such/model"], 1, "Model folder not found: ./no/such/model"),
    ],
)
def test_bad_arguments_give_one_line_errors(
    tiny_beir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    assert main([str(tiny_beir), "--no-progress", *argv]) == code
    err = capsys.readouterr().err
    assert err.startswith("embedkit eval: error: ")
    assert message in err
    assert "Traceback" not in err


def test_missing_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nowhere"), "--modes", "sparse"]) == 1
    assert "Data set not found" in capsys.readouterr().err
