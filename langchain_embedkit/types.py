"""Small value types shared by every module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["RetrievalMode", "SparseVector"]

RetrievalMode = Literal["dense", "sparse", "hybrid"]
"""How a store or retriever searches: dense vectors, sparse vectors, or both fused."""


@dataclass(frozen=True)
class SparseVector:
    """A sparse vector: sorted unique ``indices`` and their ``values``.

    ``as_dict()`` gives the ``{index: value}`` mapping that Milvus'
    ``SPARSE_FLOAT_VECTOR`` field accepts.

    Example:
        >>> v = SparseVector.from_dict({7: 0.5, 2: 1.0})
        >>> v
        SparseVector(indices=[2, 7], values=[1.0, 0.5])
        >>> v.dot(SparseVector([7], [2.0]))
        1.0
    """

    indices: list[int] = field(default_factory=list)
    """Token ids, strictly increasing."""
    values: list[float] = field(default_factory=list)
    """Weight of each index, same length as ``indices``."""

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.values):
            msg = (
                f"SparseVector needs as many values as indices; got {len(self.indices)} "
                f"indices and {len(self.values)} values."
            )
            raise ValueError(msg)
        previous = -1
        for position, index in enumerate(self.indices):
            if index <= previous:
                msg = (
                    f"SparseVector indices must be non-negative, sorted and unique; index "
                    f"{index} at position {position} follows {previous}. "
                    "Use SparseVector.from_dict() to build one from unsorted pairs."
                )
                raise ValueError(msg)
            previous = index

    @classmethod
    def _from_sorted(cls, indices: list[int], values: list[float]) -> SparseVector:
        """Build from lists that already hold the invariants, without checking them.

        For hot paths that produce indices in order by construction (an encoder
        turning a whole corpus into vectors): the checks in ``__post_init__`` walk
        every index in Python, which costs as much as building the vector. The caller
        guarantees that ``indices`` are non-negative, strictly increasing and as many
        as ``values``; the lists are kept as given, not copied. Anything else must go
        through ``SparseVector(...)`` or :meth:`from_dict`.

        Example:
            >>> SparseVector._from_sorted([2, 7], [1.0, 0.5]) == SparseVector([2, 7], [1.0, 0.5])
            True
        """
        vector = object.__new__(cls)
        # Set the fields as the generated frozen __init__ does, minus __post_init__.
        object.__setattr__(vector, "indices", indices)
        object.__setattr__(vector, "values", values)
        return vector

    @classmethod
    def from_dict(cls, mapping: Mapping[int, float]) -> SparseVector:
        """Build from an ``{index: value}`` mapping in any order; zero values are dropped."""
        items = sorted((int(i), float(v)) for i, v in mapping.items() if v != 0.0)
        return cls([i for i, _ in items], [v for _, v in items])

    def as_dict(self) -> dict[int, float]:
        """``{index: value}``, the form Milvus' ``SPARSE_FLOAT_VECTOR`` takes."""
        return dict(zip(self.indices, self.values, strict=True))

    def dot(self, other: SparseVector) -> float:
        """Inner product with another sparse vector."""
        mine = self.as_dict()
        return float(
            sum(mine.get(i, 0.0) * v for i, v in zip(other.indices, other.values, strict=True))
        )

    def __len__(self) -> int:
        return len(self.indices)
