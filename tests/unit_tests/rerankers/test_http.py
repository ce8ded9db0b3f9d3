"""HTTPReranker set-up: keys, secrecy, endpoints, request bodies and how calls are split."""

from __future__ import annotations

import doctest
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_embedkit.rerankers import http as http_module
from langchain_embedkit.rerankers.http import HTTPReranker, _chunk_ranges

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


@pytest.mark.parametrize(
    ("provider", "documents", "characters"),
    [("jina", 1000, None), ("cohere", 1000, None), ("dashscope", 500, 30_000), ("vllm", 256, None)],
)
def test_request_caps_default_to_the_provider(
    provider: str, documents: int, characters: int | None
) -> None:
    reranker = HTTPReranker(provider=provider, api_key=KEY)  # type: ignore[arg-type]
    assert reranker.max_documents_per_request == documents
    assert reranker.max_characters_per_request == characters
    assert reranker.max_concurrency == 4


def test_none_means_no_cap_and_explicit_caps_win() -> None:
    unlimited = HTTPReranker(
        provider="dashscope",
        api_key=KEY,
        max_documents_per_request=None,
        max_characters_per_request=None,
    )
    assert unlimited.max_documents_per_request is None
    assert unlimited.max_characters_per_request is None
    assert unlimited._ranges("q", ["x"] * 5000) == [(0, 5000)]
    custom = HTTPReranker(provider="cohere", api_key=KEY, max_documents_per_request=64)
    assert custom._ranges("q", ["x"] * 130) == [(0, 64), (64, 128), (128, 130)]


@pytest.mark.parametrize(
    "bad",
    [
        {"max_documents_per_request": 0},
        {"max_documents_per_request": -5},
        {"max_documents_per_request": True},
        {"max_characters_per_request": 0},
        {"max_characters_per_request": "30000"},
        {"max_concurrency": 0},
    ],
)
def test_bad_request_caps_are_refused(bad: dict[str, object]) -> None:
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name) as info:
        HTTPReranker(api_key=KEY, provider="jina", **bad)  # type: ignore[arg-type]
    assert KEY[:8] not in str(info.value)  # not even the start of the key


def test_chunk_ranges_by_documents_and_characters() -> None:
    assert _chunk_ranges([], 3, 2, None) == []
    assert _chunk_ranges([1] * 5, 3, None, None) == [(0, 5)]
    assert _chunk_ranges([1] * 5, 3, 2, None) == [(0, 2), (2, 4), (4, 5)]
    # The query is counted once per document: (4 + 6) * 3 = 30 fits, a fourth does not.
    assert _chunk_ranges([6] * 7, 4, None, 30) == [(0, 3), (3, 6), (6, 7)]
    # A document over the budget travels alone instead of failing the call.
    assert _chunk_ranges([5, 100, 5, 5], 0, None, 20) == [(0, 1), (1, 2), (2, 4)]
    # Whichever cap is hit first closes the slice.
    assert _chunk_ranges([1] * 6, 0, 4, 3) == [(0, 3), (3, 6)]
    assert _chunk_ranges([1] * 6, 0, 2, 3) == [(0, 2), (2, 4), (4, 6)]


def test_chunk_ranges_docstring_examples() -> None:
    result = doctest.testmod(http_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 2
    assert result.failed == 0


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 60), max_size=80),
    query_length=st.integers(0, 20),
    max_documents=st.none() | st.integers(1, 12),
    max_characters=st.none() | st.integers(1, 200),
)
def test_chunk_ranges_cover_everything_within_the_caps(
    lengths: list[int], query_length: int, max_documents: int | None, max_characters: int | None
) -> None:
    ranges = _chunk_ranges(lengths, query_length, max_documents, max_characters)
    # Contiguous, in order, covering every document exactly once.
    assert [i for start, stop in ranges for i in range(start, stop)] == list(range(len(lengths)))
    assert all(stop > start for start, stop in ranges)
    for start, stop in ranges:
        if max_documents is not None:
            assert stop - start <= max_documents
        cost = sum(query_length + n for n in lengths[start:stop])
        if max_characters is not None and stop - start > 1:
            assert cost <= max_characters
    # Greedy: no slice could have taken the next document.
    for (start, stop), _ in itertools.pairwise(ranges):
        fits_count = max_documents is None or stop - start + 1 <= max_documents
        cost = sum(query_length + n for n in lengths[start : stop + 1])
        fits_chars = max_characters is None or cost <= max_characters
        assert not (fits_count and fits_chars)
