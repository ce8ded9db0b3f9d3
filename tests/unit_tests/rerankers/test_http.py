"""HTTPReranker set-up: keys from the environment, secrecy, endpoints and request bodies."""

from __future__ import annotations

import pytest

from langchain_embedkit.rerankers.http import HTTPReranker

KEY = "sk-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("JINA_API_KEY", "COHERE_API_KEY", "CO_API_KEY", "DASHSCOPE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("VLLM_API_KEY", raising=False)


@pytest.mark.parametrize(
    ("provider", "var"),
    [
        ("jina", "JINA_API_KEY"),
        ("cohere", "COHERE_API_KEY"),
        ("cohere", "CO_API_KEY"),
        ("dashscope", "DASHSCOPE_API_KEY"),
    ],
)
def test_key_is_read_from_the_provider_variable(
    monkeypatch: pytest.MonkeyPatch, provider: str, var: str
) -> None:
    monkeypatch.setenv(var, KEY)
    reranker = HTTPReranker(provider=provider)  # type: ignore[arg-type]
    assert reranker.api_key is not None
    assert reranker.api_key.get_secret_value() == KEY
    assert KEY not in repr(reranker)
    assert KEY not in str(reranker)
    assert KEY not in reranker.model_dump_json()


@pytest.mark.parametrize("provider", ["jina", "cohere", "dashscope"])
def test_hosted_provider_without_key_says_what_to_set(provider: str) -> None:
    with pytest.raises(ValueError, match="API key") as info:
        HTTPReranker(provider=provider)  # type: ignore[arg-type]
    assert "_API_KEY" in str(info.value)


def test_self_hosted_server_needs_no_key() -> None:
    reranker = HTTPReranker(provider="vllm", base_url="http://127.0.0.1:8000")
    assert reranker.api_key is None
    assert "Authorization" not in reranker._headers()


def test_unknown_provider_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="jina"):
        HTTPReranker(provider="voyage", api_key=KEY)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("provider", "base_url", "endpoint"),
    [
        ("jina", None, "https://api.jina.ai/v1/rerank"),
        ("cohere", None, "https://api.cohere.com/v2/rerank"),
        (
            "dashscope",
            None,
            "https://dashscope.aliyuncs.com/api/v1/services/rerank/text-rerank/text-rerank",
        ),
        (
            "dashscope",
            "https://dashscope-intl.aliyuncs.com/api/v1",
            "https://dashscope-intl.aliyuncs.com/api/v1/services/rerank/text-rerank/text-rerank",
        ),
        ("vllm", "http://gpu:8000/v1/", "http://gpu:8000/v1/rerank"),
        ("vllm", "http://gpu:8000", "http://gpu:8000/v1/rerank"),
        ("jina", "http://proxy/rerank-api/v1/rerank", "http://proxy/rerank-api/v1/rerank"),
    ],
)
def test_endpoint_joins_without_doubling(
    provider: str, base_url: str | None, endpoint: str
) -> None:
    reranker = HTTPReranker(provider=provider, base_url=base_url, api_key=KEY)  # type: ignore[arg-type]
    assert reranker.endpoint == endpoint


def test_request_bodies_follow_each_api() -> None:
    texts = ["a", "b", "c"]
    jina = HTTPReranker(provider="jina", api_key=KEY, top_n=2)._body("q", texts)
    assert jina == {
        "model": "jina-reranker-v2-base-multilingual",
        "query": "q",
        "documents": texts,
        "top_n": 2,
        "return_documents": False,
    }
    cohere = HTTPReranker(provider="cohere", api_key=KEY, top_n=10)._body("q", texts)
    assert cohere == {"model": "rerank-v3.5", "query": "q", "documents": texts, "top_n": 3}
    dashscope = HTTPReranker(provider="dashscope", api_key=KEY, top_n=None)._body("q", texts)
    assert dashscope == {
        "model": "gte-rerank-v2",
        "input": {"query": "q", "documents": texts},
        "parameters": {"return_documents": False},
    }
    vllm = HTTPReranker(provider="vllm", base_url="http://h:1", top_n=1)._body("q", texts)
    assert vllm == {"query": "q", "documents": texts, "top_n": 1}


def test_headers_carry_the_key_as_bearer() -> None:
    reranker = HTTPReranker(provider="cohere", api_key=KEY)
    assert reranker._headers()["Authorization"] == f"Bearer {KEY}"


def test_bad_retry_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_retries >= 0"):
        HTTPReranker(provider="vllm", base_url="http://h:1", max_retries=-1)
