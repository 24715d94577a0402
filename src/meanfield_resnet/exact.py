"""Exact solutions used to verify the solvers (docs/model.md §3).

1-D characteristics of dx/dt = σ(wx + b): with y = wx + b, dy/ds = σ(y) in s = wt, whose
flow each activation of the registry gives (``activations``), e.g.
- identity: y(s) = y0 e^s
- tanh:     sinh y(s) = sinh(y0) e^s
- ReLU:     y(s) = y0 e^s where y0 > 0, else y(s) = y0
- sigmoid:  y(s) = u + W0(e^{-u}),  u = y0 - e^{-y0} + s  (Lambert W)
The Vlasov solution is the push-forward f(t, x) = f_0(X0(t, x)) |∂X0/∂x| with X0 the
backward characteristic; cell masses are differences of the initial CDF at the backward
characteristics of the cell edges (1-D flows keep the order of the data).
Fokker-Planck with σ = identity and constant K: Ornstein-Uhlenbeck law.
"""

from __future__ import annotations

import numpy as np

from .activations import flow, sigma_derivative, sigma_numpy
from .distributions import Distribution, ndtr


def characteristic(activation: str, w: float, b: float, x0, t: float) -> np.ndarray:
    """x(t) of the neural ODE dx/dt = σ(wx + b) started at x0 (t < 0: backward)."""
    x0 = np.asarray(x0, dtype=float)
    if w == 0.0:
        return x0 + t * sigma_numpy(activation, np.full_like(x0, b))
    return (flow(activation, w * x0 + b, w * t) - b) / w


def cell_masses(
    initial: Distribution, activation: str, w: float, b: float, t: float, edges: np.ndarray
) -> np.ndarray:
    """Exact mass of each cell [e_i, e_{i+1}] of the 1-D Vlasov solution at time t."""
    back = characteristic(activation, w, b, edges, -t)
    return initial.axis_cdf_weights(0, back).mean(axis=0)  # mean over the kernels of a KDE


def density(
    initial: Distribution, activation: str, w: float, b: float, t: float, x: np.ndarray
) -> np.ndarray:
    """Exact Vlasov density f(t, x) = f_0(X0) |∂X0/∂x| (1-D), with ∂X0/∂x = v(X0)/v(x)."""
    x = np.asarray(x, dtype=float)
    x0 = characteristic(activation, w, b, x, -t)
    v, v0 = sigma_numpy(activation, w * x + b), sigma_numpy(activation, w * x0 + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        rest = np.exp(-w * t * sigma_derivative(activation, w * x + b))  # at a rest point
        jac = np.where(np.abs(v) > 1e-300, v0 / v, rest)
    return initial.density_1d(x0) * np.abs(jac)


def identity_moments(
    mean0, var0, w: float, b: float, t, feedback: float | None = None, mass: float = 1.0
) -> dict[str, np.ndarray]:
    """m0, m1, m2, mean, variance, energy = m2/m0 of the identity-activation Vlasov model.

    dμ/dt = wμ + b, V(t) = V0 e^{2wt}; the feedback bias b = β m_1/m_0 gives μ0 e^{(w+β)t}.
    """
    t = np.asarray(t, dtype=float)
    if feedback is not None:
        mean = mean0 * np.exp((w + feedback) * t)
    elif w == 0.0:
        mean = mean0 + b * t
    else:
        mean = (mean0 + b / w) * np.exp(w * t) - b / w
    var = var0 * np.exp(2 * w * t)
    m2 = mass * (var + mean**2)
    return {
        "m0": np.full_like(t, mass),
        "m1": mass * mean,
        "m2": m2,
        "mean": mean,
        "variance": var,
        "energy": m2 / mass,
    }


def ou_noise_variance(w: float, diffusion: float, t) -> np.ndarray:
    """Variance added by the noise: K (e^{2wt} - 1)/w  (= (K/|w|)(1 - e^{2wt}) for w < 0)."""
    t = np.asarray(t, dtype=float)
    return diffusion * 2 * t if w == 0 else diffusion * np.expm1(2 * w * t) / w


def ou_moments(mean0, var0, w: float, b: float, diffusion: float, t) -> dict[str, np.ndarray]:
    """Mean and variance of dX = (wX + b)dt + √(2K) dB: V = V0 e^{2wt} + K(e^{2wt}-1)/w."""
    m = identity_moments(mean0, var0, w, b, t)
    var = m["variance"] + ou_noise_variance(w, diffusion, t)
    m2 = var + m["mean"] ** 2
    return {**m, "variance": var, "m2": m2, "energy": m2}


def _integrated_ndtr(z):
    """∫_{-∞}^{z} Φ(s) ds = z Φ(z) + φ(z)."""
    return z * ndtr(z) + np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)


def ou_cell_masses(
    initial: Distribution, w: float, b: float, diffusion: float, t: float, edges: np.ndarray
) -> np.ndarray:
    """Exact cell masses of the Ornstein-Uhlenbeck Fokker-Planck solution (σ = identity,
    constant K) for a uniform or Gaussian initial law."""
    shift = lambda x: characteristic("identity", w, b, x, t)  # noqa: E731
    s2 = float(ou_noise_variance(w, diffusion, t))
    if initial.kind == "gaussian":
        mean = shift(initial.mean_[0])
        std = np.sqrt((initial.std[0] * np.exp(w * t)) ** 2 + s2)
        return np.diff(ndtr((edges - mean) / std))
    if initial.kind != "uniform":
        raise ValueError("exact OU cell masses need a uniform or Gaussian initial law")
    lo, hi = sorted((shift(initial.low[0]), shift(initial.high[0])))
    if s2 == 0.0:
        return np.diff(np.clip((edges - lo) / (hi - lo), 0, 1))
    s = np.sqrt(s2)
    # CDF of U[lo,hi] * N(0,s²) at x: (s/(hi-lo)) [I((x-lo)/s) - I((x-hi)/s)], I = ∫Φ
    cdf = s / (hi - lo) * (_integrated_ndtr((edges - lo) / s) - _integrated_ndtr((edges - hi) / s))
    return np.diff(cdf)
