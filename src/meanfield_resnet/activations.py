"""Activation functions σ of the residual network x^{k+1} = x^k + dt σ(W x^k + b): the
registry every other part of the package reads.

An entry (:class:`Activation`) holds σ and σ' for numpy, sup|σ'| (the Lipschitz constant that
bounds the network's and the solvers' steps) and, where one is known, the closed-form flow
of the characteristic equation. With y = w x + b the characteristics dx/dt = σ(w x + b)
become dy/ds = σ(y) in s = w t, so one map y(s; y0) serves every w and b
(:func:`characteristic`). Where no closed form exists, the flow is integrated to round-off
(DOP853, relative tolerance 1e-13) for the exact solutions; the Vlasov solver's moving box
then follows its edges in its own Runge-Kutta stages.

The compiled kernels take an activation by its integer code (its place in the registry):
parameters go into kernels as arguments, never as globals frozen at compile time.
:func:`sigma` (one value) and :func:`sigma_inplace` (an array, one loop per activation so
that each vectorises) dispatch on it.

Adding an activation is one edit of this module: its scalar kernel, its branch in
:func:`sigma` and :func:`sigma_inplace` (and in :func:`closed_flow`, where its flow has a
closed form), and its entry in ``REGISTRY``; the configuration
schema, the sweep table, the steady-state study and the parametrised tests take it from
there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._jit import bits_from_float, float_from_bits, fma, jit

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that n * _LN2_HI is exact (fdlibm)
_LN2_LO = 1.90821492927058770002e-10
_ROUND = 6755399441055744.0  # 1.5 * 2^52: x + _ROUND - _ROUND rounds x to an integer
_EXPM1_TAYLOR = tuple(1.0 / math.factorial(k + 2) for k in range(12))  # 1/2!, ..., 1/13!


@jit(inline=True)
def expm1_nonpositive(a: float) -> float:
    """e^a - 1 for -40 <= a <= 0, written so that numba vectorises it (no libm call).

    Range reduction a = n ln 2 + r with |r| <= ln 2 / 2 (n rounded by adding 1.5·2^52, which
    leaves n in the low bits of the sum); e^r - 1 = r + r² P(r) with P the Taylor polynomial
    1/2! + r/3! + ... + r^11/13! (truncation below 1e-17 relative), evaluated by Estrin's
    scheme with fused multiply-adds (a dependency chain of 5 instead of Horner's 12, so that
    the vectorised loop is not bound by latency); 2^n from its bit pattern (integer lanes
    only: a float-to-integer conversion does not vectorise without AVX-512); and
    e^a - 1 = 2^n (e^r - 1) + (2^n - 1), which keeps full relative accuracy near a = 0.
    """
    shifted = a * _LOG2E + _ROUND
    n = shifted - _ROUND
    r = (a - n * _LN2_HI) - n * _LN2_LO
    c = _EXPM1_TAYLOR
    r2 = r * r
    r4 = r2 * r2
    low = fma(fma(c[3], r, c[2]), r2, fma(c[1], r, c[0]))  # degrees 0-3 of P
    mid = fma(fma(c[7], r, c[6]), r2, fma(c[5], r, c[4]))  # 4-7
    high = fma(fma(c[11], r, c[10]), r2, fma(c[9], r, c[8]))  # 8-11
    em = fma(r2, fma(fma(high, r4, mid), r4, low), r)
    scale = float_from_bits((bits_from_float(shifted) + 1023) << 52)
    return fma(scale, em, scale - 1.0)


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


@jit(inline=True)
def sigmoid(y: float) -> float:
    """1/(1 + e^{-y}) = (1 + tanh(y/2))/2 (vectorisable through :func:`tanh`)."""
    return 0.5 + 0.5 * tanh(0.5 * y)


LEAKY_SLOPE = 0.1  # σ(y) = y for y > 0, LEAKY_SLOPE·y otherwise


@jit(inline=True)
def leaky_relu(y: float) -> float:
    """max(y, a y) with a = LEAKY_SLOPE."""
    return y if y > 0.0 else LEAKY_SLOPE * y


@jit(inline=True)
def softplus(y: float) -> float:
    """log(1 + e^y) = max(y, 0) + log1p(e^{-|y|}), without overflow."""
    return max(y, 0.0) + math.log1p(math.exp(-abs(y)))


# codes: the place of each activation in REGISTRY (the tests check every code's kernels
# against its entry)
IDENTITY, TANH, SIGMOID, RELU, LEAKY_RELU, SOFTPLUS = range(6)


@jit
def sigma(code: int, y: float) -> float:
    """σ(y) for the activation with the given code."""
    if code == IDENTITY:
        return y
    if code == TANH:
        return tanh(y)
    if code == SIGMOID:
        return sigmoid(y)
    if code == RELU:
        return y if y > 0.0 else 0.0
    if code == LEAKY_RELU:
        return leaky_relu(y)
    if code == SOFTPLUS:
        return softplus(y)
    return math.nan


@jit
def sigma_inplace(code: int, y: np.ndarray, n: int) -> None:
    """y[:n] = σ(y[:n]), one loop per activation so that each vectorises."""
    if code == TANH:
        for i in range(n):
            y[i] = tanh(y[i])
    elif code == SIGMOID:
        for i in range(n):
            y[i] = sigmoid(y[i])
    elif code == RELU:
        for i in range(n):
            y[i] = max(y[i], 0.0)
    elif code == LEAKY_RELU:
        for i in range(n):
            y[i] = leaky_relu(y[i])
    elif code == SOFTPLUS:
        for i in range(n):
            y[i] = softplus(y[i])
    elif code != IDENTITY:
        for i in range(n):
            y[i] = math.nan


@jit(inline=True)
def sigma_slope(code: int, s: float) -> float:
    """σ'(y) from s = σ(y) (every activation's derivative is a function of its value; ReLU
    and leaky ReLU take their right-hand slope at the kink only where s > 0)."""
    if code == IDENTITY:
        return 1.0
    if code == TANH:
        return 1.0 - s * s
    if code == SIGMOID:
        return s * (1.0 - s)
    if code == RELU:
        return 1.0 if s > 0.0 else 0.0
    if code == LEAKY_RELU:
        return 1.0 if s > 0.0 else LEAKY_SLOPE
    if code == SOFTPLUS:
        return -math.expm1(-s)  # σ' = sigmoid(y) = 1 - e^{-σ(y)}
    return math.nan


@jit
def sigma_slope_inplace(code: int, s: np.ndarray, out: np.ndarray, n: int) -> None:
    """out[:n] = σ'(y) from s[:n] = σ(y) (:func:`sigma_slope`), one loop per activation."""
    if code == IDENTITY:
        for i in range(n):
            out[i] = 1.0
    elif code == TANH:
        for i in range(n):
            out[i] = 1.0 - s[i] * s[i]
    elif code == SIGMOID:
        for i in range(n):
            out[i] = s[i] * (1.0 - s[i])
    else:
        for i in range(n):
            out[i] = sigma_slope(code, s[i])


@jit(inline=True)
def lambertw_of_exp_scalar(L: float) -> float:
    """W0(e^L), the w > 0 with w + ln w = L, by Newton's method on that form (no overflow
    for large L, full relative accuracy for w -> 0): w <- w (1 + L - ln w)/(1 + w) from
    e^L (L < 1) or L - ln L, iterated until it stops moving (at most 60 times). NaN and
    +inf propagate."""
    if not L < math.inf:
        return L
    w = math.exp(L) if L < 1.0 else L - math.log(L)
    for _ in range(60):
        new = w * (1.0 + L - math.log(w)) / (1.0 + w)
        if abs(new - w) <= 4e-16 * new:
            return new
        w = new
    return w


@jit
def closed_flow(code: int, y0: float, s: float) -> float:
    """y(s) of dy/ds = σ(y), y(0) = y0, in closed form (the registry's ``flow``, compiled for
    the solver's moving frame); NaN for an activation without one."""
    if code == IDENTITY:
        return y0 * math.exp(s)
    if code == TANH:
        return math.asinh(math.sinh(y0) * math.exp(s))
    if code == SIGMOID:
        u = y0 - math.exp(-y0) + s
        return u + lambertw_of_exp_scalar(-u)
    if code == RELU:
        return y0 * math.exp(s) if y0 > 0.0 else y0
    if code == LEAKY_RELU:
        return y0 * math.exp((1.0 if y0 > 0.0 else LEAKY_SLOPE) * s)
    return math.nan


# ---- the registry: numpy forms, slope bounds, characteristic flows ------------------------


@dataclass(frozen=True)
class Activation:
    """What the package needs of one activation σ.

    ``flow(y0, s)`` solves dy/ds = σ(y), y(0) = y0, in closed form (None: no closed form;
    :func:`flow` integrates it)."""

    name: str
    formula: str
    function: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    slope_bound: float
    flow: Callable[[np.ndarray, float], np.ndarray] | None = None


def _sigmoid_np(y):
    return 0.5 * (1.0 + np.tanh(0.5 * y))


def _sigmoid_flow(y0, s):
    """∫ dy/σ(y) = ∫ (1 + e^{-y}) dy = y - e^{-y}, so y - e^{-y} = u := y0 - e^{-y0} + s,
    solved by y = u + W0(e^{-u}) (Lambert W)."""
    u = y0 - np.exp(-y0) + s
    return u + lambertw_of_exp(-u)


def lambertw_of_exp(L):
    """W0(e^L) without overflow: direct for L < 600, else Newton on w + ln w = L."""
    from scipy.special import lambertw  # only the exact solutions need it

    L = np.asarray(L, dtype=float)
    small = L < 600
    out = np.empty_like(L)
    out[small] = np.real(lambertw(np.exp(L[small])))
    w = L[~small] - np.log(L[~small])
    for _ in range(8):
        w = w - (w + np.log(w) - L[~small]) / (1 + 1 / w)
    out[~small] = w
    return out


REGISTRY: tuple[Activation, ...] = (
    Activation(
        "identity", "σ(y) = y", lambda y: y.copy(), np.ones_like, 1.0,
        flow=lambda y0, s: y0 * np.exp(s),
    ),
    Activation(
        "tanh", "σ(y) = tanh y", np.tanh, lambda y: 1.0 - np.tanh(y) ** 2, 1.0,
        flow=lambda y0, s: np.arcsinh(np.sinh(y0) * np.exp(s)),  # sinh y(s) = e^s sinh y0
    ),
    Activation(
        "sigmoid", "σ(y) = 1/(1 + e^-y)", _sigmoid_np,
        lambda y: _sigmoid_np(y) * (1.0 - _sigmoid_np(y)), 0.25, flow=_sigmoid_flow,
    ),
    Activation(
        "relu", "σ(y) = max(y, 0)", lambda y: np.maximum(y, 0.0),
        lambda y: (y > 0).astype(float), 1.0,
        flow=lambda y0, s: np.where(y0 > 0, y0 * np.exp(s), y0),
    ),
    Activation(
        "leaky_relu", f"σ(y) = max(y, {LEAKY_SLOPE:g} y)",
        lambda y: np.where(y > 0, y, LEAKY_SLOPE * y),
        lambda y: np.where(y > 0, 1.0, LEAKY_SLOPE), 1.0,
        flow=lambda y0, s: y0 * np.exp(np.where(y0 > 0, 1.0, LEAKY_SLOPE) * s),
    ),
    # ∫ dy / log(1 + e^y) has no closed form: the flow is integrated (flow=None)
    Activation(
        "softplus", "σ(y) = log(1 + e^y)", lambda y: np.logaddexp(0.0, y), _sigmoid_np, 1.0,
    ),
)  # fmt: skip

ACTIVATIONS: tuple[str, ...] = tuple(a.name for a in REGISTRY)
_BY_NAME = {a.name: a for a in REGISTRY}


def activation(name: str) -> Activation:
    """The registry's entry of an activation name."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}") from None


def activation_code(name: str) -> int:
    """Integer code of an activation name: its place in the registry."""
    activation(name)
    return ACTIVATIONS.index(name)


def has_closed_flow(name: str) -> bool:
    """Whether the characteristic flow of σ is known in closed form."""
    return activation(name).flow is not None


def sigma_slope_bound(code: int) -> float:
    """sup |σ'|, the Lipschitz constant of σ."""
    return REGISTRY[code].slope_bound


def sigma_numpy(name: str, y: np.ndarray) -> np.ndarray:
    """σ(y) applied to an array with numpy (for exact solutions and plots)."""
    return activation(name).function(np.asarray(y, dtype=float))


def sigma_derivative(name: str, y: np.ndarray) -> np.ndarray:
    """σ'(y) applied to an array with numpy."""
    return activation(name).derivative(np.asarray(y, dtype=float))


def flow(name: str, y0, s: float) -> np.ndarray:
    """y(s) of dy/ds = σ(y), y(0) = y0 (s < 0: backward): the closed form, or else an
    adaptive 8th-order integration (DOP853) to a relative tolerance of 1e-13."""
    entry = activation(name)
    y0 = np.asarray(y0, dtype=float)
    if entry.flow is not None or s == 0.0:
        return entry.flow(y0, s) if entry.flow is not None else y0.copy()
    from scipy.integrate import solve_ivp

    flat = y0.ravel()
    sol = solve_ivp(
        lambda _, y: entry.function(y), (0.0, s), flat, method="DOP853", rtol=1e-13,
        atol=1e-13 * (1.0 + np.abs(flat)), t_eval=[s],
    )  # fmt: skip
    if not sol.success:
        raise FloatingPointError(f"characteristic flow of {name} failed: {sol.message}")
    return sol.y[:, -1].reshape(y0.shape)
