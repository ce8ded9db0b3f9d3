"""Reports of a comparison: a terminal table, JSON, Markdown and a PNG chart.

matplotlib is imported only when a chart is drawn (``pip install
"langchain-embedkit[eval]"``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_embedkit._imports import require
from langchain_embedkit.evaluation.metrics import metric_key

if TYPE_CHECKING:
    from langchain_embedkit.evaluation.results import ComparisonResult, EvaluationResult

__all__ = ["format_table", "plot", "to_json", "to_markdown", "write_report"]

TABLE_METRICS = ("ndcg", "recall", "mrr", "map", "hit_rate")


def _columns(result: ComparisonResult) -> list[str]:
    return [metric_key(m, result.k) for m in TABLE_METRICS]


def _rows(result: ComparisonResult) -> list[list[str]]:
    keys = _columns(result)
    best = {
        key: max((r.metrics.get(key, 0.0) for r in result.results), default=0.0) for key in keys
    }
    rows = []
    for r in result.results:
        cells = [r.name, r.mode]
        for key in keys:
            value = r.metrics.get(key)
            if value is None:
                cells.append("-")
            else:
                several = len(result.results) > 1
                mark = " *" if several and value == best[key] else "  " if several else ""
                cells.append(f"{value:.4f}{mark}")
        cells.append("-" if r.latency_ms is None else f"{r.latency_ms:.2f}")
        rows.append(cells)
    return rows


def _header(result: ComparisonResult) -> str:
    return (
        f"{result.dataset}: {result.num_queries:,} queries, {result.num_documents:,} "
        f"documents, k={result.k}"
    )


def format_table(result: ComparisonResult) -> str:
    """Aligned plain-text table; ``*`` marks the best value of each column.

    Example:
        With a result of compare()::

            print(format_table(result))
            # scifact: 300 queries, 5,183 documents, k=10
            # model    mode    nDCG@10   Recall@10 ...
    """
    head = ["model", "mode", *_columns(result), "ms/query"]
    rows = _rows(result)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows, strict=True)]
    lines = [_header(result), ""]
    for i, cells in enumerate([head, *rows]):
        lines.append(
            "  ".join(
                c.ljust(w) if j < 2 else c.rjust(w)
                for j, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("* best in column; ms/query: search only (exact), encoding excluded.")
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(result: ComparisonResult) -> str:
    """A Markdown report: what was run, the table, and how the metrics are defined."""
    head = ["Model", "Mode", *_columns(result), "ms/query"]
    lines = [
        f"# Retrieval evaluation: {result.dataset}",
        "",
        f"{result.num_queries:,} queries, {result.num_documents:,} documents, k = {result.k}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---", "---"] + ["---:"] * (len(head) - 2)) + "|",
    ]
    for cells in _rows(result):
        cells = [_md_cell(c.rstrip()) for c in cells]
        cells = [f"**{c[:-2]}**" if c.endswith(" *") else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    settings = ", ".join(f"{k}={v}" for k, v in result.settings.items() if v is not None)
    lines += [
        "",
        "Bold: best in column. ms/query: exact search time per query, encoding excluded.",
        "",
        f"Settings: {settings}.",
        "",
        "Metrics follow trec_eval / BEIR: nDCG with graded gains and log2(rank+1) discount; "
        "MAP@k divides by all relevant documents of the query; HitRate@k is 1 when any "
        "relevant document is in the top k. Every judged query counts, including queries "
        "without a relevant document (they score 0). Ties in score are broken by "
        "document id, descending, as trec_eval does.",
        "",
    ]
    return "\n".join(lines)


def to_json(result: ComparisonResult, *, per_query: bool = True) -> str:
    """The comparison as JSON text (per-query values included by default)."""
    return json.dumps(result.to_dict(per_query=per_query), indent=2, ensure_ascii=False)


def _short(label: str, width: int = 38) -> str:
    # Long model paths: keep the scheme and the last path part.
    match = re.match(r"^([a-z0-9]+:)?(.*[/\\])?([^/\\]+)$", label)
    if match and match.group(2):
        label = f"{match.group(1) or ''}{match.group(3)}"
    return label if len(label) <= width else label[: width - 1] + "…"


def plot(
    result: ComparisonResult,
    path: str | Path,
    *,
    metrics: Sequence[str] = ("ndcg", "recall"),
    dpi: int = 150,
) -> Path:
    """Draw a horizontal bar chart of each system's scores and save it as PNG.

    One group of bars per system (sorted by the first metric, best on top), one bar per
    metric, each labelled with its value.
    """
    require("matplotlib", "eval")
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    keys = [metric_key(m, result.k) for m in metrics]
    systems: list[EvaluationResult] = sorted(
        result.results, key=lambda r: r.metrics.get(keys[0], 0.0)
    )
    labels = [f"{_short(r.name)}  ·  {r.mode}" for r in systems]
    n = len(systems)
    bar_h = 0.8 / max(1, len(keys))
    fig_h = max(3.0, 0.9 + n * (0.32 + 0.22 * len(keys)))
    fig, ax = plt.subplots(figsize=(9.5, fig_h))
    colors = ["#2b6cb0", "#90cdf4", "#2f855a", "#9ae6b4", "#c05621", "#fbd38d"]
    for j, key in enumerate(keys):
        values = [r.metrics.get(key, 0.0) for r in systems]
        # The first metric sits on top of each group.
        offsets = [i + (len(keys) - 1 - 2 * j) * bar_h / 2 for i in range(n)]
        bars = ax.barh(offsets, values, height=bar_h, color=colors[j % len(colors)], label=key)
        for bar, value in zip(bars, values, strict=True):
            ax.text(
                bar.get_width() + 0.008,
                bar.get_y() + bar.get_height() / 2,
                f"{value:.3f}",
                va="center",
                fontsize=8,
            )
    ax.set_yticks(range(n))
    ax.set_yticklabels(labels, fontsize=9)
    top = max((r.metrics.get(key, 0.0) for r in systems for key in keys), default=1.0)
    ax.set_xlim(0, min(1.0, top + 0.12) if top <= 1 else top * 1.12)
    ax.set_xlabel("score (higher is better)")
    ax.set_title(
        f"{result.dataset}: retrieval quality at k={result.k} "
        f"({result.num_queries:,} queries, {result.num_documents:,} docs)",
        fontsize=11,
    )
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    # The legend sits under the axis so that it never hides a bar.
    handles, names = ax.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(keys), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def write_report(
    result: ComparisonResult, output_dir: str | Path, *, chart: bool = True
) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` and ``results.png`` into ``output_dir``.

    Returns:
        ``{"json": path, "markdown": path, "chart": path}`` (no chart when ``chart`` is
        false).
    """
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    paths["json"] = folder / "results.json"
    paths["json"].write_text(to_json(result), encoding="utf-8")
    paths["markdown"] = folder / "results.md"
    markdown = to_markdown(result)
    if chart:
        paths["chart"] = plot(result, folder / "results.png")
        markdown += "\n![Retrieval quality](results.png)\n"
    paths["markdown"].write_text(markdown, encoding="utf-8")
    return paths


def summary(result: ComparisonResult) -> dict[str, Any]:
    """``{label: nDCG@k}``, handy for logs and tests."""
    key = metric_key("ndcg", result.k)
    return {r.label: r.metrics.get(key) for r in result.results}
