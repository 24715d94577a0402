"""Backpropagation through the 1-D residual network: the particle gradient (discrete adjoint).

The network of docs/model.md §1.1 in 1-D, x_i^{k+1} = x_i^k + Δt σ(w_k x_i^k + b_k),
k = 0, ..., L-1, with (w_k, b_k) = (w_s, b_s) of the segment s that layer k starts in (as in
:func:`network.layer_parameters`), carries M points to x_i^L. For a loss J(x^L) on the
(weighted) empirical measure of the outputs (:mod:`.losses`), the discrete adjoint
p_i^k = ∂J/∂x_i^k runs backwards from p_i^L = ∂J/∂x_i^L:

    p_i^k = p_i^{k+1} (1 + Δt σ'(z_i^k) w_k),          z_i^k = w_k x_i^k + b_k,

    ∂J/∂w_s = Σ_{k in s} Σ_i p_i^{k+1} Δt σ'(z_i^k) x_i^k,
    ∂J/∂b_s = Σ_{k in s} Σ_i p_i^{k+1} Δt σ'(z_i^k),

the exact gradient of the discrete network (up to round-off). It is the particle counterpart
of the mean-field adjoint (:mod:`.adjoint`): p^k is the discrete λ_x along the particle's
path, and the sums over i are a Monte-Carlo quadrature of ∫ f ∂_θ v ∂_x λ dx.

Cost: the outputs x^L first (:func:`network.advance_deterministic`), then the loss's gradient
at them (for the energy distance it couples all points), then one compiled pass per tile of
``TILE`` points that recomputes the tile's states layer by layer (kept in the tile's buffer,
L × TILE numbers) and runs the adjoint back through them: two forward passes and one
backward pass, memory O(M + L·TILE·threads). The sums over the points are accumulated per
tile and added in tile order, so the result does not depend on the number of threads.
σ' at ReLU's kink (y = 0) is taken as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import prange

from . import network
from ._jit import jit, subnormals_flushed
from .activations import activation_code, sigma_inplace, sigma_slope_inplace

TILE = 256  # points per tile of the backward pass


@jit(parallel=True)
def backward(x0, code, weights, biases, dt, segment, segments, seed, partial, adjoint0):
    """The discrete adjoint of the layers for the points x0 (M,): ``weights``, ``biases``,
    ``segment`` (L,) per layer; ``seed`` (M,) = ∂J/∂x^L. Writes per tile and segment the
    partial sums of ∂J/∂w_s, ∂J/∂b_s into ``partial`` (tiles, segments, 2) and ∂J/∂x^0
    into ``adjoint0`` (M,).

    Per tile: a forward pass that keeps x^k and σ'(z^k) of every layer (the same operations
    as :func:`network.advance_deterministic`, so the same states to the bit), then the
    backward pass through them."""
    m, layers = x0.size, weights.size
    for blk in prange((m + TILE - 1) // TILE):
        start = blk * TILE
        n = min(m, start + TILE) - start
        states, slopes = np.empty((layers, TILE)), np.empty((layers, TILE))
        x, p, v = np.empty(TILE), np.empty(TILE), np.empty(TILE)
        for i in range(n):
            x[i] = x0[start + i]
            p[i] = seed[start + i]
        for k in range(layers):
            w, b = weights[k], biases[k]
            for i in range(n):
                states[k, i] = x[i]
                v[i] = b + w * x[i]
            sigma_inplace(code, v, n)
            sigma_slope_inplace(code, v, slopes[k], n)
            for i in range(n):
                x[i] += dt * v[i]
        for s in range(segments):
            partial[blk, s, 0] = 0.0
            partial[blk, s, 1] = 0.0
        for k in range(layers - 1, -1, -1):
            w = weights[k]
            sk, xk = slopes[k], states[k]
            for i in range(n):
                v[i] = dt * sk[i] * p[i]  # p^{k+1} Δt σ'(z^k): point i's ∂J/∂b_k
                p[i] += v[i] * w
            gw0, gw1, gb0, gb1 = 0.0, 0.0, 0.0, 0.0  # two accumulators each: a fixed order
            half = n // 2
            for i in range(half):
                gw0 += v[2 * i] * xk[2 * i]
                gw1 += v[2 * i + 1] * xk[2 * i + 1]
                gb0 += v[2 * i]
                gb1 += v[2 * i + 1]
            if n % 2 == 1:
                gw0 += v[n - 1] * xk[n - 1]
                gb0 += v[n - 1]
            partial[blk, segment[k], 0] += gw0 + gw1
            partial[blk, segment[k], 1] += gb0 + gb1
        for i in range(n):
            adjoint0[start + i] = p[i]


@dataclass
class ParticleGradient:
    """J on the network's outputs, dJ/dw_s and dJ/db_s per segment, ∂J/∂x_i^0, and x_i^L."""

    value: float
    weight: np.ndarray
    bias: np.ndarray
    inputs: np.ndarray
    outputs: np.ndarray

    @property
    def flat(self) -> np.ndarray:
        """(dJ/dw_0, dJ/db_0, dJ/dw_1, ...)."""
        return np.stack([self.weight, self.bias], axis=1).ravel()


def layer_segments(segments, layers: int, final_time: float):
    """Per layer: w_k, b_k and the index of its segment (the segment its start time k Δt lies
    in, as :func:`network.layer_parameters`)."""
    t = np.arange(layers) * (final_time / layers)
    index = np.searchsorted([s.until for s in segments], t, side="right")
    index = np.minimum(index, len(segments) - 1)
    w = np.array([_scalar(s.weight) for s in segments])[index]
    b = np.array([_scalar(s.bias) for s in segments])[index]
    return np.ascontiguousarray(w), np.ascontiguousarray(b), index.astype(np.int64)


def _scalar(v) -> float:
    v = np.asarray(v, dtype=float)
    if v.size != 1:
        raise ValueError("the particle gradient is for the 1-D network (scalar w, b)")
    return float(v.ravel()[0])


@subnormals_flushed()
def gradient(
    points,
    activation: str,
    segments,
    final_time: float,
    layers: int,
    loss,
    weights=None,
    labels=None,
) -> ParticleGradient:
    """The exact gradient of J(x^L) for the 1-D network with ``layers`` layers over
    [0, final_time] and the piecewise constant parameters ``segments``, from the data
    ``points`` (M,) with quadrature ``weights`` (default 1/M) and, for the classification
    loss, class ``labels``."""
    code = activation_code(activation)
    x0 = np.ascontiguousarray(np.asarray(points, dtype=float).ravel())
    w, b, index = layer_segments(segments, layers, final_time)
    dt = final_time / layers
    x = x0.copy().reshape(-1, 1)
    network.advance_deterministic(x, code, w.reshape(-1, 1, 1), b.reshape(-1, 1), dt, 0, layers)
    out = x[:, 0]
    if not np.all(np.isfinite(out)):
        raise FloatingPointError("network outputs not finite: the layers diverge")
    value = loss.empirical_value(out, weights, labels)
    seed = np.ascontiguousarray(loss.empirical_gradient(out, weights, labels), dtype=float)
    tiles = (x0.size + TILE - 1) // TILE
    partial = np.zeros((tiles, len(segments), 2))
    adjoint0 = np.empty_like(x0)
    backward(x0, code, w, b, dt, index, len(segments), seed, partial, adjoint0)
    total = partial.sum(axis=0)  # in tile order: independent of the thread count
    return ParticleGradient(value, total[:, 0].copy(), total[:, 1].copy(), adjoint0, out)
