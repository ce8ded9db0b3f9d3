"""What an evaluation returns: one system's scores, and a whole comparison.

:func:`~langchain_embedkit.evaluation.runner.evaluate` returns an
:class:`EvaluationResult`; :func:`~langchain_embedkit.evaluation.runner.compare`
returns a :class:`ComparisonResult` that :mod:`.report` turns into a table, Markdown,
JSON and a chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_embedkit.evaluation.metrics import QueryRun, metric_key

__all__ = ["ComparisonResult", "EvaluationResult"]


@dataclass
class EvaluationResult:
    """Scores of one system (an embeddings model in one mode, or a retriever).

    ``metrics`` maps keys such as ``"nDCG@10"`` to means over the data set's queries;
    ``per_query`` holds each query's values and ``run`` the ranking that was scored.
    """

    name: str
    mode: str
    k: int
    metrics: dict[str, float]
    num_queries: int
    per_query: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)
    run: dict[str, QueryRun] = field(default_factory=dict, repr=False)
    latency_ms: float | None = None
    """Median milliseconds per query (retrievers), or mean search time per query
    (``compare``'s batched exact search, encoding excluded)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Extra facts: encoding seconds, cache hits, fetch depths, documents returned."""

    @property
    def label(self) -> str:
        """``"name (mode)"``, or just the name when it already says the mode."""
        return self.name if self.mode in ("", "retriever") else f"{self.name} ({self.mode})"

    def to_dict(self, *, per_query: bool = False) -> dict[str, Any]:
        """A JSON-ready dict (per-query values only on request)."""
        out: dict[str, Any] = {
            "name": self.name,
            "mode": self.mode,
            "k": self.k,
            "num_queries": self.num_queries,
            "metrics": {key: round(value, 6) for key, value in self.metrics.items()},
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 4),
            "info": self.info,
        }
        if per_query:
            out["per_query"] = self.per_query
        return out


@dataclass
class ComparisonResult:
    """Every system of one :func:`compare` run, with what a report needs.

    Example:
        With an embedding model and a data set::

            result = compare({"mini": emb}, dataset, modes=("dense",))
            print(result.table())
    """

    dataset: str
    num_queries: int
    num_documents: int
    k: int
    results: list[EvaluationResult]
    settings: dict[str, Any] = field(default_factory=dict)

    def best(self, metric: str | None = None) -> EvaluationResult:
        """The system with the highest ``metric`` (default ``nDCG@k``)."""
        key = metric or metric_key("ndcg", self.k)
        return max(self.results, key=lambda r: r.metrics.get(key, float("-inf")))

    def to_dict(self, *, per_query: bool = False) -> dict[str, Any]:
        """A JSON-ready dict of the whole comparison."""
        return {
            "dataset": self.dataset,
            "num_queries": self.num_queries,
            "num_documents": self.num_documents,
            "k": self.k,
            "settings": self.settings,
            "results": [r.to_dict(per_query=per_query) for r in self.results],
        }

    def table(self) -> str:
        """A plain-text table for the terminal."""
        from langchain_embedkit.evaluation.report import format_table

        return format_table(self)

    def to_markdown(self) -> str:
        """A Markdown report (title, settings, table)."""
        from langchain_embedkit.evaluation.report import to_markdown

        return to_markdown(self)

    def save(self, output_dir: str | Path, *, chart: bool = True) -> dict[str, Path]:
        """Write ``results.json``, ``results.md`` and (with matplotlib) ``results.png``."""
        from langchain_embedkit.evaluation.report import write_report

        return write_report(self, output_dir, chart=chart)
