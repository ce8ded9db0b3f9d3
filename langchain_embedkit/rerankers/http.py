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
import contextlib
import logging
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, model_validator
from typing_extensions import Self

from langchain_embedkit._imports import require
from langchain_embedkit.errors import EmbedKitError
from langchain_embedkit.rerankers.base import BaseReranker

if TYPE_CHECKING:
    import httpx

__all__ = ["PROVIDERS", "HTTPReranker", "RerankAPIError", "RerankProvider"]

logger = logging.getLogger(__name__)

RerankProvider = Literal["jina", "cohere", "dashscope", "vllm"]

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses retried with backoff; other errors fail at once."""

_MAX_WAIT_S = 30.0


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
        "https://api.jina.ai", "/v1/rerank", ("JINA_API_KEY",),
        "jina-reranker-v2-base-multilingual", True, max_documents=1000,
    ),
    "cohere": _Provider(
        "https://api.cohere.com", "/v2/rerank", ("COHERE_API_KEY", "CO_API_KEY"),
        "rerank-v3.5", True, max_documents=1000,
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


class RerankAPIError(EmbedKitError, RuntimeError):
    """A rerank API answered with an error, an unexpected body, or not at all."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        """HTTP status, or ``None`` when no response came back."""


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
    """Seconds to wait for each request."""

    backoff_factor: float = 0.5
    """Wait ``backoff_factor * 2 ** attempt`` seconds (plus jitter) between retries."""

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
                f"{', '.join(sorted(PROVIDERS))}."
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
        if self.api_key is not None and self.api_key.get_secret_value():
            text = text.replace(self.api_key.get_secret_value(), "**********")
        return text

    def _parse(self, response: httpx.Response) -> list[tuple[int, float]]:
        try:
            payload = response.json()
            results = payload["output"]["results"] if self.provider == "dashscope" else (
                payload["results"]
            )
            return [(int(r["index"]), float(r["relevance_score"])) for r in results]
        except (ValueError, KeyError, TypeError) as exc:
            where = "output.results" if self.provider == "dashscope" else "results"
            msg = (
                f"Unexpected response from {self.provider} rerank API at {self.endpoint}: "
                f"expected JSON with {where}[].index and relevance_score; got "
                f"{self._redact(response.text)[:300]!r}. Check provider= matches the server."
            )
            raise RerankAPIError(msg, response.status_code) from exc

    def _wait(self, attempt: int, response: httpx.Response | None) -> float:
        wait = self.backoff_factor * (2**attempt) + random.uniform(0, self.backoff_factor)
        if response is not None:
            retry_after = response.headers.get("Retry-After")
            # An HTTP-date Retry-After is ignored: our own backoff applies.
            with contextlib.suppress(TypeError, ValueError):
                wait = max(wait, float(retry_after))
        return min(wait, _MAX_WAIT_S)

    def _failure(self, response: httpx.Response) -> RerankAPIError:
        status = response.status_code
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
        }.get(status, "the server failed after retries" if status in RETRY_STATUS else "")
        msg = (
            f"{self.provider} rerank API at {self.endpoint} answered HTTP {status}"
            f"{': ' + hint if hint else ''}. Server said: {self._redact(response.text)[:500]!r}"
        )
        return RerankAPIError(msg, status)

    def _transport_failure(self, exc: Exception, attempts: int) -> RerankAPIError:
        msg = (
            f"{self.provider} rerank API at {self.endpoint} did not answer after {attempts} "
            f"attempt(s): {type(exc).__name__}: {self._redact(str(exc))}. Check base_url, "
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

    def _shift(
        self, scored: list[tuple[int, float]], start: int, stop: int, split: bool
    ) -> list[tuple[int, float]]:
        """Map a slice's result indices back to positions in the whole call."""
        if not split:
            return scored  # BaseReranker checks indices against the documents sent
        size = stop - start
        for index, _ in scored:
            if not 0 <= index < size:
                msg = (
                    f"{self.provider} rerank API at {self.endpoint} answered index {index} "
                    f"for a request of {size} documents (documents[{start}:{stop}]); "
                    f"valid: 0..{size - 1}. Check provider= matches the server."
                )
                raise RerankAPIError(msg)
        return [(start + index, score) for index, score in scored]

    def _slice_failure(
        self, exc: RerankAPIError, ranges: list[tuple[int, int]], number: int, total: int
    ) -> RerankAPIError:
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

    def _post(self, client: httpx.Client, query: str, texts: list[str]) -> list[tuple[int, float]]:
        httpx = require("httpx", "rerank")
        body, headers = self._body(query, texts), self._headers()
        for attempt in range(self.max_retries + 1):
            try:
                response = client.post(self.endpoint, json=body, headers=headers,
                                       timeout=self.timeout)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt == self.max_retries:
                    raise self._transport_failure(exc, attempt + 1) from exc
                logger.info("rerank request failed (%s); retrying", type(exc).__name__)
                time.sleep(self._wait(attempt, None))
                continue
            if response.status_code in RETRY_STATUS and attempt < self.max_retries:
                logger.info("rerank API answered %s; retrying", response.status_code)
                time.sleep(self._wait(attempt, response))
                continue
            if response.status_code >= 400:
                raise self._failure(response)
            return self._parse(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _apost(
        self, client: httpx.AsyncClient, query: str, texts: list[str]
    ) -> list[tuple[int, float]]:
        httpx = require("httpx", "rerank")
        body, headers = self._body(query, texts), self._headers()
        for attempt in range(self.max_retries + 1):
            try:
                response = await client.post(self.endpoint, json=body, headers=headers,
                                             timeout=self.timeout)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt == self.max_retries:
                    raise self._transport_failure(exc, attempt + 1) from exc
                logger.info("rerank request failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(self._wait(attempt, None))
                continue
            if response.status_code in RETRY_STATUS and attempt < self.max_retries:
                logger.info("rerank API answered %s; retrying", response.status_code)
                await asyncio.sleep(self._wait(attempt, response))
                continue
            if response.status_code >= 400:
                raise self._failure(response)
            return self._parse(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _score(self, query: str, texts: list[str]) -> list[tuple[int, float]]:
        client = self._sync_client()
        ranges = self._ranges(query, texts)
        split = len(ranges) > 1
        scored: list[tuple[int, float]] = []
        for number, (start, stop) in enumerate(ranges):
            try:
                part = self._post(client, query, texts[start:stop])
            except RerankAPIError as exc:
                if not split:
                    raise
                raise self._slice_failure(exc, ranges, number, len(texts)) from exc
            scored.extend(self._shift(part, start, stop, split))
        return scored

    async def _ascore(self, query: str, texts: list[str]) -> list[tuple[int, float]]:
        httpx = require("httpx", "rerank")
        ranges = self._ranges(query, texts)
        split = len(ranges) > 1
        gate = asyncio.Semaphore(self.max_concurrency)
        client = self.http_async_client or httpx.AsyncClient(timeout=self.timeout)

        async def one(number: int) -> list[tuple[int, float]]:
            start, stop = ranges[number]
            async with gate:
                try:
                    part = await self._apost(client, query, texts[start:stop])
                except RerankAPIError as exc:
                    if not split:
                        raise
                    raise self._slice_failure(exc, ranges, number, len(texts)) from exc
            return self._shift(part, start, stop, split)

        try:
            tasks = [asyncio.ensure_future(one(n)) for n in range(len(ranges))]
            try:
                parts = await asyncio.gather(*tasks)
            except BaseException:
                # One slice failed (or the caller cancelled): stop the others before the
                # client closes under them.
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
        finally:
            if self.http_async_client is None:
                await client.aclose()
        return [pair for part in parts for pair in part]

    def close(self) -> None:
        """Close the HTTP client this reranker opened (not one passed as ``http_client``)."""
        if self._client is not None:
            self._client.close()
            self._client = None
