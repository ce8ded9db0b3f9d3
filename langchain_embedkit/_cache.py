"""The one folder langchain-embedkit caches things in (ONNX graphs, evaluation embeddings).

``$EMBEDKIT_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/langchain-embedkit``, else
``~/.cache/langchain-embedkit``. Each user of the cache takes a subfolder of it (``onnx/``,
``embeddings/``). ``LANGCHAIN_EMBEDKIT_CACHE``, the name the ONNX cache read before, is still
read (with a ``DeprecationWarning``) when ``EMBEDKIT_CACHE_DIR`` is not set.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_root"]

CACHE_ENV = "EMBEDKIT_CACHE_DIR"
_OLD_CACHE_ENV = "LANGCHAIN_EMBEDKIT_CACHE"


def cache_root() -> Path:
    """The cache folder: ``$EMBEDKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/langchain-embedkit``.

    Nothing is created here; writers create their subfolder when they first write.

    Example:
        >>> (cache_root() / "onnx").name
        'onnx'
    """
    root = os.environ.get(CACHE_ENV)
    if not root:
        root = os.environ.get(_OLD_CACHE_ENV)
        if root:
            warnings.warn(
                f"{_OLD_CACHE_ENV} is deprecated; set {CACHE_ENV}={root} instead "
                "(the same folder, holding onnx/ and embeddings/).",
                DeprecationWarning,
                stacklevel=2,
            )
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "langchain-embedkit"
