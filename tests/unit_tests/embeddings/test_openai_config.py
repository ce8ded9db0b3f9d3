"""OpenAICompatibleEmbeddings configuration and input checks (no request is ever made)."""

from __future__ import annotations

import pytest

from langchain_embedkit.embeddings import DASHSCOPE_BASE_URL, OpenAICompatibleEmbeddings

SECRET = "sk-very-secret-0123456789"
ENV = ["OPENAI_API_KEY", "OPENAI_BASE_URL", "DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_openai_defaults_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    emb = OpenAICompatibleEmbeddings()
    assert emb.model == "text-embedding-3-small"
    assert emb.base_url == "https://api.openai.com/v1"
    assert emb.api_key is not None and emb.api_key.get_secret_value() == SECRET
    assert emb.batch_size == 256


def test_openai_base_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://vllm.internal:8000/v1")
    emb = OpenAICompatibleEmbeddings(model="BAAI/bge-m3")
    assert emb.base_url == "http://vllm.internal:8000/v1"


def test_only_dashscope_key_picks_dashscope_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", SECRET)
    emb = OpenAICompatibleEmbeddings()
    assert emb.base_url == DASHSCOPE_BASE_URL == "https://dashscope.aliyuncs.com/compatible-mode/v1"
    assert emb.model == "text-embedding-v4"
    assert emb.batch_size == 10
    assert emb.api_key is not None and emb.api_key.get_secret_value() == SECRET


def test_dashscope_model_name_picks_dashscope_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("DASHSCOPE_API_KEY", SECRET)
    monkeypatch.setenv(
        "DASHSCOPE_BASE_URL", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    )
    emb = OpenAICompatibleEmbeddings(model="text-embedding-v3")
    assert emb.base_url == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert emb.api_key is not None and emb.api_key.get_secret_value() == SECRET
    assert emb.batch_size == 10


def test_a_key_is_never_sent_to_the_other_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    with pytest.raises(ValueError, match="DASHSCOPE_API_KEY"):
        OpenAICompatibleEmbeddings(model="text-embedding-v4")
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("DASHSCOPE_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://vllm.internal:8000/v1")
    emb = OpenAICompatibleEmbeddings(model="BAAI/bge-m3")
    assert emb.base_url == "http://vllm.internal:8000/v1"
    assert emb.api_key is None


def test_both_keys_and_openai_model_stay_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("DASHSCOPE_API_KEY", SECRET)
    emb = OpenAICompatibleEmbeddings(model="text-embedding-3-large")
    assert emb.base_url == "https://api.openai.com/v1"
    assert emb.api_key is not None and emb.api_key.get_secret_value() == "sk-openai"


def test_explicit_arguments_win_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env:1/v1")
    emb = OpenAICompatibleEmbeddings(
        model="m", api_key="sk-arg", base_url="http://arg:2/v1", batch_size=7
    )
    assert emb.api_key is not None and emb.api_key.get_secret_value() == "sk-arg"
    assert (emb.base_url, emb.batch_size) == ("http://arg:2/v1", 7)


def test_missing_key_for_a_hosted_api_is_explained() -> None:
    with pytest.raises(ValueError, match=r"No API key .*OPENAI_API_KEY"):
        OpenAICompatibleEmbeddings(model="text-embedding-3-small")
    with pytest.raises(ValueError, match=r"No API key .*DASHSCOPE_API_KEY"):
        OpenAICompatibleEmbeddings(model="text-embedding-v4")


def test_self_hosted_server_needs_no_key() -> None:
    emb = OpenAICompatibleEmbeddings(model="bge-m3", base_url="http://127.0.0.1:8000/v1")
    assert emb.api_key is None


def test_dashscope_batch_limit_is_enforced() -> None:
    with pytest.raises(ValueError, match=r"batch_size=25 .*at most 10"):
        OpenAICompatibleEmbeddings(model="text-embedding-v4", api_key=SECRET, batch_size=25)


def test_key_is_hidden_in_repr_str_and_dumps() -> None:
    emb = OpenAICompatibleEmbeddings(model="text-embedding-3-small", api_key=SECRET)
    for text in (repr(emb), str(emb), emb.model_dump_json(), str(emb.model_dump())):
        assert SECRET not in text
    assert "**********" in repr(emb)


@pytest.mark.parametrize(
    ("texts", "error", "pattern"),
    [
        (None, TypeError, "received None"),
        ("a", TypeError, "single str"),
        (["a", 1.5], TypeError, r"item 1 is float \(1.5\)"),
        (["a", None], TypeError, r"item 1 is NoneType"),
        (["a", "b", ""], ValueError, r"item 2 is an empty string; .*HTTP 400"),
    ],
)
def test_bad_input_fails_before_any_request(texts: object, error: type, pattern: str) -> None:
    # Sockets are disabled in unit tests: reaching the network would raise something else.
    emb = OpenAICompatibleEmbeddings(model="m", api_key=SECRET, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(error, match=pattern):
        emb.embed_documents(texts)  # type: ignore[arg-type]


async def test_async_bad_input_fails_before_any_request() -> None:
    emb = OpenAICompatibleEmbeddings(model="m", api_key=SECRET, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="empty string"):
        await emb.aembed_documents([""])
    with pytest.raises(TypeError, match="expects one string"):
        await emb.aembed_query(None)  # type: ignore[arg-type]
    assert await emb.aembed_documents([]) == []


def test_empty_list_makes_no_request() -> None:
    emb = OpenAICompatibleEmbeddings(model="m", api_key=SECRET, base_url="http://127.0.0.1:9/v1")
    assert emb.embed_documents([]) == []


def test_unknown_preset_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"Unknown preset 'bge'; supported: 'qwen3', 'e5'"):
        OpenAICompatibleEmbeddings(model="m", base_url="http://127.0.0.1:9/v1", preset="bge")


def test_presets_fill_the_instructions() -> None:
    e5 = OpenAICompatibleEmbeddings(model="m", base_url="http://127.0.0.1:9/v1", preset="e5")
    assert (e5.query_instruction, e5.document_instruction) == ("query: ", "passage: ")
    qwen3 = OpenAICompatibleEmbeddings(model="m", base_url="http://127.0.0.1:9/v1", preset="qwen3")
    assert qwen3.query_instruction is not None
    assert qwen3.query_instruction.startswith("Instruct: ")
    assert qwen3.query_instruction.endswith("\nQuery:")
    assert qwen3.document_instruction == ""


def test_public_error_paths_are_one_class() -> None:
    import langchain_embedkit
    from langchain_embedkit import errors
    from langchain_embedkit.embeddings import EmbeddingAPIError
    from langchain_embedkit.rerankers import RerankAPIError

    assert EmbeddingAPIError is errors.EmbeddingAPIError is langchain_embedkit.EmbeddingAPIError
    assert RerankAPIError is errors.RerankAPIError is langchain_embedkit.RerankAPIError
    for cls in (EmbeddingAPIError, RerankAPIError):
        assert issubclass(cls, errors.APIError)
        assert issubclass(cls, RuntimeError) and issubclass(cls, errors.EmbedKitError)
    assert errors.APIError("x", status_code=503).status_code == 503
