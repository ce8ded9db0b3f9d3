"""Terminal table, Markdown, JSON and the PNG chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_embedkit.evaluation.report import format_table, to_markdown
from langchain_embedkit.evaluation.results import ComparisonResult, EvaluationResult


def _result() -> ComparisonResult:
    def system(name: str, mode: str, ndcg: float, recall: float) -> EvaluationResult:
        metrics = {
            "nDCG@10": ndcg,
            "Recall@10": recall,
            "MRR@10": ndcg - 0.05,
            "MAP@10": ndcg - 0.06,
            "HitRate@10": recall + 0.01,
            "P@10": 0.08,
        }
        return EvaluationResult(name, mode, 10, metrics, 300, {"q1": metrics}, latency_ms=1.5)

    return ComparisonResult(
        dataset="scifact",
        num_queries=300,
        num_documents=5183,
        k=10,
        results=[
            system("default", "dense", 0.6451, 0.7833),
            system("bm25", "sparse", 0.6898, 0.8100),
            system("bge:/models/very/long/path/bge-small-en-v1.5", "hybrid", 0.7143, 0.8700),
        ],
        settings={"fetch_k": 100, "rrf_k": 60, "reranker": None},
    )


def test_table_lists_every_system_and_marks_the_best() -> None:
    text = format_table(_result())
    lines = text.splitlines()
    assert lines[0] == "scifact: 300 queries, 5,183 documents, k=10"
    header = lines[2].split()
    assert header[:4] == ["model", "mode", "nDCG@10", "Recall@10"]
    assert "ms/query" in header
    hybrid = next(line for line in lines if "hybrid" in line)
    assert "0.7143 *" in hybrid and "0.8700 *" in hybrid
    dense = next(line for line in lines if line.startswith("default"))
    assert "0.6451" in dense and "*" not in dense


def test_markdown_has_a_table_with_the_best_in_bold() -> None:
    md = to_markdown(_result())
    assert md.startswith("# Retrieval evaluation: scifact")
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| Model | Mode | nDCG@10")
    assert len(rows) == 4
    assert "**0.7143**" in rows[3]
    assert "fetch_k=100" in md and "reranker" not in md.split("Settings:")[1].split("\n")[0]


def test_save_writes_json_markdown_and_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the chart needs the eval extra")
    paths = _result().save(tmp_path / "out")
    assert set(paths) == {"json", "markdown", "chart"}
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["dataset"] == "scifact" and len(data["results"]) == 3
    assert data["results"][2]["metrics"]["nDCG@10"] == 0.7143
    assert data["results"][0]["per_query"]["q1"]["Recall@10"] == 0.7833
    png = paths["chart"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert "![Retrieval quality](results.png)" in paths["markdown"].read_text(encoding="utf-8")


def test_save_without_chart(tmp_path: Path) -> None:
    paths = _result().save(tmp_path, chart=False)
    assert set(paths) == {"json", "markdown"}
    assert not (tmp_path / "results.png").exists()
