"""Limited WENO5-Z fluxes and the fused forward-Euler stage of the Vlasov solver.

The density on the reference grid is a 2-D array g (rows, columns): one row in 1-D; in 2-D
the rows are along physical axis 0 and the columns along axis 1. One Shu-Osher stage

    out = α g0 + β (g - Δt Σ_r n_r (F_r[c+1] - F_r[c]))

is computed by one *pass* per axis that evaluates the face velocities, the limited fluxes
and the update in a single pass over memory (fluxes live in small per-thread buffers):

* the row pass differences along each row (contiguous, vectorised over the faces);
* the column pass differences down the columns (vectorised over the columns).

On every line of faces the velocity is affine in the coordinate along the line, so with
``offsets`` per line and one ``slope``:

    v = σ(offsets[line] + slope x_face),   ũ = (v - a' - (z' - a')(η_line + η_face)) / (z - a),

the relative velocity of the moving frame (vlasov.py). Each pass also returns, per work item,
max 2 d Δt n |ũ| (the limiter's bound, <= 1) and max |out| (the next stage's WENO scale).

A pass's geometry travels as one argument, the tuple (offsets, coords, across, along,
motion) of :class:`Geometry` (a plain tuple inside the kernels: numba dispatches a plain
tuple of arrays as fast as separate arrays, a named one three times slower).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
from numba import prange

from ._jit import bits_from_float, float_from_bits, jit
from .activations import sigma, sigma_inplace
from .parallel import PARALLEL_CELLS

SIXTH = 1.0 / 6.0  # multiplications, not divisions (divisions bound the kernel's speed)
SLOPE, DA, DZ, WIDTH = 0, 1, 2, 3  # the ``motion`` array: [slope, a', z', z - a]
COLUMN_BLOCK = 16  # rows per work item of the column pass (one extra flux row each)
# Cells of a row per work item of the row pass: a chunk's velocities, fluxes and density
# (2 KiB each) stay in L1; on 10^7 cells 14 % faster than 16384-cell items, alike on 2-D
# rows. No number depends on it, nor on COLUMN_BLOCK: each face flux is computed alike
# wherever an item starts (tested).
ROW_CHUNK = 256
MAGNITUDE = np.int64(0x7FFFFFFFFFFFFFFF)  # all bits of a float64 but its sign
MAX_DENSITY = 1e24  # |g| beyond this would overflow the WENO-Z weights' sixth powers


@jit(inline=True)
def magnitude_bits(x):
    """The bit pattern of |x|: ordered like |x|, NaN above inf (see bits_from_float)."""
    return bits_from_float(x) & MAGNITUDE


@jit(inline=True)
def weno5z(m2, m1, c, p1, p2, eps):
    """Fifth-order WENO-Z value at the right face of cell c from cells c-2..c+2: the three
    quadratic reconstructions q_k weighted by a_k = d_k (1 + (τ/(β_k + ε))²), d = (0.1, 0.6,
    0.3), τ = |β_0 - β_2|, β_k the Jiang-Shu smoothness indicators (Borges et al. 2008).

    One division: with D_k = β_k + ε the weights are scaled by (D_0 D_1 D_2)², e.g.
    a_0 ∝ 0.1 (D_1 D_2)² (D_0² + τ²). With β_k <= 40 max|g|² and ε >= 1e-40 the sixth
    powers stay within float64 while |g| <= MAX_DENSITY (checked by the solver)."""
    b0 = 13.0 / 12.0 * (m2 - 2 * m1 + c) ** 2 + 0.25 * (m2 - 4 * m1 + 3 * c) ** 2
    b1 = 13.0 / 12.0 * (m1 - 2 * c + p1) ** 2 + 0.25 * (m1 - p1) ** 2
    b2 = 13.0 / 12.0 * (c - 2 * p1 + p2) ** 2 + 0.25 * (3 * c - 4 * p1 + p2) ** 2
    tau2 = (b0 - b2) ** 2
    s0, s1, s2 = (b0 + eps) ** 2, (b1 + eps) ** 2, (b2 + eps) ** 2
    a0 = 0.1 * (s1 * s2) * (s0 + tau2)
    a1 = 0.6 * (s0 * s2) * (s1 + tau2)
    a2 = 0.3 * (s0 * s1) * (s2 + tau2)
    q0 = (2 * m2 - 7 * m1 + 11 * c) * SIXTH
    q1 = (-m1 + 5 * c + 2 * p1) * SIXTH
    q2 = (2 * c + 5 * p1 - p2) * SIXTH
    return (a0 * q0 + a1 * q1 + a2 * q2) / (a0 + a1 + a2)


@jit(inline=True)
def limited_flux(m3, m2, left, right, p1, p2, uf, inv_lam, eps):
    """Flux through the face between cells ``left`` and ``right`` (neighbours m3, m2 to the
    left, p1, p2 to the right) with face velocity uf: the WENO5-Z upwind flux uf q (stencil
    chosen by the sign of uf with selects, reconstructed once) under the Hu-Adams-Shu
    positivity limiter, F = low + θ (high - low) with the largest θ ∈ [0, 1] such that
    left - λ F >= 0 and right + λ F >= 0 (low: the first-order upwind flux).

    The admissible fluxes form the interval [-right/λ, left/λ], which contains low when
    λ |uf| <= 1 (the step control's bound) and left, right >= 0; the largest θ therefore
    moves high onto the bound it violates, and the limited flux is the clamp
    F = min(max(high, -right/λ), left/λ): no division, no first-order flux to compute.
    ``inv_lam`` = 1/λ."""
    pos = uf >= 0.0
    s0 = m3 if pos else p2
    s1 = m2 if pos else p1
    s2 = left if pos else right
    s3 = right if pos else left
    s4 = p1 if pos else m2
    high = uf * weno5z(s0, s1, s2, s3, s4, eps)
    return min(max(high, -right * inv_lam), left * inv_lam)


@jit(inline=True)
def _at(line, k):
    """line[k], zero outside the line."""
    return line[k] if 0 <= k < line.size else 0.0


@jit(inline=True)
def _end_face_flux(uf, below, above, closed):
    """Flux through an end face of the grid (``below``/``above``: the cells on either side,
    0 outside): nothing when ``closed``, else first-order upwind."""
    if closed:
        return 0.0
    return max(uf, 0.0) * below + min(uf, 0.0) * above


@jit(inline=True)
def _edge_face_flux(line, f, uf, inv_lam, eps, closed):
    """Flux at face f of a line near its ends (zero padding); the end faces 0 and n carry
    nothing when ``closed``, else first-order upwind with nothing outside."""
    n = line.size
    if f == 0 or f == n:
        return _end_face_flux(uf, _at(line, f - 1), _at(line, f), closed)
    return limited_flux(
        _at(line, f - 3),
        _at(line, f - 2),
        _at(line, f - 1),
        _at(line, f),
        _at(line, f + 1),
        _at(line, f + 2),
        uf,
        inv_lam,
        eps,
    )


@jit
def _stencil_fluxes(m3, m2, left, right, p1, p2, u, inv_lam, eps, flux, count):
    """flux[k] = limited_flux(m3[k], ..., p2[k], u[k]) for k < count: the vectorised interior
    loop, on views that start at the first face (indices from 0, so numba's negative-index
    wraparound, which would turn contiguous loads into gathers, is provably never needed)."""
    for k in range(count):
        flux[k] = limited_flux(m3[k], m2[k], left[k], right[k], p1[k], p2[k], u[k], inv_lam, eps)


@jit(inline=True)
def _line_fluxes(line, c0, nf, u, inv_lam, eps, closed, flux):
    """flux[k] at faces f = c0 + k, k < nf, of one line; interior faces take the fast path."""
    n = line.size
    a = min(max(c0, 3), c0 + nf)
    b = max(min(c0 + nf, n - 2), a)
    for f in range(c0, a):
        flux[f - c0] = _edge_face_flux(line, f, u[f - c0], inv_lam, eps, closed)
    _stencil_fluxes(line[a - 3 :], line[a - 2 :], line[a - 1 :], line[a:], line[a + 1 :],
                    line[a + 2 :], u[a - c0 :], inv_lam, eps, flux[a - c0 :], b - a)  # fmt: skip
    for f in range(b, c0 + nf):
        flux[f - c0] = _edge_face_flux(line, f, u[f - c0], inv_lam, eps, closed)


@jit(inline=True)
def _face_row_fluxes(g, f, u, inv_lam, eps, closed, flux, zero):
    """flux[j] at face f (between rows f-1 and f) for every column j, in the vectorised loop:
    rows beyond the grid are read as ``zero`` (a row of zeros, the padding of
    :func:`_edge_face_flux`); the end faces 0 and n carry nothing when ``closed``, else the
    first-order upwind flux."""
    n, m = g.shape
    if f == 0 or f == n:
        below = g[f - 1] if f > 0 else zero
        above = g[f] if f < n else zero
        for j in range(m):
            flux[j] = _end_face_flux(u[j], below[j], above[j], closed)
        return
    m3, m2, left = _row(g, f - 3, zero), _row(g, f - 2, zero), _row(g, f - 1, zero)
    p1, p2 = _row(g, f + 1, zero), _row(g, f + 2, zero)
    _stencil_fluxes(m3, m2, left, g[f], p1, p2, u, inv_lam, eps, flux, m)


@jit(inline=True)
def _row(g, k, zero):
    """Row k of g, ``zero`` outside the grid."""
    return g[k] if 0 <= k < g.shape[0] else zero


@jit(inline=True)
def relative_velocity(code, offset, coords, eta_line, eta, motion, u, count):
    """u[k] = (σ(offset + slope coords[k]) - a' - (z' - a')(eta + eta_line[k])) / (z - a)
    for k < count, with ``motion`` = [slope, a', z', z - a]; returns max |u[k]|."""
    slope = motion[SLOPE]
    for k in range(count):
        u[k] = offset + slope * coords[k]
    sigma_inplace(code, u, count)
    da, span, scale = motion[DA], motion[DZ] - motion[DA], 1.0 / motion[WIDTH]
    fastest = np.int64(0)
    for k in range(count):
        u[k] = (u[k] - da - span * (eta + eta_line[k])) * scale
        fastest = max(fastest, magnitude_bits(u[k]))
    return float_from_bits(fastest)


@jit(inline=True)
def _update(g0, g, out, below, above, count, alpha, beta, init, dtn):
    """out[k] = (α g0 + β g  or  out)[k] - β Δt n (above[k] - below[k]) for k < count, on
    views of a line of cells and of its fluxes below/above each cell; returns max |out|."""
    top = np.int64(0)
    for k in range(count):
        base = alpha * g0[k] + beta * g[k] if init else out[k]
        val = base - beta * dtn * (above[k] - below[k])
        out[k] = val
        top = max(top, magnitude_bits(val))
    return float_from_bits(top)


@jit(inline=True)
def _unpack(stage):
    """(α, β, init, update, lam, Δt n, closed, eps) from the ``stage`` array, flags as bools."""
    return (stage[0], stage[1], stage[2] != 0, stage[3] != 0, stage[4], stage[5],
            stage[6] != 0, stage[7])  # fmt: skip


class Geometry(NamedTuple):
    """One pass's geometry (see :func:`row_pass_items`); kernels take ``tuple(geometry)``."""

    offsets: np.ndarray
    coords: np.ndarray
    across: np.ndarray
    along: np.ndarray
    motion: np.ndarray


@jit
def row_pass_items(code, geometry, stage, g0, g, out, size, first, last, worst, top):
    """Work items first..last-1 of the row pass; item = (row, chunk of ``size`` cells).

    σ's ``code``; ``geometry`` = (``offsets`` and η (``across``) per row, face ``coords``
    and η (``along``) along the rows, ``motion`` = [slope, a', z', z - a]); ``stage`` =
    [α, β, init, update, lam, Δt n, closed, eps] (flags as 0/1: numba dispatches arrays
    fast, mixed tuples slowly). With update 0 only the speeds are measured (worst = max
    lam |ũ|)."""
    offsets, coords, across, along, motion = geometry
    alpha, beta, init, update, lam, dtn, closed, eps = _unpack(stage)
    n = g.shape[1]
    chunks = (n + size - 1) // size
    u, flux = np.empty(size + 1), np.empty(size + 1)
    for item in range(first, last):
        i, c0 = item // chunks, (item % chunks) * size
        nc = min(n, c0 + size) - c0
        fastest = relative_velocity(code, offsets[i], coords[c0:], along[c0:], across[i], motion,
                                    u, nc + 1)  # fmt: skip
        worst[item] = lam * fastest
        if not update:
            continue
        _line_fluxes(g[i], c0, nc + 1, u, 1.0 / lam, eps, closed, flux)
        top[item] = _update(g0[i, c0:], g[i, c0:], out[i, c0:], flux, flux[1:], nc, alpha, beta,
                            init, dtn)  # fmt: skip


@jit
def column_pass_items(code, geometry, stage, g0, g, out, size, first, last, worst, top):
    """Work items first..last-1 of the column pass; item = ``size`` rows of cells, whose
    size + 1 face rows are computed in turn (two flux rows kept). Arguments as in
    :func:`row_pass_items`, with ``offsets`` and η (``across``) per face row, ``coords`` and
    η (``along``) per column."""
    offsets, coords, across, along, motion = geometry
    alpha, beta, init, update, lam, dtn, closed, eps = _unpack(stage)
    n, m = g.shape
    u, prev, cur, zero = np.empty(m), np.empty(m), np.empty(m), np.zeros(m)
    for item in range(first, last):
        r0 = item * size
        r1 = min(n, r0 + size)
        w, t = 0.0, 0.0
        for f in range(r0, r1 + 1):
            w = max(w, lam * relative_velocity(code, offsets[f], coords, along, across[f], motion,
                                               u, m))  # fmt: skip
            if not update:
                continue
            _face_row_fluxes(g, f, u, 1.0 / lam, eps, closed, cur, zero)
            if f > r0:
                c = f - 1
                top_c = _update(g0[c], g[c], out[c], prev, cur, m, alpha, beta, init, dtn)
                t = max(t, top_c)
            prev, cur = cur, prev
        worst[item] = w
        top[item] = t


@jit(parallel=True)
def _pass_parallel(rows, code, geometry, stage, g0, g, out, size, worst, top, parts):
    """The work items of the row (``rows``) or column pass cut into ``parts`` contiguous
    ranges, one per parallel iteration (the items, and so the numbers, do not depend on it)."""
    items = worst.size
    for p in prange(parts):
        first, last = p * items // parts, (p + 1) * items // parts
        if rows:
            row_pass_items(code, geometry, stage, g0, g, out, size, first, last, worst, top)
        else:
            column_pass_items(code, geometry, stage, g0, g, out, size, first, last, worst, top)


@jit
def stage_parameters(alpha, beta, init, update, lam, dtn, closed, eps):
    """The ``stage`` array of the passes: [α, β, init, update, lam, Δt n, closed, eps], the
    flags as 0/1 (read back by :func:`_unpack`)."""
    return np.array([alpha, beta, 1.0 if init else 0.0, 1.0 if update else 0.0, lam, dtn,
                     1.0 if closed else 0.0, eps])  # fmt: skip


EPSILON = 1e-40  # WENO-Z smoothness regulariser, scaled by the data's magnitude in epsilon()
# Shu-Osher SSP-RK3: stage k = α_k g^n + β_k (g^(k-1) + Δt L(g^(k-1))), (α_k, β_k) below
SSP_RK3 = ((0.0, 1.0), (0.75, 0.25), (1.0 / 3.0, 2.0 / 3.0))
SSP_RK3_TIMES = (1.0, 0.5, 1.0)  # time reached by each stage, in units of the step


def parallel_parts() -> int:
    """Contiguous ranges of work items a parallel pass is cut into: a few per thread; 1 (the
    serial pass) with one thread, where a parallel region would only add its overhead."""
    threads = numba.get_num_threads()
    return 4 * threads if threads > 1 else 1


@jit(inline=True)
def epsilon(scale):
    """The WENO-Z regulariser ε for data of magnitude ``scale`` = max |g|."""
    return EPSILON + 1e-12 * scale * scale


@jit
def axis_pass(rows, code, geometry, stage, g0, g, out, parts):
    """Run the row (``rows``) or column pass over the whole grid, serially on small grids,
    else cut into at most ``parts`` ranges of work items run in parallel. ``code``,
    ``geometry`` and ``stage`` are as in :func:`row_pass_items`. Returns
    (max lam |ũ|, max |out|)."""
    n, m = g.shape
    size = ROW_CHUNK if rows else COLUMN_BLOCK
    items = n * -(-m // size) if rows else -(-n // size)
    worst, top = np.zeros(items), np.zeros(items)
    if g.size < PARALLEL_CELLS or parts <= 1:
        if rows:
            row_pass_items(code, geometry, stage, g0, g, out, size, 0, items, worst, top)
        else:
            column_pass_items(code, geometry, stage, g0, g, out, size, 0, items, worst, top)
    else:
        _pass_parallel(rows, code, geometry, stage, g0, g, out, size, worst, top,
                        min(items, parts))  # fmt: skip
    return worst.max(), top.max()


@jit
def euler_stage(code, axes, geometry0, geometry1, closed, alpha, beta, dt, scale, g0, g, out,
                parts):  # fmt: skip
    """One Shu-Osher stage out = α g0 + β (g + Δt L(g)) of the limited WENO5-Z scheme on all
    ``axes`` (1 or 2): in 2-D the column pass (axis 0, ``geometry0``) writes
    α g0 + β (g - Δt n_0 ΔF_0) and the row pass (axis 1, ``geometry1``) subtracts its part;
    in 1-D the row pass alone, with ``geometry0`` (``geometry1`` ignored). ``scale`` =
    max |g| sets ε. Returns (max 2 d Δt n_r |ũ_r| over the axes, max |out|)."""
    eps = epsilon(scale)
    worst, top = 0.0, 0.0
    for r in range(axes):
        rows = r == axes - 1
        n = g.shape[1] if rows else g.shape[0]
        stage = stage_parameters(alpha, beta, r == 0, True, 2 * axes * dt * n, dt * n, closed,
                                 eps)  # fmt: skip
        if r == 0:
            w, top = axis_pass(rows, code, geometry0, stage, g0, g, out, parts)
        else:
            w, top = axis_pass(rows, code, geometry1, stage, g0, g, out, parts)
        worst = max(worst, w)
    return worst, top


@jit
def ssp_rk3_steps(code, axes, geometry0, geometry1, closed, dts, scale, g, work0, work1, work2,
                  parts):  # fmt: skip
    """SSP-RK3 steps of sizes ``dts`` on a geometry that does not change (a fixed frame
    without feedback bias), all in compiled code; arguments as in :func:`euler_stage`,
    ``g`` the density and ``work*`` three arrays like it. Each step leaves its result in the
    third work array and the input's array becomes that work array (a swap, no copy).

    Returns (steps done, max |g|, swapped, worst): fewer steps than ``dts`` when a stage broke
    the CFL bound worst = 2 d λ max |ũ| <= 1; ``swapped`` tells whether the result lies in
    ``work2`` (with ``g``'s array the new work2) rather than in ``g``."""
    swapped, fastest = False, 0.0
    for k in range(dts.size):
        dt = dts[k]
        stage_in, top = g, scale
        for i in range(3):
            alpha, beta = SSP_RK3[i][0], SSP_RK3[i][1]
            out = work0 if i == 0 else work1 if i == 1 else work2
            worst, top = euler_stage(code, axes, geometry0, geometry1, closed, alpha, beta, dt,
                                     top, g, stage_in, out, parts)  # fmt: skip
            if worst > 1.0 + 1e-9:
                return k, scale, swapped, worst
            fastest = max(fastest, worst)
            stage_in = out
        g, work2 = work2, g
        scale, swapped = top, not swapped
    return dts.size, scale, swapped, fastest


@jit
def step_sizes(t, dt, nxt, limit):
    """The step sizes from t towards nxt with steps of at most dt (the last one cut), at
    most ``limit`` of them, and the time reached: each step min(dt, nxt - t), t advancing by
    it and landing exactly on nxt when within 1e-13 max(1, nxt) of it (the same floating-point
    operations, and so the same bits, as one step at a time)."""
    close = nxt - 1e-13 * max(1.0, nxt)
    bound = 0 if not t < close else min(limit, int(math.ceil((nxt - t) / dt)) + 2)
    out = np.empty(bound)
    k = 0
    while t < close and k < bound:
        step = min(dt, nxt - t)
        out[k] = step
        k += 1
        t = t + step if t + step < close else nxt
    return out[:k], t


@jit
def edge_velocities(code, offsets, slope, coords, rows):
    """(min v on the lower edge, max v on the upper edge) of a pass's geometry: for the row
    pass the first and last face of every row, for the column pass every column of the
    first and last face row."""
    low, high = np.inf, -np.inf
    if rows:
        for i in range(offsets.size):
            low = min(low, sigma(code, offsets[i] + slope * coords[0]))
            high = max(high, sigma(code, offsets[i] + slope * coords[-1]))
    else:
        for j in range(coords.size):
            low = min(low, sigma(code, offsets[0] + slope * coords[j]))
            high = max(high, sigma(code, offsets[-1] + slope * coords[j]))
    return low, high
