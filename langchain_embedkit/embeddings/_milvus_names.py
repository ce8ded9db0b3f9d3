"""The method names pymilvus-model users already write: ``encode_documents``,
``encode_queries`` and ``dim``, on every dense encoder.

They return what pymilvus-model's dense functions return: a list with one 1-D
``numpy.float32`` array per text (so ``vectors[0].shape`` and ``client.insert(...)`` work
as in its tutorials), while the LangChain methods keep returning lists of Python floats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["MilvusModelNames"]


class MilvusModelNames:
    """Mixin for an ``Embeddings`` with a ``dimension`` property.

    Classes that can encode many queries in one pass override ``_encode_queries`` (and
    ``_encode_documents``); the defaults go through ``embed_documents``/``embed_query``.

    Example:
        >>> from langchain_embedkit.embeddings import DefaultEmbeddings
        >>> ef = DefaultEmbeddings()
        >>> vectors = ef.encode_queries(["Who started AI research?"])
        >>> ef.dim, vectors[0].shape, str(vectors[0].dtype)
        (384, (384,), 'float32')
    """

    if TYPE_CHECKING:  # provided by the Embeddings class this is mixed into

        @property
        def dimension(self) -> int: ...

        def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

        def embed_query(self, text: str) -> list[float]: ...

    @property
    def dim(self) -> int:
        """Length of the vectors (pymilvus-model's name for ``dimension``)."""
        return self.dimension

    def encode_documents(self, texts: list[str]) -> list[np.ndarray]:
        """Embed documents as pymilvus-model does: one float32 array per text, in order."""
        return list(self._encode_documents(texts))

    def encode_queries(self, texts: list[str]) -> list[np.ndarray]:
        """Embed queries (with the query prompt) as pymilvus-model does: one array per text."""
        return list(self._encode_queries(texts))

    def _encode_documents(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        return np.asarray(self.embed_documents(texts), dtype=np.float32).reshape(len(texts), -1)

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        rows = [self.embed_query(text) for text in texts]
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
