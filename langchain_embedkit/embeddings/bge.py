"""``BGEEmbeddings``: the BAAI bge family, with its query instruction on queries only."""

from __future__ import annotations

from pathlib import PurePath

from langchain_embedkit.embeddings._sentence_transformers import SentenceTransformerEmbeddingsBase

__all__ = ["BGE_QUERY_INSTRUCTION_EN", "BGE_QUERY_INSTRUCTION_ZH", "BGEEmbeddings"]

BGE_QUERY_INSTRUCTION_EN = "Represent this sentence for searching relevant passages: "
BGE_QUERY_INSTRUCTION_ZH = "为这个句子生成表示以用于检索相关文章："


def default_query_instruction(model_name: str) -> str:
    """The instruction bge models were trained with, chosen from the model name.

    ``bge-m3`` takes none; Chinese models (``-zh`` in the name, e.g. ``bge-large-zh-v1.5``)
    take the Chinese one; every other bge model takes the English one.

    Example:
        >>> default_query_instruction("BAAI/bge-small-zh-v1.5") == BGE_QUERY_INSTRUCTION_ZH
        True
        >>> default_query_instruction("BAAI/bge-m3")
        ''
    """
    name = PurePath(model_name.rstrip("/\\")).name.lower()
    if "bge-m3" in name:
        return ""
    if "-zh" in name:
        return BGE_QUERY_INSTRUCTION_ZH
    return BGE_QUERY_INSTRUCTION_EN


class BGEEmbeddings(SentenceTransformerEmbeddingsBase):
    """BAAI bge embeddings (``bge-*-en-v1.5``, ``bge-*-zh-v1.5``, ``bge-m3``) or a local copy.

    Queries get the bge retrieval instruction in front, documents never do. The instruction is
    chosen from the model name: English for English models, "为这个句子生成表示以用于检索相关文章："
    for ``-zh`` models, none for ``bge-m3``; ``query_instruction`` overrides it ("" for none).
    Pooling is whatever the model's sentence-transformers config says (CLS for bge), and
    vectors are normalized by default. An empty string is embedded like any text.

    Example:
        >>> from langchain_embedkit.embeddings import BGEEmbeddings
        >>> embeddings = BGEEmbeddings(model_name="BAAI/bge-small-zh-v1.5")  # doctest: +SKIP
        >>> embeddings.query_instruction  # doctest: +SKIP
        '为这个句子生成表示以用于检索相关文章：'
        >>> len(embeddings.embed_query("谁开创了人工智能研究？"))  # doctest: +SKIP
        512
    """

    model_name: str = "BAAI/bge-small-en-v1.5"
    """bge model id (read from the local Hugging Face cache) or a local folder."""

    query_instruction: str | None = None
    """Text put before every query. None picks the bge default from the model name; after
    construction it holds the instruction in use."""

    def _prepare(self) -> None:
        if self.query_instruction is None:
            self.query_instruction = default_query_instruction(self.model_name)

    def _query_prompt(self) -> str:
        return self.query_instruction or ""

    def _document_prompt(self) -> str:
        return ""
