"""Where an OpenAI-compatible client talks to: one resolution of base URL, provider and key.

``OpenAICompatibleEmbeddings`` and ``embedkit ask`` both use :func:`resolve_endpoint`, so
the same flags and environment variables mean the same thing everywhere, and a key is only
ever sent to the provider it belongs to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DASHSCOPE_BASE_URL",
    "OPENAI_BASE_URL",
    "PUBLIC_BASE_URL",
    "Endpoint",
    "Provider",
    "is_dashscope_url",
    "resolve_endpoint",
]

OPENAI_BASE_URL = "https://api.openai.com/v1"
DASHSCOPE_BASE_URL = "https://dashscope.aliyuncs.com/compatible-mode/v1"
"""DashScope's OpenAI-compatible API root (embeddings and chat)."""

Provider = Literal["openai", "dashscope"]
"""Whose defaults an OpenAI-compatible endpoint gets: the public URL and the key variable."""

PUBLIC_BASE_URL: dict[Provider, str] = {"openai": OPENAI_BASE_URL, "dashscope": DASHSCOPE_BASE_URL}
API_KEY_ENV: dict[Provider, str] = {"openai": "OPENAI_API_KEY", "dashscope": "DASHSCOPE_API_KEY"}
BASE_URL_ENV: dict[Provider, str] = {"openai": "OPENAI_BASE_URL", "dashscope": "DASHSCOPE_BASE_URL"}


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def is_dashscope_url(url: str | None) -> bool:
    """Whether ``url`` is one of DashScope's (any region).

    Example:
        >>> is_dashscope_url("https://dashscope-intl.aliyuncs.com/compatible-mode/v1")
        True
        >>> is_dashscope_url("http://localhost:11434/v1")
        False
    """
    return bool(url) and "dashscope" in str(url).lower()


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible API root, whose defaults it gets and the key from the environment."""

    provider: Provider
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    """The provider's own key variable, or ``None``: a key is never sent to another
    provider's (or a self-hosted) server."""

    @property
    def hosted(self) -> bool:
        """Whether ``base_url`` is the provider's public URL (which needs a key)."""
        return self.base_url.rstrip("/") == PUBLIC_BASE_URL[self.provider]


def resolve_endpoint(
    base_url: str | None = None, *, dashscope_hint: bool = False, key_given: bool = False
) -> Endpoint:
    """Where an OpenAI-compatible client talks to, from its ``base_url`` and the environment.

    DashScope's defaults apply when ``dashscope_hint`` is set (a DashScope model name), the
    URL is DashScope's, or neither a URL nor a key is given (``key_given``) and only
    ``DASHSCOPE_API_KEY`` is set (nothing in the environment points at OpenAI). Without a
    URL, ``OPENAI_BASE_URL`` / ``DASHSCOPE_BASE_URL`` apply, else the provider's public
    URL. The key is read from the provider's own variable only.

    Example:
        >>> import os
        >>> for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DASHSCOPE_BASE_URL"):
        ...     os.environ.pop(name, None)
        >>> os.environ["DASHSCOPE_API_KEY"] = "sk-ds"
        >>> endpoint = resolve_endpoint()
        >>> endpoint.provider, endpoint.base_url, endpoint.api_key
        ('dashscope', 'https://dashscope.aliyuncs.com/compatible-mode/v1', 'sk-ds')
        >>> "sk-ds" in repr(endpoint)
        False
        >>> resolve_endpoint("http://localhost:11434/v1").api_key is None
        True
        >>> del os.environ["DASHSCOPE_API_KEY"]
    """
    only_dashscope_key = (
        _env("DASHSCOPE_API_KEY") is not None
        and _env("OPENAI_API_KEY") is None
        and _env("OPENAI_BASE_URL") is None
    )
    dashscope = (
        dashscope_hint
        or is_dashscope_url(base_url)
        or (base_url is None and not key_given and only_dashscope_key)
    )
    provider: Provider = "dashscope" if dashscope else "openai"
    if base_url is None:
        base_url = _env(BASE_URL_ENV[provider]) or PUBLIC_BASE_URL[provider]
    return Endpoint(provider, base_url, _env(API_KEY_ENV[provider]))
