"""Write a BERT sentence encoder as an ONNX graph straight from its safetensors weights.

No torch and no tracing: the graph is assembled node by node with ``onnx.helper`` from the
``config.json`` and ``model.safetensors`` of a sentence-transformers folder, with the
model's pooling (mean or CLS, from ``1_Pooling/config.json``) inside the graph. The ops are
the ones ``transformers``' ``BertModel`` runs in eval mode (absolute positions, LayerNorm,
exact erf GELU, padding masked out of attention), so the vectors equal the torch ones to float32
rounding.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_embedkit._imports import require

if TYPE_CHECKING:
    import numpy as np

__all__ = ["UNFUSED_OPTIMIZERS", "BertLayout", "bert_layout", "build_bert_graph"]

_OPSET = 17  # LayerNormalization
UNFUSED_OPTIMIZERS: tuple[str, ...] = ("SkipLayerNormFusion",)
"""onnxruntime graph optimizers to disable when opening these graphs (see ``dense_skip_norm``)."""


class BertLayout:
    """What the graph needs to know about a model folder, read from its JSON files."""

    def __init__(
        self,
        *,
        folder: Path,
        hidden_size: int,
        num_heads: int,
        num_layers: int,
        layer_norm_eps: float,
        pooling: str,
        normalize: bool,
        max_seq_length: int,
        weights: Path,
    ) -> None:
        self.folder = folder
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.layer_norm_eps = layer_norm_eps
        self.pooling = pooling
        self.normalize = normalize
        self.max_seq_length = max_seq_length
        self.weights = weights


def _read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        msg = f"{path} must hold a JSON object."
        raise ValueError(msg)
    return data


def bert_layout(folder: Path) -> BertLayout | None:
    """The layout of a sentence-transformers BERT folder, or None if it is another model.

    Supported: ``model_type`` ``bert`` with absolute positions and GELU, a Transformer ->
    Pooling (mean or CLS) [-> Normalize] module list, weights in ``model.safetensors`` and a
    ``tokenizer.json``. Anything else returns None (callers then use sentence-transformers).

    Example:
        >>> bert_layout(Path("/no/such/folder")) is None
        True
    """
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        config = _read_json(folder / "config.json")
        st_config = _read_json(folder / "sentence_bert_config.json")
    except (OSError, ValueError):
        return None
    if not (folder / "model.safetensors").is_file() or not (folder / "tokenizer.json").is_file():
        return None
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules if isinstance(m, dict)]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    if modules[0].get("path") not in ("", None):
        return None
    if (
        config.get("model_type") != "bert"
        or config.get("hidden_act") != "gelu"
        or config.get("position_embedding_type", "absolute") != "absolute"
    ):
        return None
    try:
        pooling_folder = folder / str(modules[1].get("path") or "1_Pooling")
        pooling_config = _read_json(pooling_folder / "config.json")
    except (OSError, ValueError):
        return None
    modes = [k for k, v in pooling_config.items() if k.startswith("pooling_mode_") and v is True]
    pooling = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}.get(
        modes[0] if len(modes) == 1 else ""
    )
    if pooling is None or pooling_config.get("include_prompt", True) is not True:
        return None
    max_positions = int(config.get("max_position_embeddings", 512))
    return BertLayout(
        folder=folder,
        hidden_size=int(config["hidden_size"]),
        num_heads=int(config["num_attention_heads"]),
        num_layers=int(config["num_hidden_layers"]),
        layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
        pooling=pooling,
        normalize=kinds[-1] == "Normalize",
        max_seq_length=min(int(st_config.get("max_seq_length") or max_positions), max_positions),
        weights=folder / "model.safetensors",
    )


class _Graph:
    """A tiny builder: named initializers, nodes and unique names."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.onnx = require("onnx", "onnx")
        self.numpy_helper = require("onnx.numpy_helper", "onnx")
        self.weights = weights
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(self.numpy_helper.from_array(value, name))
        return name

    def weight(self, key: str, *, transpose: bool = False) -> str:
        import numpy as np

        value = np.asarray(self.weights[key], dtype=np.float32)
        if transpose:
            value = np.ascontiguousarray(value.T)
        return self.const(key + (".T" if transpose else ""), value)

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        self._count += 1
        out = f"{op_type.lower()}_{self._count}"
        self.nodes.append(
            self.onnx.helper.make_node(
                op_type, inputs, [out], name=f"{op_type}_{self._count}", **attrs
            )
        )
        return out

    def dense_skip_norm(self, x: str, residual: str, prefix: str, eps: float) -> str:
        """``LayerNorm(x @ W + b + residual)`` as MatMul, two Adds and LayerNormalization.

        Not the fused SkipLayerNormalization: onnxruntime's CPU kernel for it took 36 ms
        against 14 ms for the three plain ops on a 32 x 256 x 384 batch (2 threads, same
        output to 4e-6), about a tenth of the whole int8 forward pass. Sessions are opened
        with ``SkipLayerNormFusion`` disabled (:data:`UNFUSED_OPTIMIZERS`) so that onnxruntime
        does not fuse them back.
        """
        product = self.op("MatMul", [x, self.weight(prefix + ".dense.weight", transpose=True)])
        biased = self.op("Add", [product, self.weight(prefix + ".dense.bias")])
        return self.layer_norm(self.op("Add", [biased, residual]), prefix + ".LayerNorm", eps)

    def layer_norm(self, x: str, prefix: str, eps: float) -> str:
        return self.op(
            "LayerNormalization",
            [x, self.weight(prefix + ".weight"), self.weight(prefix + ".bias")],
            axis=-1,
            epsilon=eps,
        )


def _load_weights(path: Path) -> dict[str, np.ndarray]:
    safetensors = require("safetensors", "onnx")
    weights: dict[str, np.ndarray] = {}
    with safetensors.safe_open(str(path), framework="numpy") as handle:
        for key in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
            weights[key.removeprefix("bert.")] = handle.get_tensor(key)
    return weights


def _embeddings(g: _Graph, eps: float) -> str:
    """Word + absolute position + token type embeddings, then LayerNorm."""
    import numpy as np

    words = g.op("Gather", [g.weight("embeddings.word_embeddings.weight"), "input_ids"])
    seq_len = g.op(
        "Gather",
        [g.op("Shape", ["input_ids"]), g.const("one_index", np.array(1, dtype=np.int64))],
        axis=0,
    )
    positions = g.op(
        "Range",
        [
            g.const("zero", np.array(0, dtype=np.int64)),
            seq_len,
            g.const("step", np.array(1, dtype=np.int64)),
        ],
    )
    pos = g.op("Gather", [g.weight("embeddings.position_embeddings.weight"), positions])
    types = g.op("Gather", [g.weight("embeddings.token_type_embeddings.weight"), "token_type_ids"])
    return g.layer_norm(
        g.op("Add", [g.op("Add", [words, pos]), types]), "embeddings.LayerNorm", eps
    )


def _encoder_layer(g: _Graph, i: int, x: str, mask_index: str, heads: int, eps: float) -> str:
    """Encoder layer ``i``: fused self-attention, then the GELU feed-forward block."""
    import numpy as np

    p = f"encoder.layer.{i}"
    parts = [f"{p}.attention.self.{name}" for name in ("query", "key", "value")]
    qkv_weight = g.const(
        f"{p}.attention.qkv.weight",
        np.ascontiguousarray(
            np.concatenate([np.asarray(g.weights[k + ".weight"]).T for k in parts], axis=1),
            dtype=np.float32,
        ),
    )
    qkv_bias = g.const(
        f"{p}.attention.qkv.bias",
        np.concatenate([np.asarray(g.weights[k + ".bias"]) for k in parts]).astype(np.float32),
    )
    merged = g.op(
        "Attention",
        [x, qkv_weight, qkv_bias, mask_index],
        domain="com.microsoft",
        num_heads=heads,
    )
    x = g.dense_skip_norm(merged, x, f"{p}.attention.output", eps)
    inner = g.op("MatMul", [x, g.weight(f"{p}.intermediate.dense.weight", transpose=True)])
    # Exact erf GELU with the bias add folded in, as BertModel's "gelu" computes it.
    gelu = g.op(
        "BiasGelu", [inner, g.weight(f"{p}.intermediate.dense.bias")], domain="com.microsoft"
    )
    return g.dense_skip_norm(gelu, x, f"{p}.output", eps)


def _pool(g: _Graph, pooling: str, x: str, mask: str) -> str:
    """The model's Pooling module: the CLS token, or the mean over unpadded tokens."""
    import numpy as np

    if pooling == "cls":
        return g.op("Gather", [x, g.const("zero_index", np.array(0, dtype=np.int64))], axis=1)
    weights = g.op("Unsqueeze", [mask, g.const("axis_last", np.array([2], dtype=np.int64))])
    summed = g.op(
        "ReduceSum",
        [g.op("Mul", [x, weights]), g.const("axis_1", np.array([1], dtype=np.int64))],
        keepdims=0,
    )
    counts = g.op(
        "Max",
        [
            g.op("ReduceSum", [weights, "axis_1"], keepdims=0),
            g.const("tiny", np.array(1e-9, dtype=np.float32)),
        ],
    )
    return g.op("Div", [summed, counts])


def _save(g: _Graph, hidden: int, target: Path, weights_file: str | None) -> None:
    """Wrap the nodes into a model and write it, inline or with external weights."""
    helper = g.onnx.helper
    tensor = g.onnx.TensorProto
    tokens = ["batch", "tokens"]
    graph = helper.make_graph(
        g.nodes,
        "sentence_encoder",
        [
            helper.make_tensor_value_info(name, tensor.INT64, tokens)
            for name in ("input_ids", "attention_mask", "token_type_ids")
        ],
        [helper.make_tensor_value_info("sentence_embedding", tensor.FLOAT, ["batch", hidden])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", _OPSET), helper.make_opsetid("com.microsoft", 1)],
    )
    model.ir_version = 8
    if weights_file is None:
        g.onnx.save(model, str(target))
        return
    (target.parent / weights_file).unlink(missing_ok=True)  # onnx appends to an existing file
    g.onnx.save_model(
        model,
        str(target),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=weights_file,
        size_threshold=1024,
    )


def build_bert_graph(layout: BertLayout, target: Path, *, weights_file: str | None = None) -> None:
    """Write the fp32 graph of ``layout``'s model to ``target`` (a ``.onnx`` file).

    Inputs ``input_ids``, ``attention_mask`` and ``token_type_ids`` (int64, batch x tokens);
    output ``sentence_embedding`` (float32, batch x hidden), pooled as the model's Pooling
    module does and not yet normalized.

    With ``weights_file`` (a file name), the weights go to that file beside ``target`` as
    ONNX external data: onnxruntime then maps them from disk instead of parsing a copy,
    which halves the peak memory of opening the graph.
    """
    g = _Graph(_load_weights(layout.weights))
    tensor = g.onnx.TensorProto
    eps = layout.layer_norm_eps

    x = _embeddings(g, eps)
    mask = g.op("Cast", ["attention_mask"], to=tensor.FLOAT)
    # onnxruntime's fused Attention (QKV projection, scaled softmax, padding mask): one
    # kernel instead of a dozen nodes, and the op that int8 quantization turns into QAttention.
    mask_index = g.op("Cast", ["attention_mask"], to=tensor.INT32)
    for i in range(layout.num_layers):
        x = _encoder_layer(g, i, x, mask_index, layout.num_heads, eps)
    pooled = _pool(g, layout.pooling, x, mask)
    g.nodes.append(
        g.onnx.helper.make_node("Identity", [pooled], ["sentence_embedding"], name="output")
    )
    _save(g, layout.hidden_size, target, weights_file)
