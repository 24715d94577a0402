"""Activation functions σ of the residual network x^{k+1} = x^k + dt σ(W x^k + b).

Each activation has an integer code so that numba kernels can take it as an argument
(parameters go in as arguments, never as globals frozen at compile time).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit

ACTIVATIONS = ("identity", "tanh", "sigmoid", "relu")


def activation_code(name: str) -> int:
    """Integer code of an activation name (``identity``, ``tanh``, ``sigmoid``, ``relu``)."""
    try:
        return ACTIVATIONS.index(name)
    except ValueError:
        raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}") from None


@jit
def sigma(code: int, y: float) -> float:
    """σ(y) for the activation with the given code."""
    if code == 0:
        return y
    if code == 1:
        return math.tanh(y)
    if code == 2:
        if y >= 0.0:
            return 1.0 / (1.0 + math.exp(-y))
        e = math.exp(y)
        return e / (1.0 + e)
    return y if y > 0.0 else 0.0


@jit
def sigma_slope_bound(code: int) -> float:
    """sup |σ'|, the Lipschitz constant of σ (identity, tanh, ReLU: 1; sigmoid: 1/4)."""
    return 0.25 if code == 2 else 1.0


def sigma_numpy(name: str, y: np.ndarray) -> np.ndarray:
    """σ(y) applied to an array with numpy (for exact solutions and plots)."""
    y = np.asarray(y, dtype=float)
    if name == "identity":
        return y.copy()
    if name == "tanh":
        return np.tanh(y)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * y))
    if name == "relu":
        return np.maximum(y, 0.0)
    raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")
