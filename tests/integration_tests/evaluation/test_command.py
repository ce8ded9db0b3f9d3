"""``embedkit eval`` end to end with the packaged model, and the module run on its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_embedkit_eval_prints_and_writes_a_report(
    sample_dir: Path, session_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from langchain_embedkit.cli import main

    out = tmp_path / "report"
    argv = [
        "eval",
        str(sample_dir),
        "--embeddings",
        "default",
        "--modes",
        "dense,sparse,hybrid",
        "--output",
        str(out),
        "--cache-dir",
        str(session_cache),
        "--no-progress",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "sample: 20 queries, 150 documents, k=10" in printed
    lines = [line.split() for line in printed.splitlines()]
    modes = {line[1] for line in lines if len(line) > 2 and line[0] in ("default", "bm25")}
    assert modes == {"dense", "sparse", "hybrid"}
    report = json.loads((out / "results.json").read_text(encoding="utf-8"))
    ndcg = {r["mode"]: r["metrics"]["nDCG@10"] for r in report["results"]}
    # A small, easy corpus: every mode finds most answers.
    assert min(ndcg.values()) > 0.6
    assert (out / "results.png").stat().st_size > 10_000
    assert "| default | hybrid |" in (out / "results.md").read_text(encoding="utf-8")

    # The second run finds the corpus and the queries in the cache.
    assert main([*argv, "--modes", "dense"]) == 0
    again = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert again["results"][0]["info"]["corpus_from_cache"] is True
    assert again["results"][0]["info"]["queries_from_cache"] is True
    assert again["results"][0]["metrics"]["nDCG@10"] == pytest.approx(ndcg["dense"])


def test_the_command_module_runs_on_its_own(sample_dir: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "langchain_embedkit.evaluation.command",
            str(sample_dir),
            "--modes",
            "sparse",
            "--limit",
            "5",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "sample: 5 queries, 150 documents, k=10" in proc.stdout
    assert "bm25" in proc.stdout


def test_hybrid_plus_rerank_with_a_cross_encoder(
    sample_dir: Path, session_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from langchain_embedkit.evaluation.command import main
    from tests.integration_tests.rerankers.conftest import build_cross_encoder

    model = build_cross_encoder(tmp_path / "tiny-cross-encoder", num_labels=1, seed=3)
    out = tmp_path / "report"
    code = main(
        [
            str(sample_dir),
            "--modes",
            "hybrid",
            "--rerank",
            str(model),
            "--rerank-depth",
            "30",
            "--limit",
            "8",
            "--cache-dir",
            str(session_cache),
            "--output",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    rows = json.loads((out / "results.json").read_text(encoding="utf-8"))["results"]
    assert [r["mode"] for r in rows] == ["hybrid", "hybrid+rerank"]
    rerank = rows[1]
    assert rerank["info"]["reranker"] == "CrossEncoderReranker"
    assert rerank["info"]["rerank_depth"] == 30
    # The random tiny model reorders what hybrid found, so the scores move.
    hybrid_q = rows[0]["per_query"]
    rerank_q = rerank["per_query"]
    assert set(hybrid_q) == set(rerank_q)
    assert rerank_q != hybrid_q
