"""``OpenAICompatibleEmbeddings``: any ``/v1/embeddings`` server (OpenAI, DashScope, vLLM...).

Requests go through ``langchain_embedkit._http`` (``httpx``, imported when first used): one
retry loop shared with the rerankers, with a total deadline per request, a cap on the reply
size and backoff on 408/409/429/5xx, timeouts and dropped connections. This module adds
input checks, batching (DashScope takes at most 10 texts per request), bounded async
concurrency, order keeping, query/document instructions for asymmetric models, strict
checks of every field of the reply, and error messages that never contain a key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, get_args

from langchain_core.embeddings import Embeddings
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_serializer,
    model_validator,
)
from typing_extensions import Self

from langchain_embedkit import _endpoints, _http
from langchain_embedkit._imports import require
from langchain_embedkit.embeddings._inputs import check_query, check_texts
from langchain_embedkit.embeddings.qwen3 import QWEN3_DEFAULT_TASK
from langchain_embedkit.errors import EmbeddingAPIError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DASHSCOPE_BASE_URL",
    "EMBEDDING_PRESETS",
    "OPENAI_BASE_URL",
    "EmbeddingAPIError",
    "EmbeddingPreset",
    "OpenAICompatibleEmbeddings",
]

OPENAI_BASE_URL = _endpoints.OPENAI_BASE_URL
DASHSCOPE_BASE_URL = _endpoints.DASHSCOPE_BASE_URL
DASHSCOPE_MAX_BATCH = 10
_DEFAULT_MODEL = {"openai": "text-embedding-3-small", "dashscope": "text-embedding-v4"}
_DEFAULT_BATCH = {"openai": 256, "dashscope": DASHSCOPE_MAX_BATCH}
DEFAULT_MAX_RESPONSE_BYTES = 64 * 2**20

EmbeddingPreset = Literal["qwen3", "e5"]
"""Query/document instructions of well-known asymmetric models served over this API."""

EMBEDDING_PRESETS: dict[str, tuple[str, str]] = {
    # Qwen3-Embedding: an instruction on queries only (as Qwen3Embeddings does locally).
    "qwen3": (f"Instruct: {QWEN3_DEFAULT_TASK}\nQuery:", ""),
    # e5 / multilingual-e5: a prefix on both sides.
    "e5": ("query: ", "passage: "),
}
"""``preset`` name -> (query instruction, document instruction)."""

Side = Literal["query", "document"]


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

    # hide_input_in_errors: a validation error would otherwise echo the key and headers.
    model_config = ConfigDict(extra="forbid", protected_namespaces=(), hide_input_in_errors=True)

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
    """Seconds one request may take in total (connecting, sending, the whole reply) before
    it counts as timed out and is retried: a server that trickles its answer fails too."""

    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, gt=0)
    """Largest reply body accepted (default 64 MiB, about 11,000 vectors of 1,024 floats);
    a larger one fails the batch instead of filling memory."""

    max_concurrency: int = Field(default=4, gt=0)
    """Most batches in flight at once in ``aembed_documents``."""

    default_headers: dict[str, str] = Field(default_factory=dict)
    """Extra HTTP headers sent with every request (e.g. for a gateway). Values of headers
    whose name suggests a secret (``Authorization``, ``*key*``, ``*token*``, ``*secret*``,
    ``Cookie``) are masked in repr, dumps, logs and errors."""

    preset: EmbeddingPreset | None = None
    """Instructions of a known asymmetric model: ``"qwen3"`` (``Instruct: {task}\nQuery:``
    before queries only) or ``"e5"`` (``query: `` / ``passage: ``). ``query_instruction``
    and ``document_instruction``, when given, win over the preset."""

    query_instruction: str | None = None
    """Text put before every query (``embed_query``, ``encode_queries``)."""

    document_instruction: str | None = None
    """Text put before every document (``embed_documents``, ``encode_documents``)."""

    query_model: str | None = None
    """Served model name for queries, for servers that pick the side by model name (e.g.
    ``e5-query`` beside ``e5-passage``); None sends ``model`` for both."""

    _client: httpx.Client | None = PrivateAttr(default=None)
    _dim: int | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _resolve_provider(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        preset = data.get("preset")
        if preset is not None:
            if preset not in get_args(EmbeddingPreset):
                choices = ", ".join(repr(p) for p in get_args(EmbeddingPreset))
                msg = (
                    f"Unknown preset {preset!r}; supported: {choices}, or None with "
                    "query_instruction=/document_instruction= for another model."
                )
                raise ValueError(msg)
            query, document = EMBEDDING_PRESETS[preset]
            if data.get("query_instruction") is None:
                data["query_instruction"] = query
            if data.get("document_instruction") is None:
                data["document_instruction"] = document
        model = data.get("model")
        has_key = data.get("api_key") is not None
        endpoint = _endpoints.resolve_endpoint(
            data.get("base_url"),
            dashscope_hint=isinstance(model, str) and model.startswith("text-embedding-v"),
            key_given=has_key,
        )
        provider = endpoint.provider
        if model is None:
            data["model"] = _DEFAULT_MODEL[provider]
        data["base_url"] = endpoint.base_url
        if not has_key and endpoint.api_key is not None:
            data["api_key"] = endpoint.api_key
        if not data.get("batch_size"):
            data["batch_size"] = _DEFAULT_BATCH[provider]
        return data

    @model_validator(mode="after")
    def _check(self) -> Self:
        url = (self.base_url or "").rstrip("/")
        hosted = {v: k for k, v in _endpoints.PUBLIC_BASE_URL.items()}.get(url)
        if self.api_key is None and hosted is not None:
            msg = (
                f"No API key for {url}: pass api_key=... or set {_endpoints.API_KEY_ENV[hosted]}. "
                "A self-hosted server (vLLM, TEI) needs none: pass its base_url instead."
            )
            raise ValueError(msg)
        if _endpoints.is_dashscope_url(url) and self.batch_size > DASHSCOPE_MAX_BATCH:
            msg = (
                f"batch_size={self.batch_size} is too large for DashScope, which accepts at "
                f"most {DASHSCOPE_MAX_BATCH} texts per request (HTTP 400 otherwise). "
                f"Use batch_size={DASHSCOPE_MAX_BATCH} or less (the default)."
            )
            raise ValueError(msg)
        return self

    # -- secrecy --------------------------------------------------------------------------

    @field_serializer("default_headers")
    def _dump_headers(self, headers: dict[str, str]) -> dict[str, str]:
        return _http.mask_headers(headers)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name == "default_headers" and isinstance(value, dict):
                yield name, _http.mask_headers(value)
            else:
                yield name, value

    def _secrets(self) -> list[str]:
        secrets = [v for k, v in self.default_headers.items() if _http.is_secret_header(k)]
        if self.api_key is not None:
            secrets.append(self.api_key.get_secret_value())
        return secrets

    # -- clients --------------------------------------------------------------------------

    @property
    def _url(self) -> str:
        return f"{str(self.base_url).rstrip('/')}/embeddings"

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        headers.update(self.default_headers)
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return headers

    def _policy(self) -> _http.Policy:
        return _http.Policy(
            timeout=self.timeout,
            max_retries=self.max_retries,
            max_bytes=self.max_response_bytes,
        )

    def _sync_client(self) -> httpx.Client:
        if self._client is None:
            httpx = require("httpx", "openai")
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        return self._client

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

    def _side_model(self, side: Side) -> str:
        return (self.query_model or self.model) if side == "query" else self.model

    def _payload(self, batch: list[str], side: Side) -> dict[str, Any]:
        prefix = (self.query_instruction if side == "query" else self.document_instruction) or ""
        payload: dict[str, Any] = {
            "model": self._side_model(side),
            "input": [prefix + text for text in batch],
            "encoding_format": "float",
        }
        if self.dimensions is not None:
            payload["dimensions"] = self.dimensions
        return payload

    def _where(self, side: Side, batch_no: int, batches: int, size: int) -> str:
        return (
            f"Embedding request to {self._url} (model {self._side_model(side)!r}, batch "
            f"{batch_no} of {batches}, {size} texts)"
        )

    def _failure(
        self, failure: _http.Failure, side: Side, batch_no: int, batches: int, size: int
    ) -> EmbeddingAPIError:
        status = failure.status
        if failure.kind == "timeout":
            what = f"timed out after {self.timeout:g} s"
            fix = "Raise timeout=, lower batch_size=, or check the server's load."
        elif failure.kind == "connect":
            what = "could not connect"
            fix = "Check base_url and that the server is running and reachable."
        elif failure.kind == "too_large":
            what = f"got a reply over max_response_bytes={self.max_response_bytes}"
            fix = "Lower batch_size= or dimensions=, or raise max_response_bytes=."
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
            what = f"failed with HTTP {status}"
            fix = "Check model, dimensions and the inputs against the server's limits."
        spent = failure.retried and self.max_retries > 0
        retried = f" after {self.max_retries} retries" if spent else ""
        msg = (
            f"{self._where(side, batch_no, batches, size)} {what}{retried}: {failure.text()}. {fix}"
        )
        return EmbeddingAPIError(_http.redact(msg, self._secrets()), status_code=status)

    def _parse(
        self, reply: _http.Reply, batch: list[str], side: Side, batch_no: int, batches: int
    ) -> list[list[float]]:
        try:
            payload = _http.loads_strict(reply.body)
            vectors = _vectors(payload, len(batch), self.dimensions)
        except ValueError as exc:
            problem = str(exc)
        else:
            return vectors
        body = _http.redact(reply.body[:200].decode("utf-8", "replace"), self._secrets())
        msg = (
            f"{self._where(side, batch_no, batches, len(batch))} got an unusable HTTP "
            f"{reply.status} reply: {problem}. The body began {body!r}. Check that base_url "
            "points at an OpenAI-compatible /v1/embeddings server"
            + (" that supports dimensions=." if "dimensions=" in problem else ".")
        )
        raise EmbeddingAPIError(msg, status_code=reply.status)

    def _embed(self, items: list[str], side: Side) -> list[list[float]]:
        if not items:
            return []
        client = self._sync_client()
        batches = self._batches(items)
        vectors: list[list[float]] = []
        for number, batch in enumerate(batches, start=1):

            def fail(failure: _http.Failure, n: int = number, size: int = len(batch)) -> Exception:
                return self._failure(failure, side, n, len(batches), size)

            reply = _http.post(
                client,
                self._url,
                self._payload(batch, side),
                self._headers(),
                self._policy(),
                fail,
            )
            vectors.extend(self._parse(reply, batch, side, number, len(batches)))
        return self._same_size(vectors, side)

    async def _aembed(self, items: list[str], side: Side) -> list[list[float]]:
        if not items:
            return []
        httpx = require("httpx", "openai")
        batches = self._batches(items)
        gate = asyncio.Semaphore(self.max_concurrency)
        # One client per call: an async HTTP pool belongs to the event loop that made it.
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:

            async def run(number: int, batch: list[str]) -> list[list[float]]:
                def fail(failure: _http.Failure) -> Exception:
                    return self._failure(failure, side, number, len(batches), len(batch))

                async with gate:
                    reply = await _http.apost(
                        client,
                        self._url,
                        self._payload(batch, side),
                        self._headers(),
                        self._policy(),
                        fail,
                    )
                return self._parse(reply, batch, side, number, len(batches))

            results = await _http.gather_or_cancel(
                run(number, batch) for number, batch in enumerate(batches, start=1)
            )
        return self._same_size([v for result in results for v in result], side)

    def _same_size(self, vectors: list[list[float]], side: Side) -> list[list[float]]:
        sizes = sorted({len(v) for v in vectors})
        if len(sizes) > 1:
            msg = (
                f"Server at {self._url} (model {self._side_model(side)!r}) returned vectors "
                f"of different sizes {sizes[:5]} in one call; a store needs one size. Check "
                "that every replica serves the same model, or set dimensions=."
            )
            raise EmbeddingAPIError(msg)
        if self._dim is None and vectors:
            self._dim = len(vectors[0])
        return vectors

    # -- public API -----------------------------------------------------------------------

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts in batches of ``batch_size``, one vector per text in input order.

        ``document_instruction`` (or the preset's) is put before each text.
        """
        return self._embed(self._check_inputs(texts, "embed_documents"), "document")

    def embed_query(self, text: str) -> list[float]:
        """Embed one query, with ``query_instruction`` and ``query_model`` when set."""
        item = check_query(text, method="embed_query")
        return self._embed([item], "query")[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts with up to ``max_concurrency`` batch requests in flight, in order."""
        return await self._aembed(self._check_inputs(texts, "aembed_documents"), "document")

    async def aembed_query(self, text: str) -> list[float]:
        """Async twin of ``embed_query``."""
        item = check_query(text, method="aembed_query")
        return (await self._aembed([item], "query"))[0]

    def encode_documents(self, documents: list[str]) -> list[list[float]]:
        """pymilvus-model name for :meth:`embed_documents`.

        Example:
            >>> OpenAICompatibleEmbeddings(
            ...     model="m", base_url="http://127.0.0.1:9/v1"
            ... ).encode_documents([])
            []
        """
        return self._embed(self._check_inputs(documents, "encode_documents"), "document")

    def encode_queries(self, queries: list[str]) -> list[list[float]]:
        """Embed several queries (query instruction and ``query_model``), in batches."""
        return self._embed(self._check_inputs(queries, "encode_queries"), "query")

    @property
    def dim(self) -> int:
        """Vector size: ``dimensions`` when set, else learnt from the first answer.

        When nothing has been embedded yet, one probe request embeds a short text; the
        size is then cached on this instance.
        """
        if self.dimensions is not None:
            return self.dimensions
        if self._dim is None:
            self._embed(["dimension probe"], "document")
        assert self._dim is not None
        return self._dim

    def close(self) -> None:
        """Close the HTTP connection pool used by the sync methods (reopened when needed)."""
        if self._client is not None:
            self._client.close()
            self._client = None


def _vectors(payload: Any, count: int, dimensions: int | None) -> list[list[float]]:
    """The vectors of an embeddings reply in input order; ValueError names what is wrong.

    Example:
        >>> _vectors({"data": [{"index": 1, "embedding": [3]}, {"index": 0, "embedding": [1]}]},
        ...          2, None)
        [[1.0], [3.0]]
    """
    if not isinstance(payload, dict):
        msg = f"expected a JSON object with 'data', got {type(payload).__name__}"
        raise ValueError(msg)
    data = payload.get("data")
    if not isinstance(data, list):
        msg = f"'data' must be a list, got {type(data).__name__}"
        raise ValueError(msg)
    if len(data) != count:
        msg = f"{len(data)} embeddings for {count} texts; expected one per text"
        raise ValueError(msg)
    by_index: dict[int, list[float]] = {}
    for position, raw in enumerate(data):
        item, index = _http.indexed_item("data", position, raw, count, by_index)
        embedding = item.get("embedding")
        if not isinstance(embedding, list) or not embedding:
            shown = type(embedding).__name__ if embedding is not None else "missing"
            msg = f"data[{position}].embedding must be a non-empty list of numbers, got {shown}"
            raise ValueError(msg)
        if not all(_http.finite_number(x) for x in embedding):
            bad = next(x for x in embedding if not _http.finite_number(x))
            msg = f"data[{position}].embedding holds {bad!r}; expected finite numbers"
            raise ValueError(msg)
        by_index[index] = [float(x) for x in embedding]
    vectors = [by_index[i] for i in range(count)]
    sizes = sorted({len(v) for v in vectors})
    if len(sizes) > 1:
        msg = f"vectors of different sizes {sizes[:5]} in one reply"
        raise ValueError(msg)
    if dimensions is not None and sizes[0] != dimensions:
        msg = (
            f"asked for dimensions={dimensions} but the server returned vectors of size {sizes[0]}"
        )
        raise ValueError(msg)
    return vectors
