"""``OpenAICompatibleEmbeddings``: any ``/v1/embeddings`` server (OpenAI, DashScope, vLLM...).

It is built on the ``openai`` SDK (imported when first used), which already does what a
careful client needs: retries with exponential backoff and jitter on 408/409/429/5xx,
connection errors and timeouts, honouring ``Retry-After``; one tested code path for sync and
async. This class adds what the SDK leaves to callers: input checks, batching (DashScope takes
at most 10 texts per request), bounded async concurrency, order keeping, response checks and
error messages that never contain the key.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator
from typing_extensions import Self

from langchain_embedkit._imports import require
from langchain_embedkit.embeddings._inputs import check_query, check_texts
from langchain_embedkit.errors import EmbedKitError

if TYPE_CHECKING:
    from openai import AsyncOpenAI, OpenAI

__all__ = [
    "DASHSCOPE_BASE_URL",
    "OPENAI_BASE_URL",
    "EmbeddingAPIError",
    "OpenAICompatibleEmbeddings",
]

OPENAI_BASE_URL = "https://api.openai.com/v1"
DASHSCOPE_BASE_URL = "https://dashscope.aliyuncs.com/compatible-mode/v1"
DASHSCOPE_MAX_BATCH = 10
_DEFAULT_MODEL = {"openai": "text-embedding-3-small", "dashscope": "text-embedding-v4"}
_DEFAULT_BATCH = {"openai": 256, "dashscope": DASHSCOPE_MAX_BATCH}
_HOSTED = {"openai": OPENAI_BASE_URL, "dashscope": DASHSCOPE_BASE_URL}
_KEY_ENV = {"openai": "OPENAI_API_KEY", "dashscope": "DASHSCOPE_API_KEY"}
# Sent when a self-hosted server (vLLM, TEI, llama.cpp) needs no key: the SDK wants one.
_NO_KEY = "EMPTY"


class EmbeddingAPIError(EmbedKitError, RuntimeError):
    """An embeddings request failed after its retries, or the server answered nonsense.

    The message says which batch failed, why, and what to change; it never contains the key.

    Attributes:
        status_code: HTTP status of the last answer, or None (timeout, connection error).

    Example:
        >>> error = EmbeddingAPIError("rate-limited (HTTP 429)", status_code=429)
        >>> error.status_code, isinstance(error, RuntimeError)
        (429, True)
    """

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value or None


def _is_dashscope_url(url: str | None) -> bool:
    return bool(url) and "dashscope" in str(url).lower()


class OpenAICompatibleEmbeddings(BaseModel, Embeddings):
    """Embeddings from any OpenAI-compatible ``/v1/embeddings`` API.

    Works with OpenAI (``text-embedding-3-*``), Alibaba DashScope (``text-embedding-v3``/
    ``v4`` through its compatible mode), vLLM, TEI, Ollama or any server that speaks the same
    API. The key is read from ``OPENAI_API_KEY`` or ``DASHSCOPE_API_KEY`` and the base URL from
    ``OPENAI_BASE_URL`` / ``DASHSCOPE_BASE_URL``. DashScope defaults (its URL, key, model
    ``text-embedding-v4``, 10 texts per request) apply when the model name starts with
    ``text-embedding-v``, the base URL is DashScope's, or only ``DASHSCOPE_API_KEY`` is set.

    Texts are sent as raw strings (never token arrays) with ``encoding_format="float"``, split
    into batches of ``batch_size``; failed requests (429, 5xx, timeouts, dropped connections)
    are retried with backoff. Async calls run up to ``max_concurrency`` batches at once. Order
    is kept and an empty list makes no request. Empty strings raise ``ValueError`` before any
    request, because hosted APIs reject them with HTTP 400.

    Example:
        >>> from langchain_embedkit.embeddings import OpenAICompatibleEmbeddings
        >>> embeddings = OpenAICompatibleEmbeddings(
        ...     model="text-embedding-v4", api_key="sk-...", dimensions=512
        ... )
        >>> embeddings.base_url, embeddings.batch_size
        ('https://dashscope.aliyuncs.com/compatible-mode/v1', 10)
        >>> len(embeddings.embed_query("什么是向量检索？"))  # doctest: +SKIP
        512
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = _DEFAULT_MODEL["openai"]
    """Model name, e.g. ``text-embedding-3-small`` or ``text-embedding-v4``. Defaults to
    ``text-embedding-v4`` where DashScope defaults apply."""

    api_key: SecretStr | None = None
    """API key; defaults to ``DASHSCOPE_API_KEY`` where DashScope defaults apply, else
    ``OPENAI_API_KEY``. Optional for a self-hosted ``base_url``. Never shown in repr, logs or
    errors."""

    base_url: str | None = None
    """API root ending in ``/v1`` (the client adds ``/embeddings``); defaults to
    ``OPENAI_BASE_URL``/``DASHSCOPE_BASE_URL``, else the provider's public URL."""

    dimensions: int | None = Field(default=None, gt=0)
    """Output size sent as ``dimensions`` (text-embedding-3-*, DashScope v3/v4); None lets the
    server pick. A server that returns another size raises ``EmbeddingAPIError``."""

    batch_size: int = Field(default=0, ge=0)
    """Texts per request; 0 (default) means 10 for DashScope, whose API allows no more,
    and 256 elsewhere."""

    max_retries: int = Field(default=3, ge=0)
    """Retries per request on 408/409/429/5xx, timeouts and connection errors, with
    exponential backoff (0.5 s doubling, max 8 s, jittered) or the server's Retry-After."""

    timeout: float = Field(default=60.0, gt=0)
    """Seconds to wait for one request before it counts as timed out (and is retried)."""

    max_concurrency: int = Field(default=4, gt=0)
    """Most batches in flight at once in ``aembed_documents``."""

    default_headers: dict[str, str] = Field(default_factory=dict)
    """Extra HTTP headers sent with every request (e.g. for a gateway)."""

    _client: OpenAI | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _resolve_provider(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        model = data.get("model")
        base_url = data.get("base_url")
        has_key = data.get("api_key") is not None
        # "Only the DashScope key is set": nothing in the environment points at OpenAI.
        only_dashscope_key = (
            bool(_env("DASHSCOPE_API_KEY"))
            and not _env("OPENAI_API_KEY")
            and not _env("OPENAI_BASE_URL")
        )
        dashscope = (
            (isinstance(model, str) and model.startswith("text-embedding-v"))
            or _is_dashscope_url(base_url)
            or (base_url is None and not has_key and only_dashscope_key)
        )
        provider = "dashscope" if dashscope else "openai"
        if model is None:
            data["model"] = _DEFAULT_MODEL[provider]
        if base_url is None:
            if provider == "dashscope":
                data["base_url"] = _env("DASHSCOPE_BASE_URL") or DASHSCOPE_BASE_URL
            else:
                data["base_url"] = _env("OPENAI_BASE_URL") or OPENAI_BASE_URL
        if not has_key:
            # Each provider reads only its own variable, so a key is never sent to the
            # other provider's (or a self-hosted) server.
            key = _env(_KEY_ENV[provider])
            if key is not None:
                data["api_key"] = key
        if not data.get("batch_size"):
            data["batch_size"] = _DEFAULT_BATCH[provider]
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        url = (self.base_url or "").rstrip("/")
        hosted = {v: k for k, v in _HOSTED.items()}.get(url)
        if self.api_key is None and hosted is not None:
            msg = (
                f"No API key for {url}: pass api_key=... or set {_KEY_ENV[hosted]}. "
                "A self-hosted server (vLLM, TEI) needs none: pass its base_url instead."
            )
            raise ValueError(msg)
        if _is_dashscope_url(url) and self.batch_size > DASHSCOPE_MAX_BATCH:
            msg = (
                f"batch_size={self.batch_size} is too large for DashScope, which accepts at "
                f"most {DASHSCOPE_MAX_BATCH} texts per request (HTTP 400 otherwise). "
                f"Use batch_size={DASHSCOPE_MAX_BATCH} or less (the default)."
            )
            raise ValueError(msg)
        return self

    # -- clients --------------------------------------------------------------------------

    def _client_kwargs(self) -> dict[str, Any]:
        key = self.api_key.get_secret_value() if self.api_key is not None else _NO_KEY
        return {
            "api_key": key,
            "base_url": self.base_url,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "default_headers": dict(self.default_headers) or None,
        }

    def _sync_client(self) -> OpenAI:
        if self._client is None:
            openai = require("openai", "openai")
            self._client = openai.OpenAI(**self._client_kwargs())
        return self._client

    def _async_client(self) -> AsyncOpenAI:
        # One per call: an async HTTP pool belongs to the event loop that created it.
        openai = require("openai", "openai")
        return openai.AsyncOpenAI(**self._client_kwargs())

    # -- requests -------------------------------------------------------------------------

    def _check_inputs(self, texts: Any, method: str) -> list[str]:
        items = check_texts(texts, method=method)
        for index, item in enumerate(items):
            if not item:
                msg = (
                    f"{method}() item {index} is an empty string; OpenAI-compatible APIs "
                    "reject empty input (HTTP 400). Drop empty texts before embedding, or "
                    "replace them (e.g. with a title or a single space)."
                )
                raise ValueError(msg)
        return items

    def _batches(self, items: list[str]) -> list[list[str]]:
        size = self.batch_size
        return [items[i : i + size] for i in range(0, len(items), size)]

    def _request_kwargs(self, batch: list[str]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "input": batch,
            "encoding_format": "float",
        }
        if self.dimensions is not None:
            kwargs["dimensions"] = self.dimensions
        return kwargs

    def _scrub(self, text: str) -> str:
        if self.api_key is not None:
            secret = self.api_key.get_secret_value()
            if secret:
                text = text.replace(secret, "**********")
        return text

    def _failure(self, exc: Exception, batch_no: int, batches: int, size: int) -> EmbeddingAPIError:
        openai = require("openai", "openai")
        status = getattr(exc, "status_code", None)
        if isinstance(exc, openai.APITimeoutError):
            what = f"timed out after {self.timeout:g} s"
            fix = "Raise timeout=, lower batch_size=, or check the server's load."
        elif isinstance(exc, openai.APIConnectionError):
            what = "could not connect"
            fix = "Check base_url and that the server is running and reachable."
        elif status in (401, 403):
            what = f"was refused with HTTP {status}"
            fix = "Check api_key (or OPENAI_API_KEY / DASHSCOPE_API_KEY) and its permissions."
        elif status == 429:
            what = "was rate-limited (HTTP 429)"
            fix = "Lower max_concurrency/batch_size, raise max_retries, or check your quota."
        elif status is not None and status >= 500:
            what = f"failed with HTTP {status}"
            fix = "The server failed; raise max_retries or try again later."
        else:
            what = f"failed with HTTP {status}" if status else f"failed ({type(exc).__name__})"
            fix = "Check model, dimensions and the inputs against the server's limits."
        detail = str(getattr(exc, "message", "") or exc)
        if len(detail) > 300:
            detail = detail[:297] + "..."
        # The SDK retries 408, 409, 429 and 5xx; other 4xx answers are final.
        final = status is not None and 400 <= status < 500 and status not in (408, 409, 429)
        retried = "" if final else f" after {self.max_retries} retries"
        msg = (
            f"Embedding request to {self.base_url} (model {self.model!r}, batch {batch_no} of "
            f"{batches}, {size} texts) {what}{retried}: {detail}. {fix}"
        )
        return EmbeddingAPIError(self._scrub(msg), status_code=status)

    def _parse(self, response: Any, batch: list[str], batch_no: int) -> list[list[float]]:
        data = sorted(response.data, key=lambda item: item.index)
        if [item.index for item in data] != list(range(len(batch))):
            msg = (
                f"Server at {self.base_url} answered batch {batch_no} ({len(batch)} texts) with "
                f"{len(data)} embeddings (indices {[item.index for item in data][:10]}); "
                "expected one per text. Check that the server implements /v1/embeddings."
            )
            raise EmbeddingAPIError(msg)
        vectors = [[float(x) for x in item.embedding] for item in data]
        if self.dimensions is not None and any(len(v) != self.dimensions for v in vectors):
            msg = (
                f"Asked for dimensions={self.dimensions} but {self.base_url} returned vectors "
                f"of size {len(vectors[0])} for model {self.model!r}. Use a model that "
                "supports dimensions (text-embedding-3-*, text-embedding-v3/v4), or "
                "dimensions=None."
            )
            raise EmbeddingAPIError(msg)
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts in batches of ``batch_size``, one vector per text in input order."""
        items = self._check_inputs(texts, "embed_documents")
        if not items:
            return []
        openai = require("openai", "openai")
        client = self._sync_client()
        batches = self._batches(items)
        vectors: list[list[float]] = []
        for number, batch in enumerate(batches, start=1):
            try:
                response = client.embeddings.create(**self._request_kwargs(batch))
            except openai.OpenAIError as exc:
                raise self._failure(exc, number, len(batches), len(batch)) from None
            vectors.extend(self._parse(response, batch, number))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one query (the same request as for a document)."""
        item = check_query(text, method="embed_query")
        return self.embed_documents([item])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts with up to ``max_concurrency`` batch requests in flight, in order."""
        items = self._check_inputs(texts, "aembed_documents")
        if not items:
            return []
        openai = require("openai", "openai")
        batches = self._batches(items)
        gate = asyncio.Semaphore(self.max_concurrency)
        async with self._async_client() as client:

            async def run(number: int, batch: list[str]) -> list[list[float]]:
                async with gate:
                    try:
                        response = await client.embeddings.create(**self._request_kwargs(batch))
                    except openai.OpenAIError as exc:
                        raise self._failure(exc, number, len(batches), len(batch)) from None
                return self._parse(response, batch, number)

            tasks = [
                asyncio.ensure_future(run(number, batch))
                for number, batch in enumerate(batches, start=1)
            ]
            try:
                results = await asyncio.gather(*tasks)
            except BaseException:
                # Stop the other batches before the client closes under them.
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
        return [vector for result in results for vector in result]

    async def aembed_query(self, text: str) -> list[float]:
        """Async twin of ``embed_query``."""
        item = check_query(text, method="aembed_query")
        return (await self.aembed_documents([item]))[0]
