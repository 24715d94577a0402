"""The residual network itself: data as particles pushed through the layers.

Deterministic ResNet (explicit Euler of the neural ODE dx/dt = σ(W x + b)):

    x_i^{k+1} = x_i^k + dt σ(W^k x_i^k + b^k),   dt = T / L,

with W^k, b^k piecewise constant in time, or the feedback bias b^k = β m_1^k / m_0 (the data
interact through their mean). Stochastic ResNet (Euler-Maruyama of dX = σ(WX+b)dt + √(2K(X))dB):

    x_i^{k+1} = x_i^k + dt σ(W^k x_i^k + b^k) + √(2 dt K(x_i^k)) ξ_i^k,   ξ ~ N(0, I).

The normal numbers are generated inside the kernels by a counter-based generator
(Philox4x64-10 and Box-Muller, :mod:`.normals`): ξ_{i,r}^k is number i of the stream
(layer k, component r) under a 64-bit key drawn once per run from the job's generator. It is
a function of (key, i, k, r) alone, so the results depend neither on the number of threads
nor on the tiling nor on the number of particles beside particle i.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import jit, subnormals_flushed
from .activations import activation_code, sigma_inplace
from .diffusion import POLYNOMIAL, Diffusion, evaluate
from .normals import fill_normals

OVERFLOW = 1e100  # |x| beyond this is divergence, not data
BLOCK = 1024  # particles per tile: each tile runs the layer loop in cache (vectorises)
# a multiple of 4: a tile starts at a whole Philox block of its normal streams


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


@jit
def _amplitude(tile_r, n, scale, kind, values, x0, dx, out):
    """out[:n] = sqrt(scale max(K(tile_r[:n]), 0)), K at the layer's input; a constant K is one
    number out[0] (returns whether it is)."""
    if kind == POLYNOMIAL and values.size == 1:
        out[0] = math.sqrt(scale * max(values[0], 0.0))
        return True
    for i in range(n):
        out[i] = math.sqrt(scale * max(evaluate(tile_r[i], kind, values, x0, dx), 0.0))
    return False


@jit(parallel=True)
def advance_stochastic(x, code, weights, biases, dt, k0, k1, key, kind, values, x0, dx):
    """Layers k0..k1-1 of the stochastic ResNet (Euler-Maruyama) on x (M, d), in place, tiled
    like ``advance_deterministic``. ``key`` (uint64): the normals' key; particle i's normal at
    layer k, component r is number i of stream (k, r) (:func:`.normals.fill_normals`), made
    in the tile as it is needed. Diffusion K is evaluated per component at the layer's input
    (isotropic noise)."""
    m, d = x.shape
    scale = 2.0 * dt
    zero = np.uint64(0)
    for blk in prange((m + BLOCK - 1) // BLOCK):
        start, n, tile, v = _tile(x, blk)
        z, amp = np.empty(BLOCK), np.empty(BLOCK)
        drawn = z[: (n + 3) // 4 * 4]
        for k in range(k0, k1):
            _drift_tile(code, weights[k], biases[k], tile, n, v)
            for r in range(d):
                fill_normals(key, zero, np.uint64(k), np.uint64(r), start // 4, drawn)
                if _amplitude(tile[r], n, scale, kind, values, x0, dx, amp):
                    a = amp[0]
                    for i in range(n):
                        tile[r, i] += dt * v[r, i] + a * z[i]
                else:
                    for i in range(n):
                        tile[r, i] += dt * v[r, i] + amp[i] * z[i]
        _store_tile(tile, start, n, x)


def layer_parameters(segments, layers: int, final_time: float) -> tuple[np.ndarray, np.ndarray]:
    """W^k (L, d, d) and b^k (L, d) from piecewise constant segments, sampled at t_k = k dt."""
    t = np.arange(layers) * (final_time / layers)
    index = np.searchsorted([s.until for s in segments], t, side="right")
    index = np.minimum(index, len(segments) - 1)
    weights = np.stack([segments[j].weight for j in index])
    biases = np.stack([segments[j].bias for j in index])
    return weights, biases


def advance(x, code, weights, biases, dt, k0, k1, diffusion, kargs) -> None:
    """Layers k0..k1-1 on x, in place: deterministic, or Euler-Maruyama with ``kargs`` =
    (key, diffusion arguments)."""
    if diffusion is None:
        advance_deterministic(x, code, weights, biases, dt, k0, k1)
    else:
        advance_stochastic(x, code, weights, biases, dt, k0, k1, *kargs)


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
    if diffusion is not None and rng is None:
        raise ValueError("the stochastic network needs a random generator")
    # the normals' key: one draw from the job's generator per run (a seed gives the same
    # numbers whatever the threads and tiles)
    kargs = () if diffusion is None else (rng.integers(0, 2**64, dtype=np.uint64), *diffusion.args)
    # with feedback, layer k's bias row is set from the mean just before the layer
    bias_rows = biases.copy() if feedback is not None else biases
    out = np.empty((len(record_layers), m, d))
    k = 0
    for j, target in enumerate(record_layers):
        if feedback is None:
            advance(x, code, weights, biases, dt, k, target, diffusion, kargs)
            k = target
        while k < target:
            bias_rows[k] = feedback * x.mean(axis=0)
            advance(x, code, weights, bias_rows, dt, k, k + 1, diffusion, kargs)
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
