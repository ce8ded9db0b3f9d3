"""The sparse encoder's fit state, kept beside a local store.

BM25 statistics belong to the collection they were fitted on, so a local store saves
them next to its data (``<file>.db.<collection>.sparse.json`` for Milvus Lite,
``<persist_directory>/embedkit/<collection>.sparse.json`` for Chroma) after every ingest
batch, and loads them into an unfitted encoder when it opens. When no state is found for
a collection that holds documents, the encoder is refitted on the stored texts.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from langchain_embedkit.sparse.base import SparseEmbeddings
from langchain_embedkit.vectorstores.backends.base import Backend

__all__ = ["load_state", "refit_if_unfitted", "save_state"]

logger = logging.getLogger(__name__)


def load_state(sparse: SparseEmbeddings, path: Path | None) -> SparseEmbeddings:
    """The encoder to use: loaded from ``path`` when it is unfitted and the file exists."""
    if path is None or not path.exists():
        return sparse
    if getattr(sparse, "is_fitted", True) or not hasattr(sparse, "load"):
        return sparse
    loaded = sparse.load(path)
    # ``load`` may be a classmethod returning a new encoder or fill this one in place
    return loaded if isinstance(loaded, SparseEmbeddings) else sparse


def save_state(sparse: SparseEmbeddings, path: Path | None) -> None:
    """Write the encoder's state to ``path`` (atomic replace); no-op for servers."""
    if path is None or not hasattr(sparse, "save"):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    sparse.save(tmp)
    os.replace(tmp, path)


def refit_if_unfitted(sparse: SparseEmbeddings, backend: Backend, name: str) -> bool:
    """Refit an unfitted encoder that has ``partial_fit`` on the stored texts.

    Returns:
        Whether it was refitted (the caller then saves the state).
    """
    partial_fit = getattr(sparse, "partial_fit", None)
    if partial_fit is None or getattr(sparse, "is_fitted", True) or backend.count() == 0:
        return False
    logger.warning(
        "The sparse encoder has no saved state for collection %r; refitting it on the "
        "stored texts.",
        name,
    )
    for texts in backend.iter_texts(2000):
        partial_fit(texts)
    return True
