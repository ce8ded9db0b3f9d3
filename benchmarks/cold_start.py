"""Cold start of the command line: ``embedkit search`` on the torch-free path vs the torch path.

One run, interleaved (the order of the cases rotates every repetition), each figure the
median over fresh processes:

* ``embedkit search QUERY --k 3`` wall time and peak RSS on the same store of SciFact
  passages (one chunk each, 100 by default), with the default model's torch-free ONNX
  query path (``backend="auto"``, what the command runs) and with ``backend="torch"``
  (what it ran before); goals <= 1.5 s, <= 250 MB and <= 0.15x the torch path;
* ``python -c "import langchain_embedkit"`` and ``from langchain_embedkit import
  DefaultEmbeddings``: the import time inside the process (goal <= 0.3 s for the package)
  and the process wall time;
* importing the command's store stack alone (``langchain_embedkit.vectorstores.search``,
  the reader ``embedkit search`` opens, with ``pymilvus`` and ``milvus_lite``): the floor
  under any search of a Milvus Lite store, whatever the model.

The store is ingested once before the timed runs (torch is used there, as in real use), and
the ONNX graph is built by a first untimed search, so only warm-cache starts are compared.

Usage::

    python benchmarks/cold_start.py            # 100 chunks, 5 runs per case
    python benchmarks/cold_start.py --smoke    # 20 chunks, 2 runs per case
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.data import scifact_dir  # noqa: E402

QUERY = "What is the effect of vitamin D on bone density?"
# A search through the command's own entry point; TORCH=1 swaps in the torch path, so both
# cases pay for the same wrapper.
SEARCH = (
    "import os, sys\n"
    "if os.environ.get('EMBEDKIT_BENCH_TORCH') == '1':\n"
    "    import langchain_embedkit.embeddings.factory as factory\n"
    "    from langchain_embedkit.embeddings import DefaultEmbeddings\n"
    "    factory.make_embeddings = lambda family, target='': DefaultEmbeddings(backend='torch')\n"
    "from langchain_embedkit.cli import main\n"
    "raise SystemExit(main(sys.argv[1:]))\n"
)
IMPORTS = {
    "import langchain_embedkit": "import langchain_embedkit",
    "from langchain_embedkit import DefaultEmbeddings": (
        "from langchain_embedkit import DefaultEmbeddings"
    ),
    # What every search pays before any model: the reader the command opens (no
    # langchain-core VectorStore) and pymilvus (pandas, milvus-lite, faiss).
    "store imports (vectorstores.search + pymilvus + milvus_lite)": (
        "import langchain_embedkit.vectorstores.search, pymilvus, milvus_lite"
    ),
}


def environment(cache: Path, torch_path: bool = False) -> dict[str, str]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "EMBEDKIT_CACHE_DIR": str(cache),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    env["EMBEDKIT_BENCH_TORCH"] = "1" if torch_path else "0"
    return env


def run_child(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB and stdout of one fresh process (Linux/macOS)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        msg = f"{' '.join(cmd[:4])} failed ({proc.returncode}): {stderr[-2000:]}"
        raise SystemExit(msg)
    scale = 1024 if sys.platform != "darwin" else 1024 * 1024  # ru_maxrss: KiB on Linux
    return wall, usage.ru_maxrss * 1024 / scale / 1024, stdout


def build_store(folder: Path, data: Path, chunks: int, cache: Path) -> None:
    from langchain_embedkit.evaluation import load_beir

    try:
        dataset = load_beir(data)
    except FileNotFoundError as exc:
        msg = f"{exc} Pass --data to a BEIR-format folder."
        raise SystemExit(msg) from exc
    passages = list(dataset.corpus.items())[:chunks]
    docs = folder / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    with (docs / "scifact.jsonl").open("w", encoding="utf-8") as handle:
        for doc_id, text in passages:
            # 60 words stay one chunk at the command's default chunk size.
            short = " ".join(text.split()[:60])
            handle.write(json.dumps({"id": doc_id, "text": short}, ensure_ascii=False) + "\n")
    cmd = [sys.executable, "-m", "langchain_embedkit.cli", "ingest", "docs", "--no-progress"]
    _, _, out = run_child(cmd, folder, environment(cache))
    print(out.strip().splitlines()[-2] if out.strip() else "ingested", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=scifact_dir())
    parser.add_argument("--chunks", type=int, default=100, help="chunks in the store")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per case")
    parser.add_argument("--smoke", action="store_true", help="20 chunks, 2 runs per case")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "cold_start.json")
    args = parser.parse_args()
    if args.smoke:
        args.chunks, args.runs = 20, 2
    return args


def child_cases(search: list[str], cache: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """The command and environment of every case: both search paths and each import."""
    cases: dict[str, tuple[list[str], dict[str, str]]] = {
        "search onnx": (search, environment(cache)),
        "search torch": (search, environment(cache, torch_path=True)),
    }
    for label, code in IMPORTS.items():
        timed = f"import time\nt = time.perf_counter()\n{code}\nprint(time.perf_counter() - t)"
        cases[label] = ([sys.executable, "-c", timed], environment(cache))
    return cases


def measure(
    cases: dict[str, tuple[list[str], dict[str, str]]], folder: Path, runs: int
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, list[float]]]:
    """Wall seconds, peak RSS and in-process import seconds of every run, order rotating."""
    walls: dict[str, list[float]] = {name: [] for name in cases}
    rss: dict[str, list[float]] = {name: [] for name in cases}
    inner: dict[str, list[float]] = {name: [] for name in IMPORTS}
    names = list(cases)
    for repeat in range(runs):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in order:
            cmd, env = cases[name]
            wall, peak, out = run_child(cmd, folder, env)
            walls[name].append(wall)
            rss[name].append(peak)
            if name in inner:
                inner[name].append(float(out.strip().splitlines()[-1]))
        print(
            f"run {repeat + 1}/{runs}: " + ", ".join(f"{n} {walls[n][-1]:.2f} s" for n in names),
            flush=True,
        )
    return walls, rss, inner


def build_rows(
    chunks: int,
    wall: dict[str, float],
    peak: dict[str, float],
    imports: dict[str, float],
) -> list[dict[str, Any]]:
    """Search wall and RSS (ONNX vs torch path), then one row per import case."""
    torch_peer = "embedkit search, backend='torch' (same store, same run)"
    rows: list[dict[str, Any]] = [
        {
            "metric": f"embedkit search wall, {chunks}-chunk store",
            "ours": round(wall["search onnx"], 3),
            "peer": round(wall["search torch"], 3),
            "peer_name": torch_peer,
            "ratio": round(wall["search onnx"] / wall["search torch"], 3),
            "goal": "<= 1.5 s and <= 0.15",
            "unit": "s",
        },
        {
            "metric": "embedkit search peak RSS",
            "ours": round(peak["search onnx"], 1),
            "peer": round(peak["search torch"], 1),
            "peer_name": torch_peer,
            "ratio": round(peak["search onnx"] / peak["search torch"], 3),
            "goal": "<= 250 MB and <= 0.15",
            "unit": "MB",
        },
    ]
    for label in IMPORTS:
        rows.append(
            {
                "metric": f"{label}: import time in the process (process wall)",
                "ours": round(imports[label], 3),
                "peer": round(wall[label], 3),
                "peer_name": "wall time of the whole python -c process",
                "ratio": round(imports[label] / wall[label], 3),
                "goal": "<= 0.3 s" if label == "import langchain_embedkit" else "",
                "peak_rss_mb": round(peak[label], 1),
                "unit": "s",
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print()
    print("| metric | ours | peer | peer name | ratio ours/peer | goal |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['metric']} | {row['ours']} {row['unit']} | {row['peer']} {row['unit']} | "
            f"{row['peer_name']} | {row['ratio']} | {row['goal']} |"
        )


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="embedkit-cold-") as tmp:
        folder = Path(tmp)
        cache = folder / "cache"
        build_store(folder, args.data, args.chunks, cache)
        search = [sys.executable, "-c", SEARCH, "search", QUERY, "--k", "3"]
        run_child(search, folder, environment(cache))  # builds the ONNX graph once
        walls, rss, inner = measure(child_cases(search, cache), folder, args.runs)

    rows = build_rows(
        args.chunks,
        {n: statistics.median(v) for n, v in walls.items()},
        {n: statistics.median(v) for n, v in rss.items()},
        {n: statistics.median(v) for n, v in inner.items()},
    )
    print_table(rows)
    if args.smoke:
        print(f"(smoke run: {args.chunks} chunks, {args.runs} runs; not for publishing)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
