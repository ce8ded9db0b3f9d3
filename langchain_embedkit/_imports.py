"""Optional-dependency checks with one ImportError message for every extra."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise an ImportError that names the pip command.

    Args:
        module: Dotted module name, e.g. ``"pymilvus"``.
        extra: The langchain-embedkit extra that installs it, e.g. ``"milvus"``.

    Example:
        >>> require("json", "core").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        msg = (
            f"'{module}' is required for this feature but is not installed. "
            f'Install it with: pip install "langchain-embedkit[{extra}]"'
        )
        raise ImportError(msg) from exc
