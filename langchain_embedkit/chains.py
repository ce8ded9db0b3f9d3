"""A cited retrieval-augmented generation chain: retrieve -> rerank -> answer with [n]."""

from __future__ import annotations

import re
from collections.abc import Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal, get_args

# LangChain's runnables pull in its callback and tracer machinery (over a second to import
# on a small machine), so they load when a chain is built, not when this module is imported.
from langchain_core.documents import Document

if TYPE_CHECKING:
    from langchain_core.documents import BaseDocumentCompressor
    from langchain_core.language_models import LanguageModelLike
    from langchain_core.prompts import BasePromptTemplate, ChatPromptTemplate
    from langchain_core.retrievers import RetrieverLike
    from langchain_core.runnables import Runnable

__all__ = ["create_rag_chain", "default_rag_prompt", "detect_language", "format_context"]

Language = Literal["en", "zh"]
PromptLanguage = Literal["auto", "en", "zh"]
"""``create_rag_chain``'s ``language``: ``"auto"`` follows each question."""

_SCORE_KEYS = ("relevance_score", "fused_score", "score", "similarity_score")

_EN_SYSTEM = (
    "You are a helpful assistant. Answer the question using only the numbered sources "
    "below. After each statement, cite the sources that support it by their numbers in "
    "square brackets, like [1] or [2][3]. If the sources do not contain the answer, say "
    "that you don't know instead of guessing. Answer in the same language as the "
    "question.\n\nSources:\n{context}"
)
_ZH_SYSTEM = (
    "你是一个乐于助人的助手。请只根据下面带编号的资料回答问题，并在每句陈述后用方括号标注"
    "所依据资料的编号，例如 [1] 或 [2][3]。如果资料中没有答案，请直接说明不知道，不要编造。"
    "请用中文回答。\n\n资料：\n{context}"
)
_EMPTY = {"en": "(no sources found)", "zh": "（未检索到相关资料）"}

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def detect_language(text: str) -> Language:
    """``"zh"`` when the text is mainly Chinese, else ``"en"``.

    Chinese means Han characters, no Japanese kana or Korean Hangul, and at least two
    Han characters per Latin word, so "如何在 LangChain 中使用 Milvus？" is Chinese while
    "What does 向量检索 mean?" is not.

    Example:
        >>> detect_language("BM25 和向量检索有什么区别？"), detect_language("What is BM25?")
        ('zh', 'en')
    """
    han = len(_HAN.findall(text))
    if han == 0 or _KANA_HANGUL.search(text):
        return "en"
    return "zh" if han >= 2 * len(_LATIN_WORD.findall(text)) else "en"


def default_rag_prompt(language: Language = "en") -> ChatPromptTemplate:
    """The built-in prompt: numbered ``{context}`` in the system message, ``{question}``.

    Example:
        >>> sorted(default_rag_prompt("zh").input_variables)
        ['context', 'question']
    """
    if language not in get_args(Language):
        choices = ", ".join(repr(c) for c in get_args(Language))
        msg = f"Unknown prompt language {language!r}; supported: {choices}."
        raise ValueError(msg)
    system = _ZH_SYSTEM if language == "zh" else _EN_SYSTEM
    from langchain_core.prompts import ChatPromptTemplate

    return ChatPromptTemplate.from_messages([("system", system), ("human", "{question}")])


def _score_of(doc: Document) -> float | None:
    for key in _SCORE_KEYS:
        value = doc.metadata.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def format_context(documents: Sequence[Document], language: Language = "en") -> str:
    """Number documents as the model will cite them: ``[1] title`` then the text.

    Example:
        >>> print(format_context([Document("Paris is in France.", metadata={"title": "Paris"})]))
        [1] Paris
        Paris is in France.
    """
    if not documents:
        return _EMPTY[language]
    blocks = []
    for n, doc in enumerate(documents, start=1):
        title = doc.metadata.get("title")
        header = f"[{n}] {title}" if isinstance(title, str) and title.strip() else f"[{n}]"
        blocks.append(f"{header}\n{doc.page_content.strip()}")
    return "\n\n".join(blocks)


def _sources(documents: Sequence[Document]) -> list[Document]:
    out = []
    for n, doc in enumerate(documents, start=1):
        metadata: dict[str, Any] = {**doc.metadata, "citation": n}
        score = _score_of(doc)
        if score is not None:
            metadata["score"] = score
        out.append(doc.model_copy(update={"metadata": metadata}))
    return out


def _coerce_input(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"question": value}
    if isinstance(value, dict) and isinstance(value.get("question"), str):
        return dict(value)
    got = sorted(value) if isinstance(value, dict) else type(value).__name__
    msg = (
        "The RAG chain takes {'question': str} (or a plain string); got "
        f"{got!r}. Call chain.invoke({{'question': 'What is BM25?'}})."
    )
    raise ValueError(msg)


def create_rag_chain(
    retriever: RetrieverLike,
    llm: LanguageModelLike,
    reranker: BaseDocumentCompressor | None = None,
    prompt: BasePromptTemplate | None = None,
    *,
    language: PromptLanguage = "auto",
) -> Runnable[Any, dict[str, Any]]:
    """Build a retrieve -> rerank -> answer chain whose answer cites its sources as [n].

    ``invoke({"question": q})`` (or ``invoke(q)``) returns a dict:

    - ``"answer"``: the model's text.
    - ``"sources"``: the documents given to the model, in citation order: copies with
      ``metadata["citation"]`` (the ``n`` of ``[n]``), ``metadata["score"]`` (the
      reranker's ``relevance_score``, else the fused or store score, when one exists)
      and ``Document.id`` kept.
    - ``"context"``: the numbered text the model saw.

    ``stream`` / ``astream`` yield dicts: first ``{"sources": [...], "context": "..."}``
    once retrieval is done, then ``{"answer": "<next piece>"}`` per token chunk; join
    the ``"answer"`` pieces for the full text.

    Args:
        retriever: Any retriever (``HybridRetriever``, ``store.as_retriever()``...).
        llm: A chat model or LLM, e.g. ``ChatOpenAI`` against any compatible endpoint.
        reranker: Optional ``BaseDocumentCompressor`` (``CrossEncoderReranker``,
            ``HTTPReranker``) applied to the retrieved documents; its ``top_n`` bounds
            the context.
        prompt: Custom prompt with ``{context}`` and ``{question}`` (other variables come
            from the input dict). The default asks for [n] citations.
        language: Default-prompt language; ``"auto"`` picks Chinese for Chinese questions.

    Example:
        .. code-block:: python

            from langchain_core.documents import Document
            from langchain_core.language_models import FakeListChatModel
            from langchain_core.retrievers import BaseRetriever
            from langchain_embedkit.chains import create_rag_chain

            class Fixed(BaseRetriever):
                def _get_relevant_documents(self, query, *, run_manager):
                    return [Document("Paris is the capital of France.", id="p1")]

            chain = create_rag_chain(Fixed(), FakeListChatModel(responses=["Paris [1]."]))
            out = chain.invoke({"question": "What is the capital of France?"})
            print(out["answer"], [(d.id, d.metadata["citation"]) for d in out["sources"]])
            # Paris [1]. [('p1', 1)]
    """
    if language not in get_args(PromptLanguage):
        choices = ", ".join(repr(c) for c in get_args(PromptLanguage))
        msg = f"Unknown language {language!r}; supported: {choices}."
        raise ValueError(msg)
    if prompt is not None:
        _check_prompt(prompt)

    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    retrieve = RunnablePassthrough.assign(
        documents=(itemgetter("question") | retriever).with_config(run_name="retrieve")
    )
    chain = (
        RunnableLambda(_coerce_input).with_config(run_name="rag_input")
        | retrieve
        | RunnablePassthrough.assign(documents=_rerank_step(reranker))
        | _cite_step(language)
        | RunnablePassthrough.assign(
            answer=_prompt_step(prompt, language) | llm | StrOutputParser()
        )
    ).pick(["answer", "sources", "context"])
    return chain.with_config(run_name="rag_chain")


def _check_prompt(prompt: BasePromptTemplate) -> None:
    """A custom prompt must take the two variables the chain fills in."""
    given = set(prompt.input_variables) | set(prompt.partial_variables)
    missing = sorted({"context", "question"} - given)
    if missing:
        msg = (
            f"The RAG prompt must use {{context}} and {{question}}; it lacks "
            f"{', '.join('{' + m + '}' for m in missing)} (its variables: "
            f"{sorted(given)}). Add them, or pass prompt=None for the default."
        )
        raise ValueError(msg)


def _rerank_step(reranker: BaseDocumentCompressor | None) -> Runnable[Any, list[Document]]:
    """``{"question", "documents"}`` -> the documents, reranked when there is a reranker."""
    from langchain_core.runnables import RunnableLambda

    def rerank(inputs: dict[str, Any]) -> list[Document]:
        docs = inputs["documents"]
        if reranker is None or not docs:
            return list(docs)
        return list(reranker.compress_documents(docs, inputs["question"]))

    async def arerank(inputs: dict[str, Any]) -> list[Document]:
        docs = inputs["documents"]
        if reranker is None or not docs:
            return list(docs)
        return list(await reranker.acompress_documents(docs, inputs["question"]))

    return RunnableLambda(rerank, afunc=arerank).with_config(run_name="rerank")


def _cite_step(language: PromptLanguage) -> Runnable[Any, dict[str, Any]]:
    """Number the documents: ``documents`` becomes ``sources`` (copies) and ``context``."""
    from langchain_core.runnables import RunnableLambda

    def number(inputs: dict[str, Any]) -> dict[str, Any]:
        state = {k: v for k, v in inputs.items() if k != "documents"}
        sources = _sources(inputs["documents"])
        shown = detect_language(inputs["question"]) if language == "auto" else language
        state["sources"] = sources
        state["context"] = format_context(sources, shown)
        return state

    return RunnableLambda(number).with_config(run_name="cite_sources")


def _prompt_step(prompt: BasePromptTemplate | None, language: PromptLanguage) -> Runnable[Any, Any]:
    """The caller's prompt, or the default one in the question's (or the given) language."""
    if prompt is not None:
        return prompt
    if language != "auto":
        return default_rag_prompt(language)
    from langchain_core.runnables import RunnableBranch

    return RunnableBranch(
        (lambda s: detect_language(s["question"]) == "zh", default_rag_prompt("zh")),
        default_rag_prompt("en"),
    )
