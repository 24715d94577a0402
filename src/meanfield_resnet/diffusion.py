"""Diffusion K(x) of the Fokker-Planck model ∂_t f + ∂_x(σ(wx+b) f) = ∂_xx(K f).

K is held in one numba-friendly form: a polynomial Σ c_k x^k (constant K is one coefficient)
or a table of values on a uniform grid, linearly interpolated and held constant outside.
``fit_target`` builds K from a target density g on [a1, a2] so that g is the zero-flux
steady state, ∂_x(K g) = σ(wx+b) g:

    K(x) = (1/g(x)) ∫_{a1}^{x} σ(wy + b) g(y) dy,   b = -w mean(g)  (σ = identity, w < 0).

Closed forms: Gaussian N(μ, s²): K = |w| s²; uniform U[a1, a2]: K = (|w|/2)(x-a1)(a2-x),
which degenerates (K = 0) at the ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._jit import jit
from .distributions import Distribution

POLYNOMIAL, TABLE = 0, 1


@dataclass(frozen=True)
class Diffusion:
    """K(x): ``kind`` POLYNOMIAL with ``values`` = coefficients c_0, c_1, ..., or TABLE with
    ``values`` at x0 + i·dx."""

    kind: int
    values: np.ndarray
    x0: float = 0.0
    dx: float = 1.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        out = np.empty(x.size)
        evaluate_many(x.ravel(), self.kind, self.values, self.x0, self.dx, out)
        return out.reshape(x.shape)

    @property
    def args(self) -> tuple:
        """Arguments for the numba kernels."""
        return self.kind, self.values, self.x0, self.dx


@jit
def evaluate(x: float, kind: int, values: np.ndarray, x0: float, dx: float) -> float:
    """K(x) for either representation."""
    if kind == POLYNOMIAL:
        acc = 0.0
        for k in range(values.size - 1, -1, -1):
            acc = acc * x + values[k]
        return acc
    s = (x - x0) / dx
    if s <= 0.0:
        return values[0]
    n = values.size - 1
    if s >= n:
        return values[n]
    i = int(s)
    r = s - i
    return (1.0 - r) * values[i] + r * values[i + 1]


@jit
def evaluate_many(x, kind, values, x0, dx, out):
    for i in range(x.size):
        out[i] = evaluate(x[i], kind, values, x0, dx)


def constant(value: float) -> Diffusion:
    return Diffusion(POLYNOMIAL, np.array([float(value)]))


def fit_target(target: Distribution, weight: float, points: int = 4097) -> tuple[Diffusion, float]:
    """K(x) and bias b whose Fokker-Planck steady state (σ = identity) is the target law."""
    w = float(weight)
    if w >= 0:
        raise ValueError("fitting a target needs weight w < 0 (an attracting drift)")
    mu = float(target.mean()[0])
    bias = -w * mu
    if target.kind == "gaussian":
        return constant(abs(w) * float(target.std[0]) ** 2), bias
    a1, a2 = target.support()[0]
    x = np.linspace(a1, a2, points)
    if target.kind == "uniform":
        k = 0.5 * abs(w) * (x - a1) * (a2 - x)
    else:
        from scipy.integrate import cumulative_trapezoid  # imported where used: every job
        # imports this module, few fit a diffusion, and scipy.integrate takes ~0.5 s

        g = target.density_1d(x)
        flux = cumulative_trapezoid((w * x + bias) * g, x, initial=0.0)
        k = np.where(g > 1e-300, flux / np.maximum(g, 1e-300), 0.0)
        k = np.maximum(k, 0.0)
    return Diffusion(TABLE, k, x0=float(a1), dx=float(x[1] - x[0])), bias


def from_spec(
    spec: dict | None, target: Distribution | None = None, weight: float = -1.0
) -> tuple[Diffusion | None, float | None]:
    """Diffusion (and the derived bias for ``fit_target``) from a validated config entry."""
    if spec is None:
        return None, None
    if spec["kind"] == "constant":
        return constant(spec["value"]), None
    if spec["kind"] == "polynomial":
        return Diffusion(POLYNOMIAL, np.asarray(spec["coefficients"], dtype=float)), None
    return fit_target(target, weight)
