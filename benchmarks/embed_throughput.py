"""DefaultEmbeddings throughput: overhead over raw sentence-transformers; the ONNX paths.

One process, same SciFact passages (title + " " + text), same batch size, same thread count,
runs interleaved (the order rotates every repetition), medians reported:

* ``DefaultEmbeddings().embed_documents`` vs ``SentenceTransformer.encode`` on the same
  all-MiniLM-L6-v2 folder (torch fp32): our overhead, goal <= 5%;
* ``DefaultEmbeddings(backend="onnx")`` (dynamic int8 for this CPU's recipe, graph written
  once from the local weights, nothing downloaded; batches sorted by token count) vs torch
  fp32: throughput ratio, goal >= 3x, the cosine between its vectors and the fp32 ones (min
  and mean over every passage), goal >= 0.99, and nDCG@10 on the SciFact queries whose
  relevant passages are among the embedded ones, goal within 0.005 of fp32;
* ``backend="onnx", onnx_quantization=None`` (the fp32 graph the query path runs) vs torch
  fp32: throughput ratio (it would become the default for documents if faster) and cosine.

Usage::

    python benchmarks/embed_throughput.py            # 1,000 passages, 3 repetitions
    python benchmarks/embed_throughput.py --smoke    # 64 passages, 2 repetitions
    python benchmarks/embed_throughput.py --full-ndcg  # all 5,183 passages, 300 queries

``--full-ndcg`` measures retrieval quality only: nDCG@10 over the whole SciFact corpus and
every test query, int8 ONNX against torch fp32 (the torch side takes tens of minutes on 2
shared cores). Vectors are kept as ``.npy`` in ``--vectors-dir``, named for the encoder
(the int8 ones for the SHA-256 of the graph), so a rerun only encodes what changed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.data import scifact_dir  # noqa: E402
from langchain_embedkit.embeddings import DefaultEmbeddings  # noqa: E402
from langchain_embedkit.embeddings._inputs import check_texts  # noqa: E402
from langchain_embedkit.embeddings._runtime import open_session  # noqa: E402
from langchain_embedkit.embeddings.default import packaged_model_path  # noqa: E402


def load_passages(folder: Path, n: int) -> tuple[list[str], Any]:
    from langchain_embedkit.evaluation import load_beir

    try:
        dataset = load_beir(folder)
    except FileNotFoundError as exc:
        msg = f"{exc} Pass --data to a BEIR-format folder."
        raise SystemExit(msg) from exc
    return list(dataset.corpus.values())[:n], dataset


def ndcg10(doc_vectors: Any, query_vectors: Any, ids: list[str], qrels: list[Any]) -> float:
    """Mean nDCG@10 of exact inner-product search (vectors are unit length)."""
    from langchain_embedkit.evaluation.metrics import ndcg_at_k

    scores = np.asarray(query_vectors) @ np.asarray(doc_vectors).T
    values = []
    for row, rel in zip(scores, qrels, strict=True):
        top = np.argsort(-row)[:10]
        values.append(ndcg_at_k([ids[i] for i in top], rel, 10))
    return float(np.mean(values)) if values else float("nan")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=scifact_dir())
    parser.add_argument("--n", type=int, default=1000, help="passages to embed")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="torch/ORT threads (0: torch's)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timed runs")
    parser.add_argument("--onnx-cache-dir", default=None, help="where the ONNX export is kept")
    parser.add_argument("--smoke", action="store_true", help="64 passages, 2 runs")
    parser.add_argument(
        "--full-ndcg", action="store_true", help="nDCG@10 on all of SciFact, int8 vs fp32"
    )
    parser.add_argument(
        "--vectors-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "embedkit-scifact-vectors",
        help="where --full-ndcg keeps its vectors (.npy)",
    )
    parser.add_argument(
        "--reference",
        choices=("torch", "onnx32"),
        default="torch",
        help="--full-ndcg's fp32 side: torch, or the fp32 ONNX graph (cosine >= 0.99999 to it)",
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "out" / "embed_throughput.json"
    )
    args = parser.parse_args()
    if args.smoke:
        args.n, args.repeats = 64, 2
    return args


def load_encoders(args: argparse.Namespace, session: Any) -> tuple[Any, Any, Any, Any]:
    """The raw SentenceTransformer, ours on torch, ours on ONNX int8 and on the fp32 graph."""
    from sentence_transformers import SentenceTransformer

    bs = args.batch_size
    raw = SentenceTransformer(packaged_model_path(), device="cpu")
    ours = DefaultEmbeddings(backend="torch", device="cpu", batch_size=bs)
    export_s, fast = timed(
        lambda: DefaultEmbeddings(backend="onnx", batch_size=bs, onnx_cache_dir=args.onnx_cache_dir)
    )
    print(f"ONNX int8 model ready in {export_s:.1f} s ({fast.engine}; built once, then cached)")
    fp32_onnx = DefaultEmbeddings(
        backend="onnx", onnx_quantization=None, batch_size=bs, onnx_cache_dir=args.onnx_cache_dir
    )
    for encoder in (fast, fp32_onnx):
        runtime = encoder._runtime
        if runtime is None:
            msg = f"{encoder.engine}: the torch-free runtime did not load"
            raise SystemExit(msg)
        # Same thread count as torch.
        runtime.session = open_session(runtime.graph, session)
    return raw, ours, fast, fp32_onnx


def interleaved(
    runs: dict[str, Callable[[], Any]], repeats: int
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Seconds of every run per contender (the order rotates each repetition); last outputs."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    outputs: dict[str, Any] = {}
    names = list(runs)
    for repeat in range(repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in order:
            seconds, outputs[name] = timed(runs[name])
            times[name].append(seconds)
        print(
            f"run {repeat + 1}/{repeats}: " + ", ".join(f"{n} {times[n][-1]:.2f} s" for n in names),
            flush=True,
        )
    return times, outputs


def cosines(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Row-wise cosine between two matrices of vectors."""
    return np.sum(reference * other, axis=1) / (
        np.linalg.norm(reference, axis=1) * np.linalg.norm(other, axis=1)
    )


def retrieval_quality(
    dataset: Any, n: int, fp32: np.ndarray, int8: np.ndarray, ours: Any, fast: Any
) -> tuple[int, float, float]:
    """nDCG@10 of fp32 and int8 vectors on the queries with a relevant passage embedded."""
    ids = list(dataset.corpus)[:n]
    present = set(ids)
    judged = [q for q in dataset.queries if present & set(dataset.qrels[q])]
    texts = [dataset.queries[q] for q in judged]
    qrels = [dataset.qrels[q] for q in judged]
    ndcg_fp32 = ndcg10(fp32, ours.encode_queries(texts) if texts else [], ids, qrels)
    ndcg_int8 = ndcg10(int8, fast.encode_queries(texts) if texts else [], ids, qrels)
    return len(judged), ndcg_fp32, ndcg_int8


def row(
    metric: str, ours: float, peer: float, peer_name: str, ratio: float, goal: str, unit: str
) -> dict[str, Any]:
    return {
        "metric": metric,
        "ours": ours,
        "peer": peer,
        "peer_name": peer_name,
        "ratio": ratio,
        "goal": goal,
        "unit": unit,
    }


def speed_rows(n: int, med: dict[str, float], added: float, peer: str) -> list[dict[str, Any]]:
    """Our overhead over raw encode and the ONNX throughput ratios."""
    raw = med["raw"]
    return [
        row(
            f"embed {n} SciFact passages (torch fp32)",
            round(med["ours"], 3),
            round(raw, 3),
            peer,
            round(med["ours"] / raw, 4),
            "<= 1.05",
            "s",
        ),
        row(
            "work added to encode(): input checks + list conversion",
            round(raw + added, 4),
            round(raw, 4),
            peer,
            round((raw + added) / raw, 5),
            "<= 1.05",
            "s",
        ),
        row(
            "throughput, backend='onnx' int8 vs torch fp32",
            round(n / med["onnx"], 1),
            round(n / raw, 1),
            peer,
            round(raw / med["onnx"], 3),
            ">= 3",
            "passages/s",
        ),
        row(
            "throughput, backend='onnx' fp32 graph vs torch fp32",
            round(n / med["onnx32"], 1),
            round(n / raw, 1),
            peer,
            round(raw / med["onnx32"], 3),
            "> 1 to be the default for documents",
            "passages/s",
        ),
    ]


def accuracy_rows(
    n: int, cos: np.ndarray, cos32: np.ndarray, quality: tuple[int, float, float]
) -> list[dict[str, Any]]:
    """Cosines of the ONNX vectors against torch fp32 and the int8 nDCG@10 difference."""
    judged, ndcg_fp32, ndcg_int8 = quality
    same_passages = "torch fp32 vectors of the same passages"
    return [
        row(
            "min cosine, fp32 ONNX vs torch fp32 vectors",
            round(float(cos32.min()), 6),
            1.0,
            same_passages,
            round(float(cos32.min()), 6),
            ">= 0.99999",
            "cosine",
        ),
        row(
            f"nDCG@10, int8 vs fp32 ({judged} SciFact queries over {n} passages)",
            round(ndcg_int8, 4),
            round(ndcg_fp32, 4),
            "torch fp32, same queries and passages",
            round(ndcg_int8 - ndcg_fp32, 4),
            "difference within 0.005",
            "",
        ),
        row(
            "min cosine, int8 ONNX vs fp32 vectors",
            round(float(cos.min()), 4),
            1.0,
            same_passages,
            round(float(cos.min()), 4),
            ">= 0.99",
            "cosine",
        ),
        row(
            "mean cosine, int8 ONNX vs fp32 vectors",
            round(float(cos.mean()), 4),
            1.0,
            same_passages,
            round(float(cos.mean()), 4),
            ">= 0.99",
            "cosine",
        ),
    ]


def print_table(rows: list[dict[str, Any]]) -> None:
    print()
    print("| metric | ours | peer | peer name | ratio ours/peer | goal |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['metric']} | {r['ours']} {r['unit']} | {r['peer']} {r['unit']} | "
            f"{r['peer_name']} | {r['ratio']} | {r['goal']} |"
        )


def cached_vectors(folder: Path, name: str, encode: Callable[[], Any]) -> np.ndarray:
    """``folder/name.npy`` if it exists, else ``encode()`` saved there (no pickle)."""
    path = folder / f"{name}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    seconds, vectors = timed(lambda: np.asarray(encode(), dtype=np.float32))
    folder.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors, allow_pickle=False)
    print(f"{name}: {len(vectors)} vectors in {seconds:.1f} s", flush=True)
    return vectors


def full_ndcg(args: argparse.Namespace) -> int:
    """nDCG@10 over the whole corpus and every judged query: int8 ONNX vs torch fp32."""
    import hashlib

    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads or torch.get_num_threads())
    _, dataset = load_passages(args.data, 0)
    ids = list(dataset.corpus)
    docs = [dataset.corpus[i] for i in ids]
    qrels = [dataset.qrels[q] for q in dataset.qrels]
    queries = [dataset.queries[q] for q in dataset.qrels]
    bs, folder = args.batch_size, args.vectors_dir
    fast = DefaultEmbeddings(backend="onnx", batch_size=bs, onnx_cache_dir=args.onnx_cache_dir)
    runtime = fast._runtime
    if runtime is None:
        msg = f"{fast.engine}: the torch-free runtime did not load"
        raise SystemExit(msg)
    graph = Path(runtime.graph)
    tag = f"{graph.stem}-{hashlib.sha256(graph.read_bytes()).hexdigest()[:10]}"
    model: list[Any] = []  # loaded only if a torch side is not cached yet

    def torch_encode(texts: list[str]) -> Any:
        if not model:
            model.append(SentenceTransformer(packaged_model_path(), device="cpu"))
        return model[0].encode(texts, batch_size=bs, normalize_embeddings=True)

    if args.reference == "torch":
        fp32_docs = cached_vectors(folder, "torch_docs", lambda: torch_encode(docs))
        fp32_queries = cached_vectors(folder, "torch_queries", lambda: torch_encode(queries))
    else:
        exact = DefaultEmbeddings(
            backend="onnx", onnx_quantization=None, onnx_cache_dir=args.onnx_cache_dir
        )._runtime
        if exact is None:
            msg = "the fp32 ONNX runtime did not load"
            raise SystemExit(msg)
        path = Path(exact.graph)
        name = f"{path.stem}-{hashlib.sha256(path.read_bytes()).hexdigest()[:10]}"
        fp32_docs = cached_vectors(folder, f"{name}_docs", lambda: exact.encode(docs))
        fp32_queries = cached_vectors(folder, f"{name}_queries", lambda: exact.encode(queries))
    int8_docs = cached_vectors(folder, f"{tag}_docs", lambda: runtime.encode(docs, batch_size=bs))
    int8_queries = cached_vectors(folder, f"{tag}_queries", lambda: runtime.encode(queries))
    ndcg_fp32 = ndcg10(fp32_docs, fp32_queries, ids, qrels)
    ndcg_int8 = ndcg10(int8_docs, int8_queries, ids, qrels)
    ndcg_mixed = ndcg10(int8_docs, fp32_queries, ids, qrels)
    cos = cosines(fp32_docs.astype(np.float64), int8_docs.astype(np.float64))
    print(f"\nSciFact, {len(ids)} passages, {len(queries)} test queries, {fast.engine} ({tag})")
    for label, value in (
        (f"{args.reference} fp32", ndcg_fp32),
        ("int8 passages + int8 queries", ndcg_int8),
        ("int8 passages + fp32 queries", ndcg_mixed),
    ):
        print(f"nDCG@10 {label:30s} {value:.4f} ({value - ndcg_fp32:+.4f})")
    print(f"cosine int8 vs fp32 passages: min {cos.min():.4f}, mean {cos.mean():.5f}")
    return 0 if abs(ndcg_int8 - ndcg_fp32) <= 0.005 else 1


def main() -> int:
    args = parse_args()
    if args.full_ndcg:
        return full_ndcg(args)

    import onnxruntime as ort
    import torch

    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    session = ort.SessionOptions()
    session.intra_op_num_threads = threads
    session.inter_op_num_threads = 1

    passages, dataset = load_passages(args.data, args.n)
    bs = args.batch_size
    print(
        f"{len(passages)} SciFact passages, batch {bs}, {threads} threads, "
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"onnxruntime {ort.__version__}",
        flush=True,
    )

    raw, ours, fast, fp32_onnx = load_encoders(args, session)
    runs: dict[str, Callable[[], Any]] = {
        "raw": lambda: raw.encode(passages, batch_size=bs, normalize_embeddings=True),
        "ours": lambda: ours.embed_documents(passages),
        "onnx": lambda: fast.embed_documents(passages),
        "onnx32": lambda: fp32_onnx.embed_documents(passages),
    }
    for fn in (raw.encode, ours.embed_documents, fast.embed_documents, fp32_onnx.embed_documents):
        fn(passages[:16])  # warm-up: allocators, kernels, tokenizer caches
    times, outputs = interleaved(runs, args.repeats)

    med = {name: statistics.median(values) for name, values in times.items()}
    # The only work DefaultEmbeddings adds to encode(): input checks and ndarray -> lists.
    # Timed alone it is immune to the noise of a shared machine.
    array = np.asarray(outputs["raw"], dtype=np.float32)
    added = statistics.median(
        timed(lambda: (check_texts(passages), array.tolist()))[0] for _ in range(21)
    )
    fp32 = np.asarray(outputs["raw"], dtype=np.float64)
    int8 = np.asarray(outputs["onnx"], dtype=np.float64)
    cos = cosines(fp32, int8)
    cos32 = cosines(fp32, np.asarray(outputs["onnx32"], dtype=np.float64))
    # Retrieval quality over the embedded passages: queries with a relevant passage there.
    n = len(passages)
    quality = retrieval_quality(dataset, n, fp32, int8, ours, fast)
    same = np.allclose(np.asarray(outputs["ours"]), fp32, atol=1e-5)
    peer = f"SentenceTransformer.encode, torch fp32, batch {bs}, {threads} threads"
    rows = [*speed_rows(n, med, added, peer), *accuracy_rows(n, cos, cos32, quality)]

    print_table(rows)
    print(f"\nDefaultEmbeddings vectors equal raw encode (atol 1e-5): {same}")
    if args.smoke:
        print("(smoke run: 64 passages; figures are not comparable with the full run)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
