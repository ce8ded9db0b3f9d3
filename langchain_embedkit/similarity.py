"""Cosine similarity, L2 distance and inner product over lists or numpy arrays.

Each function takes two vectors and returns a Python float, or takes matrices (one vector per
row) and returns a numpy array of every pairwise value:

==========================  ==========================  =================================
``a``                       ``b``                       result
==========================  ==========================  =================================
vector ``(d,)``             vector ``(d,)``             ``float``
vector ``(d,)``             matrix ``(n, d)``           array ``(n,)``: one per row of b
matrix ``(m, d)``           vector ``(d,)``             array ``(m,)``: one per row of a
matrix ``(m, d)``           matrix ``(n, d)``           array ``(m, n)``
==========================  ==========================  =================================

Sizes that differ raise ``DimensionMismatchError``. Maths is done in float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from langchain_embedkit.errors import DimensionMismatchError

__all__ = ["cosine_similarity", "inner_product", "l2_distance"]

Vector = Sequence[float]
Matrix = Sequence[Sequence[float]]


def _as_array(value: ArrayLike, name: str) -> NDArray[np.float64]:
    if value is None:
        msg = f"{name} is None; expected a vector (list of floats) or a matrix (list of vectors)."
        raise TypeError(msg)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = (
            f"{name} must be a vector (list of floats) or a matrix of equal-length rows; "
            f"could not read it as numbers ({exc})."
        )
        raise ValueError(msg) from exc
    if array.ndim not in (1, 2):
        msg = f"{name} must be 1-D (a vector) or 2-D (one vector per row), got shape {array.shape}."
        raise ValueError(msg)
    if array.shape[-1] == 0:
        msg = f"{name} is empty (shape {array.shape}); vectors need at least one value."
        raise ValueError(msg)
    return array


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x, y = _as_array(a, "a"), _as_array(b, "b")
    if x.shape[-1] != y.shape[-1]:
        msg = (
            f"Vector sizes differ: a has {x.shape[-1]} values, b has {y.shape[-1]}. "
            "Compare vectors made by the same embedding model (and the same dimensions)."
        )
        raise DimensionMismatchError(msg)
    return x, y


def _finish(result: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64]) -> Any:
    if x.ndim == 1 and y.ndim == 1:
        return float(result)
    return result


def _products(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(x @ y.T, dtype=np.float64)


@overload
def inner_product(a: Vector, b: Vector) -> float: ...
@overload
def inner_product(a: Vector | Matrix, b: Matrix) -> NDArray[np.float64]: ...
@overload
def inner_product(a: Matrix, b: Vector | Matrix) -> NDArray[np.float64]: ...
@overload
def inner_product(a: ArrayLike, b: ArrayLike) -> float | NDArray[np.float64]: ...
def inner_product(a: ArrayLike, b: ArrayLike) -> float | NDArray[np.float64]:
    """Dot product of two vectors, or of every row pair of two matrices.

    Equals cosine similarity for unit vectors (every class here normalizes by default).

    Example:
        >>> inner_product([1.0, 2.0], [3.0, 4.0])
        11.0
        >>> inner_product([1.0, 0.0], [[1.0, 0.0], [0.0, 2.0]]).tolist()
        [1.0, 0.0]
    """
    x, y = _pair(a, b)
    return _finish(_products(x, y), x, y)


@overload
def cosine_similarity(a: Vector, b: Vector) -> float: ...
@overload
def cosine_similarity(a: Vector | Matrix, b: Matrix) -> NDArray[np.float64]: ...
@overload
def cosine_similarity(a: Matrix, b: Vector | Matrix) -> NDArray[np.float64]: ...
@overload
def cosine_similarity(a: ArrayLike, b: ArrayLike) -> float | NDArray[np.float64]: ...
def cosine_similarity(a: ArrayLike, b: ArrayLike) -> float | NDArray[np.float64]:
    """Cosine of the angle between two vectors (1 same direction, 0 orthogonal, -1 opposite).

    A zero vector has no direction; its similarity to anything is 0.0 (not NaN).

    Example:
        >>> cosine_similarity([1.0, 0.0], [1.0, 1.0])
        0.7071067811865475
        >>> cosine_similarity([[1.0, 0.0], [0.0, 1.0]], [[2.0, 0.0]]).tolist()
        [[1.0], [0.0]]
    """
    x, y = _pair(a, b)
    norms = np.multiply.outer(np.linalg.norm(x, axis=-1), np.linalg.norm(y, axis=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.where(norms > 0, _products(x, y) / np.where(norms > 0, norms, 1.0), 0.0)
    # Rounding can push the cosine of (nearly) equal vectors just past 1.
    return _finish(np.clip(result, -1.0, 1.0), x, y)


@overload
def l2_distance(a: Vector, b: Vector) -> float: ...
@overload
def l2_distance(a: Vector | Matrix, b: Matrix) -> NDArray[np.float64]: ...
@overload
def l2_distance(a: Matrix, b: Vector | Matrix) -> NDArray[np.float64]: ...
@overload
def l2_distance(a: ArrayLike, b: ArrayLike) -> float | NDArray[np.float64]: ...
def l2_distance(a: ArrayLike, b: ArrayLike) -> float | NDArray[np.float64]:
    """Euclidean distance (not squared) between two vectors, or between every row pair.

    For unit vectors ``l2_distance(a, b) ** 2 == 2 - 2 * cosine_similarity(a, b)``.

    Example:
        >>> l2_distance([0.0, 0.0], [3.0, 4.0])
        5.0
        >>> l2_distance([[0.0, 0.0]], [[3.0, 4.0], [0.0, 1.0]]).tolist()
        [[5.0, 1.0]]
    """
    x, y = _pair(a, b)
    if x.ndim == 2 and y.ndim == 2:
        # Exact differences (no |x|^2 + |y|^2 - 2xy cancellation), in row blocks that keep
        # the temporary array near 4M values.
        step = max(1, 4_000_000 // max(1, y.shape[0] * y.shape[1]))
        blocks = [
            np.sqrt(np.sum((x[i : i + step, None, :] - y[None, :, :]) ** 2, axis=-1))
            for i in range(0, x.shape[0], step)
        ]
        return np.concatenate(blocks, axis=0)
    diff = x - y
    return _finish(np.sqrt(np.sum(diff * diff, axis=-1)), x, y)
