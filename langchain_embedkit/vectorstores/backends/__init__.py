"""Engine adapters behind :class:`~langchain_embedkit.vectorstores.EmbedKitVectorStore`."""

from __future__ import annotations

from langchain_embedkit.vectorstores.backends.base import Backend, Hit, Record, Row

__all__ = ["Backend", "Hit", "Record", "Row"]
