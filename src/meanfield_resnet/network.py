"""The residual network itself: data as particles pushed through the layers.

Deterministic ResNet (explicit Euler of the neural ODE dx/dt = σ(W x + b)):

    x_i^{k+1} = x_i^k + dt σ(W^k x_i^k + b^k),   dt = T / L,

with W^k, b^k piecewise constant in time, or the feedback bias b^k = β m_1^k / m_0 (the data
interact through their mean). Stochastic ResNet (Euler-Maruyama of dX = σ(WX+b)dt + √(2K(X))dB):

    x_i^{k+1} = x_i^k + dt σ(W^k x_i^k + b^k) + √(2 dt K(x_i^k)) ξ_i^k,   ξ ~ N(0, I).

The normal numbers come from numpy's Generator, layer by layer, outside the kernels, so the
result does not depend on the number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import jit, subnormals_flushed
from .activations import activation_code, sigma_inplace
from .diffusion import Diffusion, evaluate

OVERFLOW = 1e100  # |x| beyond this is divergence, not data
BLOCK = 1024  # particles per tile: each tile runs the layer loop in cache (vectorises)


@jit
def _load_tile(x, start, n, tile):
    """tile[r, :n] = x[start:start+n, r] (structure of arrays: particles innermost)."""
    for r in range(x.shape[1]):
        for i in range(n):
            tile[r, i] = x[start + i, r]


@jit
def _tile(x, blk):
    """(start, size, the particles of tile ``blk`` as structure of arrays (d, BLOCK), a buffer
    of the same shape for the drift)."""
    m, d = x.shape
    start = blk * BLOCK
    n = min(m, start + BLOCK) - start
    tile, v = np.empty((d, BLOCK)), np.empty((d, BLOCK))
    _load_tile(x, start, n, tile)
    return start, n, tile, v


@jit
def _store_tile(tile, start, n, x):
    for r in range(x.shape[1]):
        for i in range(n):
            x[start + i, r] = tile[r, i]


@jit
def _drift_tile(code, weight, bias, tile, n, out):
    """out[r, :n] = σ(W tile + b)_r for the n particles of a tile (d = 1 or 2)."""
    d = tile.shape[0]
    for r in range(d):
        b, w = bias[r], weight[r, 0]
        for i in range(n):
            out[r, i] = b + w * tile[0, i]
        for c in range(1, d):
            w = weight[r, c]
            for i in range(n):
                out[r, i] += w * tile[c, i]
        sigma_inplace(code, out[r], n)


@jit(parallel=True)
def advance_deterministic(x, code, weights, biases, dt, k0, k1):
    """Layers k0..k1-1 of the deterministic ResNet on x (M, d), in place: the particles are
    cut into tiles of BLOCK, and each tile runs through all the layers while in cache."""
    m, d = x.shape
    for blk in prange((m + BLOCK - 1) // BLOCK):
        start, n, tile, v = _tile(x, blk)
        for k in range(k0, k1):
            _drift_tile(code, weights[k], biases[k], tile, n, v)
            for r in range(d):
                for i in range(n):
                    tile[r, i] += dt * v[r, i]
        _store_tile(tile, start, n, x)


@jit(parallel=True)
def advance_layer(x, code, weight, bias, dt, noise, kind, values, x0, dx):
    """One layer on x (M, d), in place; ``noise`` (M, d) standard normals, or shape (0, d) for
    none. Diffusion K is evaluated per component at the layer's input (isotropic noise)."""
    m, d = x.shape
    stochastic = noise.shape[0] == m
    for blk in prange((m + BLOCK - 1) // BLOCK):
        start, n, tile, v = _tile(x, blk)
        _drift_tile(code, weight, bias, tile, n, v)
        for r in range(d):
            for i in range(n):
                step = dt * v[r, i]
                if stochastic:
                    k = evaluate(tile[r, i], kind, values, x0, dx)
                    step += math.sqrt(2.0 * dt * max(k, 0.0)) * noise[start + i, r]
                tile[r, i] += step
        _store_tile(tile, start, n, x)


def layer_parameters(segments, layers: int, final_time: float) -> tuple[np.ndarray, np.ndarray]:
    """W^k (L, d, d) and b^k (L, d) from piecewise constant segments, sampled at t_k = k dt."""
    t = np.arange(layers) * (final_time / layers)
    index = np.searchsorted([s.until for s in segments], t, side="right")
    index = np.minimum(index, len(segments) - 1)
    weights = np.stack([segments[j].weight for j in index])
    biases = np.stack([segments[j].bias for j in index])
    return weights, biases


@subnormals_flushed()
def simulate(
    x0: np.ndarray,
    activation: str,
    segments,
    final_time: float,
    layers: int,
    record_layers: np.ndarray,
    feedback: float | None = None,
    diffusion: Diffusion | None = None,
    rng: np.random.Generator | None = None,
    log=None,
) -> np.ndarray:
    """Push the data x0 (M, d) through L layers; return the states at ``record_layers``
    (sorted layer indices in 0..L), shape (len(record_layers), M, d)."""
    x = np.array(x0, dtype=float, order="C", copy=True)
    m, d = x.shape
    code = activation_code(activation)
    dt = final_time / layers
    weights, biases = layer_parameters(segments, layers, final_time)
    per_layer = feedback is not None or diffusion is not None
    if diffusion is not None and rng is None:
        raise ValueError("the stochastic network needs a random generator")
    kargs = diffusion.args if diffusion is not None else (0, np.zeros(1), 0.0, 1.0)
    # one buffer for the normals, refilled every layer (a fresh array per layer costs page
    # faults; the numbers are the same: out= fills in the same order)
    noise = np.empty((m, d) if diffusion is not None else (0, d))
    out = np.empty((len(record_layers), m, d))
    k = 0
    for j, target in enumerate(record_layers):
        if not per_layer:
            advance_deterministic(x, code, weights, biases, dt, k, target)
            k = target
        while k < target:
            bias = feedback * x.mean(axis=0) if feedback is not None else biases[k]
            if diffusion is not None:
                rng.standard_normal(out=noise)
            advance_layer(x, code, weights[k], bias, dt, noise, *kargs)
            k += 1
        if not np.all(np.isfinite(x)) or np.abs(x).max() > OVERFLOW:
            raise FloatingPointError(
                f"network state not finite or beyond {OVERFLOW:g} at layer {k} (t = {k * dt:g}):"
                " the layers diverge"
            )
        out[j] = x
        if log is not None:
            log(f"layer {k}/{layers} (t = {k * dt:g})")
    return out
