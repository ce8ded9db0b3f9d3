"""Export a sentence-transformers model to ONNX with dynamic int8 quantization, once.

The exported folder is a complete sentence-transformers model (tokenizer, pooling, prompts and
``onnx/*.onnx``) kept in a cache folder keyed by the source model, so the slow export runs once
per model and machine. Nothing is downloaded: the export reads the local model folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from langchain_embedkit._fs import atomic_write_text
from langchain_embedkit._imports import require

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from langchain_embedkit.embeddings._bert_graph import BertLayout

__all__ = [
    "ONNX_QUANTIZATIONS",
    "OnnxQuantization",
    "build_runtime_graph",
    "default_onnx_cache_dir",
    "export_onnx_model",
    "onnx_export_dir",
    "resolve_quantization",
    "source_checksum",
]

OnnxQuantization = Literal["auto", "avx2", "avx512", "avx512_vnni", "arm64"]
ONNX_QUANTIZATIONS: tuple[str, ...] = ("auto", "avx2", "avx512", "avx512_vnni", "arm64")
# Bump when the export recipe changes so old cache entries are not reused.
_EXPORT_VERSION = 1
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx", "onnx/model.onnx")


def default_onnx_cache_dir() -> Path:
    """Where exported ONNX models live unless ``onnx_cache_dir`` is given.

    ``onnx/`` under the package's cache folder (:func:`langchain_embedkit._cache.cache_root`:
    ``$EMBEDKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/langchain-embedkit``, else
    ``~/.cache/langchain-embedkit``). Site-packages may be read-only, so the packaged model
    folder is never written to.

    Example:
        >>> default_onnx_cache_dir().name
        'onnx'
    """
    from langchain_embedkit._cache import cache_root

    return cache_root() / "onnx"


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def resolve_quantization(quantization: str | None) -> str | None:
    """Turn ``"auto"`` into the int8 recipe for this CPU; pass other values through.

    ``arm64`` on ARM machines, ``avx512_vnni`` or ``avx512`` where the CPU has them, else
    ``avx2``. ``None`` means no quantization (plain fp32 ONNX).

    Example:
        >>> resolve_quantization("avx2")
        'avx2'
    """
    if quantization is None or quantization != "auto":
        return quantization
    if platform.machine().lower() in {"arm64", "aarch64"}:
        return "arm64"
    flags = _cpu_flags()
    if "avx512_vnni" in flags or "avx512vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"


def _source_fingerprint(source: str) -> dict[str, object]:
    path = Path(source)
    if not path.is_dir():
        return {"source": source}
    files = {}
    for name in _WEIGHT_FILES:
        weight = path / name
        if weight.is_file():
            stat = weight.stat()
            files[name] = [stat.st_size, int(stat.st_mtime)]
    return {"source": str(path.resolve()), "files": files}


def onnx_export_dir(source: str, quantization: str | None, cache_dir: Path) -> Path:
    """The folder an export of ``source`` with ``quantization`` lives in under ``cache_dir``.

    The name keeps the model folder's name readable and adds a hash of its absolute path, the
    size and mtime of its weight files and the recipe, so an edited model is exported again.

    Example:
        >>> onnx_export_dir("org/name", "avx2", Path("/c")).name.startswith("name-")
        True
    """
    key = json.dumps(
        {"v": _EXPORT_VERSION, "q": quantization, **_source_fingerprint(source)}, sort_keys=True
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    stem = Path(source.rstrip("/\\")).name or "model"
    return cache_dir / f"{stem}-{digest}"


def _onnx_file_name(quantization: str | None) -> str:
    return f"onnx/model_qint8_{quantization}.onnx" if quantization else "onnx/model.onnx"


def _activation_matmuls(onnx_path: Path) -> list[str]:
    """MatMul nodes whose two inputs are both activations (attention scores and context).

    Dynamic int8 quantization of these products costs most of the accuracy (cosine to fp32
    drops below 0.99 on MiniLM) for little speed, so they stay fp32; every MatMul with a
    weight matrix is still quantized.
    """
    onnx = require("onnx", "onnx")
    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    constants = {init.name for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            constants.update(node.output)
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and not any(name in constants for name in node.input)
    ]


def export_onnx_model(
    source: str,
    *,
    quantization: str | None,
    cache_dir: Path | None = None,
    model_kwargs: dict[str, object] | None = None,
) -> tuple[Path, str]:
    """Export ``source`` to ONNX (int8 unless ``quantization`` is None) unless cached.

    Args:
        source: A local sentence-transformers folder or a model id already in the local
            Hugging Face cache.
        quantization: One of ``ONNX_QUANTIZATIONS`` or None for fp32 ONNX.
        cache_dir: Parent folder for exports; defaults to ``default_onnx_cache_dir()``.
        model_kwargs: Extra ``SentenceTransformer`` keyword arguments for the export load.

    Returns:
        The exported model folder and the ONNX file name inside it, ready for
        ``SentenceTransformer(folder, backend="onnx", model_kwargs={"file_name": name})``.
    """
    quantization = resolve_quantization(quantization)
    if quantization is not None and quantization not in ONNX_QUANTIZATIONS:
        msg = (
            f"Unknown onnx_quantization {quantization!r}; supported: "
            f"{', '.join(ONNX_QUANTIZATIONS)}, or None for fp32 ONNX."
        )
        raise ValueError(msg)
    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_onnx_cache_dir()
    target = onnx_export_dir(source, quantization, cache_dir)
    file_name = _onnx_file_name(quantization)
    if (target / file_name).is_file() and (target / "modules.json").is_file():
        return target, file_name

    st = require("sentence_transformers", "onnx")
    require("optimum.onnxruntime", "onnx")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=cache_dir))
    except OSError as exc:
        msg = (
            f"Cannot write the ONNX export to {cache_dir} ({exc.strerror}). "
            "Pass a writable folder: onnx_cache_dir='/path/to/folder', or set "
            "EMBEDKIT_CACHE_DIR."
        )
        raise PermissionError(msg) from exc
    try:
        kwargs = dict(model_kwargs or {})
        kwargs.pop("backend", None)
        with warnings.catch_warnings():
            # The tracing exporter warns about its own deprecation and traced constants;
            # neither is actionable here, and the result is checked against fp32 in tests.
            warnings.simplefilter("ignore")
            model: SentenceTransformer = st.SentenceTransformer(
                source, backend="onnx", device="cpu", **kwargs
            )
            model.save_pretrained(str(staging))
            if quantization is not None:
                _quantize(model, staging, quantization)
        try:
            os.replace(staging, target)
        except OSError:
            # Another process finished the same export first; keep theirs.
            if not (target / file_name).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target, file_name


def _quantize(model: SentenceTransformer, folder: Path, quantization: str) -> None:
    st = require("sentence_transformers", "onnx")
    configuration = require("optimum.onnxruntime.configuration", "onnx")
    factory = getattr(configuration.AutoQuantizationConfig, quantization)
    config = factory(
        is_static=False,
        per_channel=True,
        operators_to_quantize=["MatMul"],
        nodes_to_exclude=_activation_matmuls(folder / "onnx" / "model.onnx"),
    )
    st.export_dynamic_quantized_onnx_model(
        model, config, str(folder), file_suffix=f"qint8_{quantization}"
    )


# Int8 recipes as optimum's AutoQuantizationConfig defines them: AVX2 without VNNI multiplies
# u8 x u8 (u8 x s8 saturates in VPMADDUBSW); AVX-512 VNNI, AVX-512 and ARM take s8 weights.
_WEIGHT_TYPES = {"avx2": "QUInt8", "avx512": "QInt8", "avx512_vnni": "QInt8", "arm64": "QInt8"}
_GRAPH_VERSION = 5


def source_checksum(weights: Path, cache_dir: Path) -> str:
    """SHA-256 of a weight file, remembered in ``cache_dir/checksums.json`` by path, size and
    mtime, so that the 90 MB file is hashed once and not on every start.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "w").write_bytes(b"abc")
        >>> source_checksum(folder / "w", folder)[:12]
        'ba7816bf8f01'
    """
    stat = weights.stat()
    key = str(weights.resolve())
    stamp = [stat.st_size, stat.st_mtime_ns]
    index_path = cache_dir / "checksums.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        if not isinstance(index, dict):
            index = {}
    except (OSError, ValueError):
        index = {}
    entry = index.get(key)
    if isinstance(entry, dict) and entry.get("stamp") == stamp and entry.get("sha256"):
        return str(entry["sha256"])
    digest = hashlib.sha256()
    with weights.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    checksum = digest.hexdigest()
    index[key] = {"stamp": stamp, "sha256": checksum}
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(index_path, json.dumps(index, indent=1))
    except OSError:
        pass  # a read-only cache only costs hashing again next time
    return checksum


def build_runtime_graph(
    layout: BertLayout, *, quantization: str | None, cache_dir: Path | None = None
) -> Path:
    """The torch-free graph of a BERT model (fp32, or int8 for ``quantization``), built once.

    The graph is written from the safetensors weights (no torch, no tracing) into
    ``cache_dir/<model>-<sha256 of the weights>/``, with ``source.json`` naming the source
    folder and checksum; int8 graphs are quantized from the fp32 one by onnxruntime.

    Returns:
        The ``.onnx`` file to open with onnxruntime.
    """
    quantization = resolve_quantization(quantization)
    if quantization is not None and quantization not in _WEIGHT_TYPES:
        msg = (
            f"Unknown onnx_quantization {quantization!r}; supported: "
            f"{', '.join(ONNX_QUANTIZATIONS)}, or None for fp32 ONNX."
        )
        raise ValueError(msg)
    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_onnx_cache_dir()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = (
            f"Cannot write the ONNX graph to {cache_dir} ({exc.strerror}). "
            "Pass a writable folder: onnx_cache_dir='/path/to/folder', or set "
            "EMBEDKIT_CACHE_DIR."
        )
        raise PermissionError(msg) from exc
    checksum = source_checksum(layout.weights, cache_dir)
    folder = cache_dir / f"{layout.folder.name or 'model'}-g{_GRAPH_VERSION}-{checksum[:16]}"
    fp32 = folder / "model.onnx"
    if not fp32.is_file():
        _write_fp32_graph(layout, fp32)
        (folder / "source.json").write_text(
            json.dumps({"source": str(layout.folder), "sha256": checksum}, indent=1),
            encoding="utf-8",
        )
    if quantization is None:
        return fp32
    target = folder / f"model_qint8_{quantization}.onnx"
    if not target.is_file():
        _write_atomically(target, lambda path: _quantize_graph(fp32, path, quantization))
    return target


def _write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.stem}-{os.getpid()}.tmp.onnx")
    try:
        write(staging)
        os.replace(staging, target)  # a concurrent builder wrote the same bytes; last wins
    finally:
        staging.unlink(missing_ok=True)


def _write_fp32_graph(layout: BertLayout, target: Path) -> None:
    """Write ``model.onnx`` and its weights, ``model.onnx.data``, built in a private folder.

    The weights file is moved in first and the graph last, so ``model.onnx`` exists only
    once its weights do; a concurrent builder moves in the same bytes (the build is
    deterministic), and a reader holding the old file keeps reading its own copy.
    """
    from langchain_embedkit.embeddings._bert_graph import build_bert_graph

    target.parent.mkdir(parents=True, exist_ok=True)
    data = f"{target.name}.data"
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        build_bert_graph(layout, staging / target.name, weights_file=data)
        os.replace(staging / data, target.parent / data)
        os.replace(staging / target.name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _quantize_graph(source: Path, target: Path, quantization: str) -> None:
    quant = require("onnxruntime.quantization", "onnx")
    quant.quantize_dynamic(
        str(source),
        str(target),
        op_types_to_quantize=["MatMul", "Attention"],
        per_channel=True,
        reduce_range=False,
        weight_type=getattr(quant.QuantType, _WEIGHT_TYPES[quantization]),
        nodes_to_exclude=_activation_matmuls(source),
        extra_options={"MatMulConstBOnly": True, "DefaultTensorType": 1},  # 1: FLOAT
    )
