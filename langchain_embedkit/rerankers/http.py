"""Hosted rerank APIs over HTTP: Jina, Cohere v2, DashScope and Jina-compatible servers.

vLLM, Xinference, TEI-style gateways and most self-hosted rerank servers speak Jina's
``POST /v1/rerank`` shape; use ``provider="vllm"`` (or ``"jina"``) with their ``base_url``.

Hosted APIs cap what one request may carry (DashScope: 500 documents and 30,000 tokens,
the query counted once per document), so large calls are split into contiguous slices,
sent one after another (async: a few at a time), and merged. Rerank scores are computed
per (query, document) pair, so the merged ranking is the one a single request would give.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, model_validator
from typing_extensions import Self

from langchain_embedkit import _http
from langchain_embedkit._imports import require
from langchain_embedkit.errors import RerankAPIError
from langchain_embedkit.rerankers.base import BaseReranker

if TYPE_CHECKING:
    import httpx

__all__ = ["PROVIDERS", "HTTPReranker", "RerankAPIError", "RerankProvider"]

logger = logging.getLogger(__name__)

RerankProvider = Literal["jina", "cohere", "dashscope", "vllm"]

_MAX_WAIT_S = 30.0
DEFAULT_MAX_RESPONSE_BYTES = 16 * 2**20


@dataclass(frozen=True)
class _Provider:
    base_url: str
    path: str
    env: tuple[str, ...]
    model: str | None
    key_required: bool
    max_documents: int | None = None
    max_characters: int | None = None


PROVIDERS: Mapping[str, _Provider] = {
    "jina": _Provider(
        "https://api.jina.ai",
        "/v1/rerank",
        ("JINA_API_KEY",),
        "jina-reranker-v2-base-multilingual",
        True,
        max_documents=1000,
    ),
    "cohere": _Provider(
        "https://api.cohere.com",
        "/v2/rerank",
        ("COHERE_API_KEY", "CO_API_KEY"),
        "rerank-v3.5",
        True,
        max_documents=1000,
    ),
    "dashscope": _Provider(
        "https://dashscope.aliyuncs.com",
        "/api/v1/services/rerank/text-rerank/text-rerank",
        ("DASHSCOPE_API_KEY",),
        "gte-rerank-v2",
        True,
        max_documents=500,
        max_characters=30_000,
    ),
    "vllm": _Provider(
        "http://localhost:8000", "/v1/rerank", ("VLLM_API_KEY",), None, False, max_documents=256
    ),
}
"""Default base URL, endpoint path, key variables, model and request caps of each provider.

``max_documents`` / ``max_characters`` are the defaults of ``max_documents_per_request`` /
``max_characters_per_request``. DashScope publishes 500 documents and 30,000 tokens per
request (gte-rerank-v2, qwen3-rerank); Cohere recommends at most 1,000 documents; Jina
publishes no exact cap, so the same 1,000 is used; self-hosted servers have none, but 256
keeps each request well inside ``timeout`` on a modest GPU.
"""


def _chunk_ranges(
    lengths: list[int],
    query_length: int,
    max_documents: int | None,
    max_characters: int | None,
) -> list[tuple[int, int]]:
    """Split documents into contiguous ``(start, stop)`` slices that respect both caps.

    A document costs ``query_length + its length`` characters, the way cross-encoder
    APIs count tokens (the query is read once per pair). A document that alone exceeds
    ``max_characters`` travels alone: the server truncates it rather than refusing.

    Example:
        >>> _chunk_ranges([5, 5, 5, 5, 5], query_length=5, max_documents=2, max_characters=None)
        [(0, 2), (2, 4), (4, 5)]
        >>> _chunk_ranges([10, 10, 50, 10], query_length=5, max_documents=None, max_characters=30)
        [(0, 2), (2, 3), (3, 4)]
    """
    ranges: list[tuple[int, int]] = []
    start, used = 0, 0
    for i, length in enumerate(lengths):
        cost = query_length + length
        full = (max_documents is not None and i - start >= max_documents) or (
            max_characters is not None and i > start and used + cost > max_characters
        )
        if full:
            ranges.append((start, i))
            start, used = i, 0
        used += cost
    if start < len(lengths):
        ranges.append((start, len(lengths)))
    return ranges


def _endpoint(base_url: str, path: str) -> str:
    """Join ``base_url`` and ``path`` without doubling a shared prefix such as ``/v1``."""
    base = base_url.rstrip("/")
    if base.endswith(path):
        return base
    parts = path.strip("/").split("/")
    for n in range(len(parts), 0, -1):
        prefix = "/" + "/".join(parts[:n])
        if base.endswith(prefix):
            return base[: -len(prefix)] + path
    return base + path


class HTTPReranker(BaseReranker):
    """Rerank documents with a hosted rerank API: Jina, Cohere, DashScope or vLLM.

    Request and response shapes:

    - ``"jina"``: ``POST {base_url}/v1/rerank`` ``{model, query, documents, top_n}``
      -> ``results[].index / relevance_score``. Key: ``JINA_API_KEY``.
    - ``"cohere"``: ``POST {base_url}/v2/rerank``, same fields. Key: ``COHERE_API_KEY``
      or ``CO_API_KEY``.
    - ``"dashscope"``: ``POST {base_url}/api/v1/services/rerank/text-rerank/text-rerank``
      ``{model, input: {query, documents}, parameters: {top_n}}`` ->
      ``output.results[]``. Key: ``DASHSCOPE_API_KEY``.
    - ``"vllm"``: any Jina-compatible ``/v1/rerank`` server (vLLM, Xinference...); key
      optional (``VLLM_API_KEY``).

    429, 408 and 5xx answers, timeouts and dropped connections are retried
    ``max_retries`` times with exponential backoff (honouring ``Retry-After``). The key
    is a ``SecretStr``: it never appears in ``repr``, logs or error messages.

    Calls larger than ``max_documents_per_request`` documents (or
    ``max_characters_per_request`` characters) are split into contiguous slices, sent in
    order (async: up to ``max_concurrency`` at once) and merged; sorting, ``top_n`` and
    ``score_threshold`` apply once over all documents, so the result is the one a single
    unlimited request would return. A failing slice fails the call, and the error names
    the slice (``documents[500:1000]``) and what the server said.

    Example:
        .. code-block:: python

            from langchain_core.documents import Document
            from langchain_embedkit.rerankers import HTTPReranker

            reranker = HTTPReranker(provider="jina", top_n=1)  # key from JINA_API_KEY
            docs = [Document("Paris is in France.", id="a"), Document("BM25.", id="b")]
            best = reranker.compress_documents(docs, "Where is Paris?")
            print(best[0].id, 0.0 <= best[0].metadata["relevance_score"] <= 1.0)
            # a True

            # A local vLLM server: vllm serve BAAI/bge-reranker-v2-m3
            local = HTTPReranker(provider="vllm", base_url="http://localhost:8000",
                                 model="BAAI/bge-reranker-v2-m3")
    """

    provider: RerankProvider = "jina"
    """Which API shape to speak: ``"jina"``, ``"cohere"``, ``"dashscope"`` or ``"vllm"``."""

    model: str | None = None
    """Model name; ``None`` picks the provider's default (vLLM: the served model)."""

    api_key: SecretStr | None = None
    """API key; read from the provider's environment variable when not given."""

    base_url: str | None = None
    """Server root (a trailing ``/v1`` is fine) or the full endpoint URL."""

    max_retries: int = 3
    """Retries after the first attempt on 429/5xx/timeouts."""

    timeout: float = 30.0
    """Seconds one request may take in total, the whole reply included: a server that
    trickles its answer fails at ``timeout`` too."""

    backoff_factor: float = 0.5
    """Wait ``backoff_factor * 2 ** attempt`` seconds (plus jitter) between retries."""

    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, strict=True, gt=0)
    """Largest reply body accepted (default 16 MiB); a larger one fails the request
    instead of filling memory."""

    max_documents_per_request: int | None = Field(default=None, strict=True)
    """Most documents sent in one request; larger calls are split. When not given: the
    provider's cap (``"jina"`` 1000, ``"cohere"`` 1000, ``"dashscope"`` 500, ``"vllm"``
    256). ``None`` sends every document in one request."""

    max_characters_per_request: int | None = Field(default=None, strict=True)
    """Most characters per request, counted as ``len(query) + len(document)`` for each
    document (a character is at most about one token for Chinese and far less for
    English). When not given: 30,000 for ``"dashscope"`` (its token cap), else ``None``
    (no character limit). Raise it for English-only text to send fewer requests."""

    max_concurrency: int = Field(default=4, strict=True)
    """Async calls: how many split requests may be in flight at once."""

    http_client: Any = Field(default=None, exclude=True)
    """Optional ``httpx.Client`` (proxies, custom TLS); one is made when ``None``."""

    http_async_client: Any = Field(default=None, exclude=True)
    """Optional ``httpx.AsyncClient``; a short-lived one is made per call when ``None``."""

    # hide_input_in_errors: a validation error would otherwise echo the raw arguments,
    # api_key included, in its ``input_value``.
    model_config = ConfigDict(
        extra="forbid", arbitrary_types_allowed=True, hide_input_in_errors=True
    )

    _client: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _resolve(self) -> Self:
        if self.provider not in PROVIDERS:
            msg = (
                f"Unknown rerank provider {self.provider!r}; supported: "
                f"{', '.join(get_args(RerankProvider))}."
            )
            raise ValueError(msg)
        spec = PROVIDERS[self.provider]
        if self.model is None:
            self.model = spec.model
        if self.api_key is None:
            for var in spec.env:
                if os.environ.get(var):
                    self.api_key = SecretStr(os.environ[var])
                    break
        if self.base_url is None:
            self.base_url = spec.base_url
            if spec.key_required and self.api_key is None:
                msg = (
                    f"HTTPReranker(provider={self.provider!r}) needs an API key: pass "
                    f"api_key=... or set {' or '.join(spec.env)}. For a self-hosted "
                    "server that needs no key, pass its base_url."
                )
                raise ValueError(msg)
        if "max_documents_per_request" not in self.model_fields_set:
            self.max_documents_per_request = spec.max_documents
        if "max_characters_per_request" not in self.model_fields_set:
            self.max_characters_per_request = spec.max_characters
        for name in ("max_documents_per_request", "max_characters_per_request"):
            value = getattr(self, name)
            if value is not None and value < 1:
                msg = (
                    f"HTTPReranker {name} must be an integer >= 1, or None for no limit; "
                    f"got {value!r}."
                )
                raise ValueError(msg)
        if self.max_concurrency < 1:
            msg = f"HTTPReranker max_concurrency must be >= 1; got {self.max_concurrency!r}."
            raise ValueError(msg)
        if self.max_retries < 0 or self.timeout <= 0 or self.backoff_factor < 0:
            msg = (
                "HTTPReranker needs max_retries >= 0, timeout > 0 and backoff_factor >= 0; got "
                f"max_retries={self.max_retries}, timeout={self.timeout}, "
                f"backoff_factor={self.backoff_factor}."
            )
            raise ValueError(msg)
        return self

    @property
    def endpoint(self) -> str:
        """The URL requests go to."""
        return _endpoint(str(self.base_url), PROVIDERS[self.provider].path)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return headers

    def _body(self, query: str, texts: list[str]) -> dict[str, Any]:
        top_n = None if self.top_n is None else min(self.top_n, len(texts))
        if self.provider == "dashscope":
            parameters: dict[str, Any] = {"return_documents": False}
            if top_n is not None:
                parameters["top_n"] = top_n
            return {
                "model": self.model,
                "input": {"query": query, "documents": texts},
                "parameters": parameters,
            }
        body: dict[str, Any] = {"query": query, "documents": texts}
        if self.model is not None:
            body["model"] = self.model
        if top_n is not None:
            body["top_n"] = top_n
        if self.provider == "jina":
            body["return_documents"] = False
        return body

    def _redact(self, text: str) -> str:
        key = self.api_key.get_secret_value() if self.api_key is not None else ""
        return _http.redact(text, [key])

    def _policy(self) -> _http.Policy:
        return _http.Policy(
            timeout=self.timeout,
            max_retries=self.max_retries,
            max_bytes=self.max_response_bytes,
            backoff=self.backoff_factor,
            max_wait=_MAX_WAIT_S,
        )

    def _parse(self, reply: _http.Reply, start: int, stop: int) -> list[tuple[int, float]]:
        """Scores of ``documents[start:stop]`` as ``(index in the whole call, score)``."""
        where = "output.results" if self.provider == "dashscope" else "results"
        try:
            payload = _http.loads_strict(reply.body)
            results = payload
            for key in where.split("."):
                if not isinstance(results, dict) or key not in results:
                    msg = f"no '{where}' in the reply"
                    raise ValueError(msg)
                results = results[key]
            scored = _scores(results, stop - start)
        except ValueError as exc:
            problem = str(exc)
        else:
            return [(start + index, score) for index, score in scored]
        body = self._redact(reply.body[:300].decode("utf-8", "replace"))
        msg = (
            f"Unexpected response from {self.provider} rerank API at {self.endpoint} for "
            f"documents[{start}:{stop}]: {problem}; expected JSON with {where}[].index and "
            f"relevance_score; got {body!r}. Check provider= matches the server."
        )
        raise RerankAPIError(msg, reply.status)

    def _failure(self, failure: _http.Failure) -> RerankAPIError:
        if failure.kind != "status":
            return self._transport_failure(failure)
        status = failure.status
        env = " / ".join(PROVIDERS[self.provider].env)
        hint = {
            401: f"the API key was rejected; check api_key or {env}",
            403: "the key is not allowed to use this model or endpoint",
            404: f"no rerank endpoint here; check base_url and provider={self.provider!r}",
            413: (
                "the request is too large; lower max_documents_per_request (now "
                f"{self.max_documents_per_request}) or max_characters_per_request (now "
                f"{self.max_characters_per_request})"
            ),
            422: f"the server rejected the request body; check model={self.model!r}",
            400: (
                f"the server rejected the request; check model={self.model!r}, or lower "
                "max_documents_per_request / max_characters_per_request if the server caps "
                "request size"
            ),
        }.get(status or 0, "the server failed after retries" if failure.retried else "")
        msg = (
            f"{self.provider} rerank API at {self.endpoint} answered HTTP {status}"
            f"{': ' + hint if hint else ''}. Server said: {self._redact(failure.text(500))!r}"
        )
        return RerankAPIError(msg, status)

    def _transport_failure(self, failure: _http.Failure) -> RerankAPIError:
        if failure.kind == "too_large":
            msg = (
                f"{self.provider} rerank API at {self.endpoint} sent a reply over "
                f"max_response_bytes={self.max_response_bytes} ({failure.detail}). Lower "
                "max_documents_per_request, or raise max_response_bytes if the server "
                "echoes long documents."
            )
            return RerankAPIError(msg)
        msg = (
            f"{self.provider} rerank API at {self.endpoint} did not answer after "
            f"{failure.attempts} attempt(s): {self._redact(failure.detail)}. Check base_url, "
            "the network, or raise timeout / max_retries."
        )
        return RerankAPIError(msg)

    def _sync_client(self) -> httpx.Client:
        if self.http_client is not None:
            return self.http_client
        if self._client is None:
            httpx = require("httpx", "rerank")
            self._client = httpx.Client(timeout=self.timeout)
        return self._client

    def _ranges(self, query: str, texts: list[str]) -> list[tuple[int, int]]:
        ranges = _chunk_ranges(
            [len(t) for t in texts],
            len(query),
            self.max_documents_per_request,
            self.max_characters_per_request,
        )
        if len(ranges) > 1:
            logger.debug("splitting %d documents into %d rerank requests", len(texts), len(ranges))
        return ranges

    def _slice_failure(
        self, exc: RerankAPIError, ranges: list[tuple[int, int]], number: int, total: int
    ) -> RerankAPIError:
        if len(ranges) == 1:
            return exc
        start, stop = ranges[number]
        caps = ", ".join(
            f"{name}={getattr(self, name)}"
            for name in ("max_documents_per_request", "max_characters_per_request")
            if getattr(self, name) is not None
        )
        msg = (
            f"{self.provider} rerank failed on documents[{start}:{stop}] (request "
            f"{number + 1} of {len(ranges)}; {total} documents split by {caps}): {exc}"
        )
        return RerankAPIError(msg, exc.status_code)

    def _fail_for(
        self, ranges: list[tuple[int, int]], number: int, total: int
    ) -> Callable[[_http.Failure], Exception]:
        def fail(failure: _http.Failure) -> Exception:
            return self._slice_failure(self._failure(failure), ranges, number, total)

        return fail

    def _score(self, query: str, texts: list[str]) -> list[tuple[int, float]]:
        require("httpx", "rerank")
        client = self._sync_client()
        ranges = self._ranges(query, texts)
        scored: list[tuple[int, float]] = []
        for number, (start, stop) in enumerate(ranges):
            reply = _http.post(
                client,
                self.endpoint,
                self._body(query, texts[start:stop]),
                self._headers(),
                self._policy(),
                self._fail_for(ranges, number, len(texts)),
            )
            try:
                part = self._parse(reply, start, stop)
            except RerankAPIError as exc:
                error = self._slice_failure(exc, ranges, number, len(texts))
            else:
                scored.extend(part)
                continue
            raise error
        return scored

    async def _ascore(self, query: str, texts: list[str]) -> list[tuple[int, float]]:
        httpx = require("httpx", "rerank")
        ranges = self._ranges(query, texts)
        gate = asyncio.Semaphore(self.max_concurrency)
        client = self.http_async_client or httpx.AsyncClient(timeout=self.timeout)

        async def one(number: int) -> list[tuple[int, float]]:
            start, stop = ranges[number]
            async with gate:
                reply = await _http.apost(
                    client,
                    self.endpoint,
                    self._body(query, texts[start:stop]),
                    self._headers(),
                    self._policy(),
                    self._fail_for(ranges, number, len(texts)),
                )
            try:
                return self._parse(reply, start, stop)
            except RerankAPIError as exc:
                error = self._slice_failure(exc, ranges, number, len(texts))
            raise error

        try:
            parts = await _http.gather_or_cancel(one(n) for n in range(len(ranges)))
        finally:
            if self.http_async_client is None:
                await client.aclose()
        return [pair for part in parts for pair in part]

    def close(self) -> None:
        """Close the HTTP client this reranker opened (not one passed as ``http_client``)."""
        if self._client is not None:
            self._client.close()
            self._client = None


def _scores(results: Any, size: int) -> list[tuple[int, float]]:
    """Validated ``(index, score)`` pairs of one reply; ValueError names what is wrong.

    Example:
        >>> _scores([{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0}], 2)
        [(1, 0.9), (0, 0.0)]
        >>> _scores([{"index": True, "relevance_score": 0.9}], 2)
        Traceback (most recent call last):
        ...
        ValueError: results[0].index must be an integer in 0..1, got True
    """
    if not isinstance(results, list):
        msg = f"results must be a list, got {type(results).__name__}"
        raise ValueError(msg)
    if len(results) > size:
        msg = f"{len(results)} results for {size} documents"
        raise ValueError(msg)
    seen: set[int] = set()
    scored: list[tuple[int, float]] = []
    for position, raw in enumerate(results):
        item, index = _http.indexed_item("results", position, raw, size, seen)
        score = item.get("relevance_score")
        seen.add(index)
        if not _http.finite_number(score):
            msg = f"results[{position}].relevance_score must be a finite number, got {score!r}"
            raise ValueError(msg)
        scored.append((index, float(score)))
    return scored
