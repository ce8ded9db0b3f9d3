"""What the HTTP API clients share: one retry loop, bounded replies, strict JSON, masking.

Every request gets a total deadline (connect, upload, headers and body together: a server
that sends its headers and then one byte a second fails at ``timeout``), a cap on the reply
size (checked against ``Content-Length`` and again while reading), and retries with
exponential backoff on 408/409/429/5xx, timeouts and dropped connections, honouring
``Retry-After`` / ``retry-after-ms``. Failures come back as a :class:`Failure` description
that each client turns into its own error type; no exception from ``httpx`` (which holds
the request and its headers) is ever chained to what the caller sees.

``httpx`` is imported when a request is first made.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import math
import random
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeGuard, TypeVar

from langchain_embedkit._imports import require

if TYPE_CHECKING:
    import httpx

__all__ = [
    "MASK",
    "RETRY_STATUS",
    "Failure",
    "Policy",
    "Reply",
    "apost",
    "finite_number",
    "gather_or_cancel",
    "indexed_item",
    "is_secret_header",
    "loads_strict",
    "mask_headers",
    "post",
    "redact",
]

logger = logging.getLogger("langchain_embedkit.http")

T = TypeVar("T")

MASK = "**********"
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
"""HTTP statuses retried with backoff; other errors are final."""

_SECRET_WORDS = ("authorization", "key", "token", "secret", "cookie", "password", "auth")


def is_secret_header(name: str) -> bool:
    """Whether a header's name suggests it carries a credential.

    Example:
        >>> [is_secret_header(n) for n in ("Authorization", "X-Gateway-Key", "X-Trace-Id")]
        [True, True, False]
    """
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with every secret-bearing value replaced by ``MASK``.

    Example:
        >>> mask_headers({"X-Api-Key": "sk-1", "X-Team": "search"})
        {'X-Api-Key': '**********', 'X-Team': 'search'}
    """
    return {name: MASK if is_secret_header(name) else value for name, value in headers.items()}


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each non-empty secret in ``text`` by ``MASK``.

    Example:
        >>> redact("invalid key 'Bearer sk-123'", ["sk-123", ""])
        "invalid key 'Bearer **********'"
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def finite_number(value: object) -> TypeGuard[float]:
    """A JSON number (not a bool) that fits a finite float."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def indexed_item(
    field: str, position: int, item: Any, count: int, seen: Container[int]
) -> tuple[dict[str, Any], int]:
    """``field[position]`` of a reply as an object, with its checked ``index``.

    Raises:
        ValueError: the item is not an object, or its ``index`` is not an integer in
            ``0..count-1`` (bools, floats and strings refused) or was seen before.
    """
    if not isinstance(item, dict):
        msg = f"{field}[{position}] must be an object, got {type(item).__name__}"
        raise ValueError(msg)
    index = item.get("index")
    if type(index) is not int or not 0 <= index < count:
        msg = f"{field}[{position}].index must be an integer in 0..{count - 1}, got {index!r}"
        raise ValueError(msg)
    if index in seen:
        msg = f"{field}[{position}].index {index} appears twice"
        raise ValueError(msg)
    return item, index


def _reject_constant(name: str) -> NoReturn:
    msg = f"{name} is not a number JSON allows"
    raise ValueError(msg)


def loads_strict(data: bytes) -> Any:
    """Parse JSON, refusing ``NaN``/``Infinity`` and numbers too large for a float.

    Raises:
        ValueError: The body is not JSON, or holds a non-finite number.

    Example:
        >>> loads_strict(b'{"a": [1, 2.5]}')
        {'a': [1, 2.5]}
        >>> loads_strict(b"[NaN]")
        Traceback (most recent call last):
        ...
        ValueError: NaN is not a number JSON allows
    """
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except RecursionError:
        msg = "JSON nested too deeply"
        raise ValueError(msg) from None


@dataclass(frozen=True)
class Policy:
    """How one request is bounded and retried."""

    timeout: float
    """Seconds for one attempt, from connecting to the last byte of the reply."""
    max_retries: int
    """Attempts after the first on retryable failures."""
    max_bytes: int
    """Largest reply body accepted."""
    backoff: float = 0.5
    """First wait between attempts; doubles each time, with up to 25% jitter."""
    max_wait: float = 8.0
    """Longest wait between attempts, ``Retry-After`` included."""


@dataclass(frozen=True)
class Reply:
    """A successful (HTTP < 400) answer, read whole within the limits."""

    status: int
    body: bytes


@dataclass(frozen=True)
class Failure:
    """Why a request failed, with nothing from the request itself (no headers, no key)."""

    kind: Literal["timeout", "connect", "status", "too_large"]
    attempts: int
    status: int | None = None
    body: bytes = b""
    detail: str = ""

    @property
    def retried(self) -> bool:
        """Whether retries were spent: a final 4xx or an oversized reply is not retried."""
        return self.kind in ("timeout", "connect") or self.status in RETRY_STATUS

    def text(self, limit: int = 300) -> str:
        """The server's answer (or the transport error), shortened for a message."""
        text = self.body.decode("utf-8", "replace") if self.body else self.detail
        return text if len(text) <= limit else text[: limit - 3] + "..."


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class _Deadline(Exception):
    pass


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        # An HTTP-date Retry-After is ignored: our own backoff applies.
        with contextlib.suppress(ValueError):
            seconds = float(value) / scale
            if math.isfinite(seconds) and seconds >= 0:
                return seconds
    return None


def _wait(policy: Policy, attempt: int, headers: Mapping[str, str] | None) -> float:
    wait = policy.backoff * (2**attempt) * (1 + random.uniform(0, 0.25))
    server = _retry_after(headers) if headers is not None else None
    if server is not None:
        wait = server
    return min(wait, policy.max_wait)


def _check_length(headers: Mapping[str, str], max_bytes: int) -> None:
    declared = headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > max_bytes:
        raise _TooLarge(int(declared))


class _Watchdog:
    """Shuts the connection's socket down at the deadline, waking any read blocked on it.

    It arms as soon as the socket is known: when a new connection is opened (through
    httpcore's ``trace`` hook, so slow headers are cut off too) or, on a reused
    connection, once the headers have arrived. A socket first seen after the deadline
    is shut at once.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.timer: threading.Timer | None = None

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            self.arm(info.get("return_value"))

    def arm(self, stream: Any) -> None:
        if self.timer is not None or stream is None:
            return
        sock = stream.get_extra_info("socket")
        if not isinstance(sock, socket.socket):
            return  # the per-chunk deadline check in _exchange still bounds the body

        def stop() -> None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

        self.timer = threading.Timer(max(self.deadline - time.monotonic(), 0.0), stop)
        self.timer.daemon = True
        self.timer.start()

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def _exchange(
    client: httpx.Client,
    url: str,
    content: bytes,
    headers: Mapping[str, str],
    policy: Policy,
    deadline: float,
) -> tuple[int, Mapping[str, str], bytes]:
    watchdog = _Watchdog(deadline)
    try:
        with client.stream(
            "POST",
            url,
            content=content,
            headers=dict(headers),
            timeout=policy.timeout,
            extensions={"trace": watchdog.trace},
        ) as response:
            watchdog.arm(response.extensions.get("network_stream"))
            _check_length(response.headers, policy.max_bytes)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > policy.max_bytes:
                    raise _TooLarge(size)
                if time.monotonic() > deadline:
                    raise _Deadline
                chunks.append(chunk)
            return response.status_code, dict(response.headers), b"".join(chunks)
    except Exception:
        if time.monotonic() >= deadline:
            raise _Deadline from None
        raise
    finally:
        # Only a socket still in use at the deadline is shut: one already back in the pool
        # may be serving another request.
        watchdog.cancel()


def _send(
    client: httpx.Client, url: str, content: bytes, headers: Mapping[str, str], policy: Policy
) -> tuple[int, Mapping[str, str], bytes]:
    """One attempt, in a worker thread the caller stops waiting for at the deadline.

    The watchdog alone cannot bound a request on a reused keep-alive connection: httpcore
    names that connection's socket only once the headers are in, and until then each read
    is bounded, not the total. Waiting on the worker is exact in every case; the abandoned
    worker ends as soon as its socket is known (shut at once, the deadline being past) or
    the server stops sending.
    """
    deadline = time.monotonic() + policy.timeout
    outcome: list[tuple[int, Mapping[str, str], bytes] | BaseException] = []
    done = threading.Event()

    def work() -> None:
        try:
            outcome.append(_exchange(client, url, content, headers, policy, deadline))
        except BaseException as exc:  # handed to the caller's thread below
            outcome.append(exc)
        finally:
            done.set()

    worker = threading.Thread(
        target=contextvars.copy_context().run, args=(work,), name="embedkit-http", daemon=True
    )
    worker.start()
    if not done.wait(max(deadline - time.monotonic(), 0.0)) or not outcome:
        raise _Deadline
    result = outcome[0]
    if isinstance(result, BaseException):
        try:
            raise result
        finally:
            del result, outcome[:]
    return result


async def _asend(
    client: httpx.AsyncClient,
    url: str,
    content: bytes,
    headers: Mapping[str, str],
    policy: Policy,
) -> tuple[int, Mapping[str, str], bytes]:
    async with client.stream(
        "POST", url, content=content, headers=dict(headers), timeout=policy.timeout
    ) as response:
        _check_length(response.headers, policy.max_bytes)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > policy.max_bytes:
                raise _TooLarge(size)
            chunks.append(chunk)
        return response.status_code, dict(response.headers), b"".join(chunks)


def _classify(exc: BaseException, attempts: int, policy: Policy) -> Failure:
    httpx = require("httpx", "openai")
    if isinstance(exc, _TooLarge):
        return Failure("too_large", attempts, detail=f"{exc.size} bytes > {policy.max_bytes}")
    if isinstance(exc, (_Deadline, asyncio.TimeoutError, httpx.TimeoutException)):
        return Failure("timeout", attempts, detail=f"no complete answer in {policy.timeout:g} s")
    # str(exc) of an httpx error names the failure, never the request's headers.
    return Failure("connect", attempts, detail=f"{type(exc).__name__}: {exc}")


def _transport_errors() -> tuple[type[BaseException], ...]:
    httpx = require("httpx", "openai")
    return (httpx.RequestError, httpx.StreamError, _TooLarge, _Deadline, asyncio.TimeoutError)


def _judge(
    url: str,
    policy: Policy,
    attempt: int,
    answer: tuple[int, Mapping[str, str], bytes] | Failure,
) -> Reply | Failure | float:
    """What one attempt (0-based) comes to: the reply, the final failure, or the seconds to
    wait before the next attempt."""
    reply_headers: Mapping[str, str] | None = None
    if isinstance(answer, Failure):
        failure = answer
    else:
        status, reply_headers, body = answer
        if status < 400:
            return Reply(status, body)
        failure = Failure("status", attempt + 1, status=status, body=body)
    if not failure.retried or attempt == policy.max_retries:
        return failure
    wait = float(_wait(policy, attempt, reply_headers))
    logger.info(
        "POST %s failed (%s); retrying in %.2f s", url, failure.status or failure.kind, wait
    )
    return wait


def post(
    client: httpx.Client,
    url: str,
    payload: Any,
    headers: Mapping[str, str],
    policy: Policy,
    fail: Callable[[Failure], Exception],
) -> Reply:
    """POST ``payload`` as JSON with retries; return the reply or raise ``fail(failure)``.

    The error from ``fail`` is raised outside any ``except`` block, so neither its
    ``__cause__`` nor its ``__context__`` leads back to the request or its headers.
    """
    content = json.dumps(payload, ensure_ascii=False).encode()
    errors = _transport_errors()
    outcome: Reply | Failure | float = 0.0
    for attempt in range(policy.max_retries + 1):
        answer: tuple[int, Mapping[str, str], bytes] | Failure
        try:
            answer = _send(client, url, content, headers, policy)
        except errors as exc:
            answer = _classify(exc, attempt + 1, policy)
        outcome = _judge(url, policy, attempt, answer)
        if not isinstance(outcome, float):
            break
        time.sleep(outcome)
    if isinstance(outcome, Reply):
        return outcome
    assert isinstance(outcome, Failure)  # the last attempt never waits
    raise fail(outcome)


async def apost(
    client: httpx.AsyncClient,
    url: str,
    payload: Any,
    headers: Mapping[str, str],
    policy: Policy,
    fail: Callable[[Failure], Exception],
) -> Reply:
    """Async :func:`post`; the deadline covers each whole attempt exactly."""
    content = json.dumps(payload, ensure_ascii=False).encode()
    errors = _transport_errors()
    outcome: Reply | Failure | float = 0.0
    for attempt in range(policy.max_retries + 1):
        answer: tuple[int, Mapping[str, str], bytes] | Failure
        try:
            answer = await asyncio.wait_for(
                _asend(client, url, content, headers, policy), policy.timeout
            )
        except errors as exc:
            answer = _classify(exc, attempt + 1, policy)
        outcome = _judge(url, policy, attempt, answer)
        if not isinstance(outcome, float):
            break
        await asyncio.sleep(outcome)
    if isinstance(outcome, Reply):
        return outcome
    assert isinstance(outcome, Failure)  # the last attempt never waits
    raise fail(outcome)


async def gather_or_cancel(aws: Iterable[Awaitable[T]]) -> list[T]:
    """Await all of ``aws`` in order; if one fails (or the caller cancels), cancel the rest.

    The others are stopped and awaited before the error propagates, so nothing keeps
    running against a client that is about to close.

    Example:
        >>> async def double(x):
        ...     return 2 * x
        >>> asyncio.run(gather_or_cancel([double(1), double(2)]))
        [2, 4]
    """
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
