"""``embedkit ask``: answer from the store with an OpenAI-compatible chat model."""

from __future__ import annotations

import argparse
import os
import time
from typing import TYPE_CHECKING, Any

from langchain_embedkit import _endpoints
from langchain_embedkit.cli.commands import _check_k, _make_reranker, _parse_filter
from langchain_embedkit.cli.errors import CLIError
from langchain_embedkit.cli.output import _clip
from langchain_embedkit.cli.session import Session
from langchain_embedkit.fusion import default_fetch_k

if TYPE_CHECKING:
    from langchain_core.documents import Document

_DEFAULT_CHAT_MODELS = {"openai": "gpt-4o-mini", "dashscope": "qwen-plus"}


def _cmd_ask(args: argparse.Namespace) -> int:
    chat = _chat_settings(args)
    where = _parse_filter(args.filter)
    k = _check_k(args.k)
    session = Session(args)
    session.require_documents(args.mode)
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    from langchain_embedkit.chains import create_rag_chain

    reranker = _make_reranker(args.rerank, k) if args.rerank else None
    search_kwargs: dict[str, Any] = {"k": default_fetch_k(k) if reranker else k}
    if where:
        search_kwargs["filter"] = where
    retriever = session.store.as_retriever(retrieval_mode=args.mode, search_kwargs=search_kwargs)
    llm = ChatOpenAI(
        model=chat["model"],
        base_url=chat["base_url"],
        api_key=SecretStr(chat["api_key"]),
        temperature=0,
        timeout=args.timeout,
        max_retries=1,
    )
    chain = create_rag_chain(retriever, llm, reranker=reranker)
    if args.mode != "sparse":
        session.model()
    start = time.perf_counter()
    sources: list[Document] = []
    try:
        for part in chain.stream({"question": args.question}):
            sources = part.get("sources", sources)
            if part.get("answer"):
                print(part["answer"], end="", flush=True)
    except Exception as exc:
        raise _chat_error(exc, chat) from exc
    elapsed = time.perf_counter() - start
    session.close()
    print("\n\nSources:")
    for doc in sources:
        number = doc.metadata.get("citation", "?")
        where_from = doc.metadata.get("source", "")
        print(f"[{number}] {doc.id}  {where_from}  {_clip(doc.page_content, 70)}")
    print(f"\n{chat['model']} at {chat['base_url']}, {elapsed:.1f} s")
    return 0


_NO_ENDPOINT = (
    "No chat endpoint configured. Set OPENAI_API_KEY (OpenAI) or DASHSCOPE_API_KEY "
    "(DashScope), or point --base-url / OPENAI_BASE_URL at an OpenAI-compatible server "
    "(vLLM: http://localhost:8000/v1, Ollama: http://localhost:11434/v1) and name the model "
    "with --model / EMBEDKIT_CHAT_MODEL."
)


def _chat_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Resolve the chat endpoint from flags and environment; exit code 2 when missing.

    The same rules as ``OpenAICompatibleEmbeddings`` (``_endpoints.resolve_endpoint``): a key
    is read only from the variable of the provider whose server it goes to.
    """
    endpoint = _endpoints.resolve_endpoint(args.base_url or None)
    if endpoint.hosted and endpoint.api_key is None:
        if args.base_url or os.environ.get("OPENAI_BASE_URL"):
            variable = _endpoints.API_KEY_ENV[endpoint.provider]
            msg = f"No API key for {endpoint.base_url}: set {variable}."
            raise CLIError(msg, 2)
        raise CLIError(_NO_ENDPOINT, 2)
    # vLLM and Ollama accept any key, but the client insists on having one.
    key = endpoint.api_key or "not-needed"
    self_hosted = not endpoint.hosted and endpoint.provider == "openai"
    default_model = None if self_hosted else _DEFAULT_CHAT_MODELS[endpoint.provider]
    base_url = endpoint.base_url
    model = args.model or os.environ.get("EMBEDKIT_CHAT_MODEL") or default_model
    if not model:
        msg = (
            f"No chat model named for {base_url}; pass --model NAME or set "
            "EMBEDKIT_CHAT_MODEL (the name the server serves, e.g. qwen2.5:7b on Ollama)."
        )
        raise CLIError(msg, 2)
    return {"base_url": base_url, "model": model, "api_key": key}


def _chat_error(exc: Exception, chat: dict[str, Any]) -> Exception:
    import openai

    where = chat["base_url"]
    if isinstance(exc, openai.APIConnectionError):
        msg = f"Cannot reach the chat endpoint {where} ({exc}); check --base-url / OPENAI_BASE_URL."
    elif isinstance(exc, openai.AuthenticationError):
        msg = f"{where} rejected the API key (401); check OPENAI_API_KEY or DASHSCOPE_API_KEY."
    elif isinstance(exc, openai.NotFoundError):
        msg = f"{where} has no model '{chat['model']}' (404); check --model / EMBEDKIT_CHAT_MODEL."
    elif isinstance(exc, openai.APIStatusError):
        msg = f"The chat endpoint {where} answered HTTP {exc.status_code}: {exc.message}"
    else:
        return exc
    return CLIError(msg)
