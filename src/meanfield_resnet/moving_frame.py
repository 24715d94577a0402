"""The Vlasov solver's steps on a geometry that changes from stage to stage, in one compiled
loop: the moving frame (the box [a_r, z_r] follows the flow) and the feedback bias
b(t) = β m_1(t)/m_0(0) (recomputed from the density at every stage, on any frame).

Each SSP-RK3 step (finite_volume.SSP_RK3) of :func:`frame_steps`

1. maps the reference cells to the box, x_r = a_r + (z_r - a_r) η, and evaluates the
   geometry of every axis pass (offsets and slope of σ's argument on each line of faces,
   the edge velocities a'_r = min v_r on the lower face and z'_r = max v_r on the upper
   one): :func:`fill_geometry`;
2. takes the largest stable step, Δt = min(frame_step / Lip(v), cfl Δη_r / (2 d max|ũ_r|)),
   cut to land on the next output time or parameter switch;
3. moves the box edges along their exact flow where it is known in closed form
   (:data:`AFFINE`: σ = identity, y = (a, z[, μ], 1) obeys y' = A y and is advanced by
   exp(τ Δt A); :data:`CLOSED`: 1-D without feedback, the edges are characteristics moved
   by σ's closed-form flow), each stage seeing the box at its own time t + τ Δt,
   τ = 1, 1/2, 1; otherwise (:data:`STAGED`) the edges are integrated in the same stages,
   a ← α a⁰ + β (a + Δt a');
4. runs the three limited WENO5-Z stages (finite_volume.euler_stage), refreshing the
   geometry (and the feedback bias) from each stage's density and box.

It performs the floating-point operations of the stage-by-stage driver it replaces, apart
from the edges' exact flow (the matrix exponential by Taylor series with scaling and
squaring, σ's flow through libm) and the feedback mean (summed in a loop), which agree to
round-off. The loop stops after ``limit`` steps (progress is logged between calls), at the
next output time, at a parameter switch, or at the first step that breaks the CFL bound or
collapses the box (a status for the caller, which raises the error).
"""

from __future__ import annotations

import math

import numpy as np

from . import finite_volume as fv
from ._jit import jit
from .activations import IDENTITY, closed_flow, sigma, sigma_inplace

STAGED, CLOSED, AFFINE = 0, 1, 2  # how the box edges move (see the module's docstring)
DONE, CFL_BROKEN, BOX_COLLAPSED = 0, 1, 2  # the status :func:`frame_steps` returns
TAYLOR_TERMS = 30  # at most; the series of exp(X), ||X||_∞ <= 1/2, stops at round-off


@jit
def matrix_product(a, b):
    """a @ b for small square matrices (a loop: no BLAS call for a 7 x 7 product)."""
    n = a.shape[0]
    out = np.zeros((n, n))
    for i in range(n):
        for k in range(n):
            aik = a[i, k]
            for j in range(n):
                out[i, j] += aik * b[k, j]
    return out


@jit
def expm_small(x):
    """exp(X) of a small square matrix: X scaled by 2^-s to ||X 2^-s||_∞ <= 1/2, its Taylor
    series summed until a term no longer changes the sum, then squared s times (relative
    error a few units of round-off times 2^s)."""
    n = x.shape[0]
    norm = 0.0
    for i in range(n):
        norm = max(norm, np.abs(x[i]).sum())
    squarings = max(0, int(math.ceil(math.log2(norm / 0.5)))) if norm > 0.5 else 0
    scaled = x * 0.5**squarings
    total, term = np.eye(n), np.eye(n)
    for k in range(1, TAYLOR_TERMS + 1):
        term = matrix_product(term, scaled) / k
        before = total.copy()
        total += term
        if np.all(total == before):
            break
    for _ in range(squarings):
        total = matrix_product(total, total)
    return total


@jit
def mean_position(axes, g, lower, upper, centres0, centres1, cell, mass0, out):
    """out[r] = m_1,r / m_0(0): the mean of the law, from the mass per reference cell g
    (f dx = g dη; ``cell`` the reference cell volume) at the cell centres of the box."""
    n, m = g.shape
    if axes == 1:
        total = 0.0
        for k in range(m):
            total += g[0, k] * cell * (lower[0] + (upper[0] - lower[0]) * centres0[k])
        out[0] = total / mass0
        return
    first, second = 0.0, 0.0
    for i in range(n):
        row = 0.0
        for j in range(m):
            row += g[i, j] * cell
        first += row * (lower[0] + (upper[0] - lower[0]) * centres0[i])
    for j in range(m):
        column = 0.0
        for i in range(n):
            column += g[i, j] * cell
        second += column * (lower[1] + (upper[1] - lower[1]) * centres1[j])
    out[0], out[1] = first / mass0, second / mass0


@jit(inline=True)
def _set_motion(code, moving, offsets, slope, coords, rows, width, motion):
    """motion = [slope, a', z', z - a], the edge velocities measured on the pass's faces
    (zero on a fixed frame)."""
    da, dz = 0.0, 0.0
    if moving:
        da, dz = fv.edge_velocities(code, offsets, slope, coords, rows)
    motion[fv.SLOPE], motion[fv.DA], motion[fv.DZ], motion[fv.WIDTH] = slope, da, dz, width


@jit
def fill_geometry(code, axes, moving, weight, bias, lower, upper, refs, geometry0, geometry1):
    """The passes' geometry for the box [lower, upper] and v = σ(W x + b), written into the
    arrays of ``geometry0`` (axis 0) and ``geometry1`` (axis 1 in 2-D), each (offsets,
    coords, across, along, motion) as finite_volume.Geometry; ``across`` and ``along`` are
    fixed by the caller. ``refs`` = the reference faces and centres of axis 0, then of
    axis 1 (in 1-D axis 0's again). In 1-D the row pass has one line and carries σ's values
    v = σ(b + w x) at the faces (offset 0, slope 1: the passes then apply the identity,
    :func:`pass_code`, and compute the same bits as from x); in 2-D the column pass (axis 0)
    has an offset b_0 + W_00 x_0 per face row and the slope W_01 along the cell centres of
    axis 1, the row pass (axis 1) an offset b_1 + W_10 x_0 per cell row and the slope W_11
    along the faces of axis 1."""
    faces0, centres0, faces1, centres1 = refs
    width0 = upper[0] - lower[0]
    offsets, coords, _, _, motion = geometry0
    if axes == 1:  # σ's values at the faces, once for the step size and the stage
        offsets[0] = 0.0
        for k in range(coords.size):
            coords[k] = bias[0] + weight[0, 0] * (lower[0] + width0 * faces0[k])
        sigma_inplace(code, coords, coords.size)
        _set_motion(IDENTITY, moving, offsets, 1.0, coords, True, width0, motion)
        return
    width1 = upper[1] - lower[1]
    for f in range(offsets.size):
        offsets[f] = bias[0] + weight[0, 0] * (lower[0] + width0 * faces0[f])
    for j in range(coords.size):
        coords[j] = lower[1] + width1 * centres1[j]
    _set_motion(code, moving, offsets, weight[0, 1], coords, False, width0, motion)
    offsets, coords, _, _, motion = geometry1
    for i in range(offsets.size):
        offsets[i] = bias[1] + weight[1, 0] * (lower[0] + width0 * centres0[i])
    for k in range(coords.size):
        coords[k] = lower[1] + width1 * faces1[k]
    _set_motion(code, moving, offsets, weight[1, 1], coords, True, width1, motion)


@jit
def pass_code(code, axes):
    """σ's code as the passes apply it: the identity in 1-D, whose geometry carries σ's
    values (:func:`fill_geometry`)."""
    return IDENTITY if axes == 1 else code


@jit
def geometry_buffers(axes, refs):
    """Arrays for :func:`fill_geometry`, with the fixed ``across`` and ``along`` set."""
    faces0, centres0, faces1, _ = refs
    if axes == 1:
        first = (np.empty(1), np.empty(faces0.size), np.zeros(1), faces0.copy(), np.empty(4))
        return first, first
    n, m = centres0.size, faces1.size - 1
    columns = (np.empty(n + 1), np.empty(m), faces0.copy(), np.zeros(m), np.empty(4))
    rows = (np.empty(n), np.empty(m + 1), np.zeros(n), faces1.copy(), np.empty(4))
    return columns, rows


@jit
def _step_size(code, axes, moving, geometry0, geometry1, cap, cfl, g, parts):
    """min(cap, cfl / (2 d n_r max|ũ_r|) over the axes) on the geometry just filled. In 1-D
    max|ũ| is read off the one line of faces directly (the same numbers as the measuring
    pass, without its work items)."""
    if axes == 1:
        offsets, coords, across, along, motion = geometry0
        u = np.empty(coords.size)
        top = fv.relative_velocity(code, offsets[0], coords, along, across[0], motion, u, u.size)
        return min(cap, cfl / (2 * g.shape[1] * top)) if top > 0 else cap
    measure = fv.stage_parameters(0.0, 1.0, True, False, 1.0, 0.0, moving, 1.0)
    dt = cap
    for r in range(axes):
        rows = r == axes - 1
        cells = g.shape[1] if rows else g.shape[0]
        if r == 0:
            top, _ = fv.axis_pass(rows, code, geometry0, measure, g, g, g, parts)
        else:
            top, _ = fv.axis_pass(rows, code, geometry1, measure, g, g, g, parts)
        if top > 0:
            dt = min(dt, cfl / (2 * axes * cells * top))
    return dt


@jit
def _closed_edges(code, weight, bias, lower, upper, dt, boxes):
    """boxes[k] = (a, z) at t + τ_k Δt, moved as characteristics x(t) = (y(w t) - b)/w of
    dy/ds = σ(y) (x + t σ(b) for w = 0). False (boxes unusable) where 1/|w| would amplify
    the round-off of y = w x + b beyond 1e-10 of the box width, or the flow is not finite."""
    w, b = weight[0, 0], bias[0]
    noise = 1e-15 * (abs(b) + max(abs(w * lower[0]), abs(w * upper[0])) + 1.0) / max(abs(w), 1e-300)
    if not noise < 1e-10 * (upper[0] - lower[0]):
        return False
    for k in range(3):
        t = fv.SSP_RK3_TIMES[k] * dt
        for side in range(2):
            x0 = lower[0] if side == 0 else upper[0]
            if w == 0.0:
                x = x0 + t * sigma(code, b)
            else:
                x = (closed_flow(code, w * x0 + b, w * t) - b) / w
            if not math.isfinite(x):
                return False
            boxes[k, side, 0] = x
    return True


@jit
def _affine_edges(axes, matrix, lower, upper, mean, feedback, propagators, boxes):
    """boxes[k] = (a, z) at t + τ_k Δt: the first 2d entries of P_k y, y = (a, z[, μ], 1),
    with ``propagators`` = (exp(Δt A), exp(Δt A / 2))."""
    size = matrix.shape[0]
    y = np.empty(size)
    y[:axes], y[axes : 2 * axes] = lower, upper
    if feedback:
        y[2 * axes : 3 * axes] = mean
    y[size - 1] = 1.0
    for k in range(3):
        p = propagators[0] if fv.SSP_RK3_TIMES[k] == 1.0 else propagators[1]
        for r in range(2 * axes):
            total = 0.0
            for c in range(size):
                total += p[r, c] * y[c]
            boxes[k, r // axes, r % axes] = total


@jit
def _box_collapsed(lower, upper):
    """Whether a box is narrower than 64 ulps of its position, or not finite."""
    for r in range(lower.size):
        width = upper[r] - lower[r]
        floor = 64 * 2.220446049250313e-16 * max(abs(lower[r]), abs(upper[r]))
        if not (math.isfinite(width) and width > floor):
            return True
    return False


@jit
def frame_steps(code, axes, moving, weight, bias, beta, mode, matrix, cap, cfl, mass0, cell,
                refs, t, nxt, switch, limit, scale, g, lower, upper, work0, work1, work2,
                parts):  # fmt: skip
    """SSP-RK3 steps from t towards ``nxt`` (the module's docstring), while t < ``switch``
    (where the parameters change) and at most ``limit`` of them.

    σ's ``code``; ``axes`` (1 or 2); ``moving`` (else the box stays); the segment's
    ``weight`` (d x d) and ``bias``, or with the feedback bias b = β μ (``beta``; NaN: none);
    the edges' ``mode`` with the ``matrix`` A of y' = A y (:data:`AFFINE`); ``cap`` =
    frame_step / Lip(v); ``cfl``; the initial mass ``mass0`` and reference ``cell`` volume;
    ``refs`` as in :func:`fill_geometry`; ``scale`` = max |g|. ``g`` (rows x columns) and
    the box ``lower``, ``upper`` are advanced in place, with ``work*`` three arrays like g
    (the result of each step lands in work2, whose array becomes g's: ``swapped`` tells
    whether it now lies in work2).

    Returns (steps, t, max |g|, swapped, status, worst): status :data:`DONE`, or
    :data:`CFL_BROKEN` (worst = 2 d λ max|ũ| of the offending stage) or
    :data:`BOX_COLLAPSED` after the step that broke it."""
    geometry0, geometry1 = geometry_buffers(axes, refs)
    passes = pass_code(code, axes)
    feedback = not math.isnan(beta)
    mean, stage_bias = np.zeros(axes), bias.copy()
    base_lower, base_upper = lower.copy(), upper.copy()
    boxes = np.empty((3, 2, axes))
    propagators = (np.eye(matrix.shape[0]), np.eye(matrix.shape[0]))
    last_dt, close = math.nan, nxt - 1e-13 * max(1.0, nxt)
    steps, swapped, fastest = 0, False, 0.0
    while t < close and t < switch and steps < limit:
        if feedback:
            mean_position(axes, g, lower, upper, refs[1], refs[3], cell, mass0, mean)
            stage_bias = beta * mean
        fill_geometry(code, axes, moving, weight, stage_bias, lower, upper, refs, geometry0,
                      geometry1)  # fmt: skip
        dt = min(_step_size(passes, axes, moving, geometry0, geometry1, cap, cfl, g, parts),
                 nxt - t)  # fmt: skip
        exact = False
        if moving and mode == AFFINE:
            if dt != last_dt:
                propagators = (expm_small(dt * matrix), expm_small(0.5 * dt * matrix))
                last_dt = dt
            _affine_edges(axes, matrix, lower, upper, mean, feedback, propagators, boxes)
            exact = True
        elif moving and mode == CLOSED:
            exact = _closed_edges(code, weight, bias, lower, upper, dt, boxes)
        base_lower[:], base_upper[:] = lower, upper
        stage_in, top = g, scale
        for i in range(3):
            alpha, share = fv.SSP_RK3[i][0], fv.SSP_RK3[i][1]
            out = work0 if i == 0 else work1 if i == 1 else work2
            if i > 0:
                if feedback:
                    mean_position(axes, stage_in, lower, upper, refs[1], refs[3], cell, mass0,
                                  mean)  # fmt: skip
                    stage_bias = beta * mean
                fill_geometry(code, axes, moving, weight, stage_bias, lower, upper, refs,
                              geometry0, geometry1)  # fmt: skip
            worst, top = fv.euler_stage(passes, axes, geometry0, geometry1, moving, alpha, share,
                                        dt, top, g, stage_in, out, parts)  # fmt: skip
            if worst > 1.0 + 1e-9:
                return steps, t, scale, swapped, CFL_BROKEN, worst
            fastest = max(fastest, worst)
            if exact:
                lower[:], upper[:] = boxes[i, 0], boxes[i, 1]
            elif moving:
                for r in range(axes):
                    motion = geometry0[4] if r == 0 else geometry1[4]
                    lower[r] = alpha * base_lower[r] + share * (lower[r] + dt * motion[fv.DA])
                    upper[r] = alpha * base_upper[r] + share * (upper[r] + dt * motion[fv.DZ])
            stage_in = out
        g, work2 = work2, g
        scale, swapped = top, not swapped
        t = t + dt if t + dt < close else nxt
        steps += 1
        if _box_collapsed(lower, upper):
            return steps, t, scale, swapped, BOX_COLLAPSED, fastest
    return steps, t, scale, swapped, DONE, fastest
