"""Activation functions σ of the residual network x^{k+1} = x^k + dt σ(W x^k + b).

Each activation has an integer code so that numba kernels can take it as an argument
(parameters go in as arguments, never as globals frozen at compile time).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import float_from_bits, jit

ACTIVATIONS = ("identity", "tanh", "sigmoid", "relu")


def activation_code(name: str) -> int:
    """Integer code of an activation name (``identity``, ``tanh``, ``sigmoid``, ``relu``)."""
    try:
        return ACTIVATIONS.index(name)
    except ValueError:
        raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}") from None


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that n * _LN2_HI is exact (fdlibm)
_LN2_LO = 1.90821492927058770002e-10


@jit(inline=True)
def expm1_nonpositive(a: float) -> float:
    """e^a - 1 for -40 <= a <= 0, written so that numba vectorises it (no libm call).

    Range reduction a = n ln 2 + r with |r| <= ln 2 / 2, the degree-13 Taylor polynomial of
    e^r - 1 (truncation below 1e-17 relative), 2^n built from its bit pattern, and
    e^a - 1 = 2^n (e^r - 1) + (2^n - 1), which keeps full relative accuracy near a = 0.
    """
    n = math.floor(a * _LOG2E + 0.5)
    r = (a - n * _LN2_HI) - n * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = (p * r + 1.0) * r
    scale = float_from_bits((np.int64(n) + 1023) << 52)
    return scale * p + (scale - 1.0)


@jit(inline=True)
def tanh(y: float) -> float:
    """tanh y = sign(y) (1 - e)/(1 + e), e = e^{-2|y|}, as -m/(2 + m) with m = e^{-2|y|} - 1.

    Vectorisable (about 4e-16 absolute error against math.tanh); |y| >= 20 gives ±1, which
    is tanh y rounded to double. NaN propagates.
    """
    a = -2.0 * abs(y)
    if a < -40.0:
        a = -40.0
    m = expm1_nonpositive(a)
    return math.copysign(-m / (2.0 + m), y)


@jit
def sigma(code: int, y: float) -> float:
    """σ(y) for the activation with the given code (sigmoid as (1 + tanh(y/2))/2)."""
    if code == 0:
        return y
    if code == 1:
        return tanh(y)
    if code == 2:
        return 0.5 + 0.5 * tanh(0.5 * y)
    return y if y > 0.0 else 0.0


@jit
def sigma_inplace(code: int, y: np.ndarray, n: int) -> None:
    """y[:n] = σ(y[:n]), one loop per activation so that each vectorises."""
    if code == 1:
        for i in range(n):
            y[i] = tanh(y[i])
    elif code == 2:
        for i in range(n):
            y[i] = 0.5 + 0.5 * tanh(0.5 * y[i])
    elif code == 3:
        for i in range(n):
            y[i] = max(y[i], 0.0)


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
