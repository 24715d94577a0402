"""Gradients of a loss of the Fokker-Planck solution: the discrete adjoint of the θ-scheme.

Problem. The law solves ∂_t f + ∂_x(σ(w(t)x + b(t)) f) = ∂_xx(K(x) f) with (w, b) = (w_s, b_s)
on segment s (docs/model.md §2.2); :func:`fokker_planck.solve` gives its discrete solution
f_h and the loss J_h = J(f_h(T)) of :mod:`.losses`. We want dJ_h/dθ for θ = (w_s, b_s) of
every segment and for K: the derivative along K → K + ε δK for given directions δK (by
default δK = K, i.e. dJ_h/dκ of K → κK at κ = 1, the scale of the configured K; for a
polynomial K the directions x^k give dJ_h/dc_k, :func:`coefficient_directions`).

Continuous adjoint (docs/model.md §6.7). With λ(T) = δJ/δf(f(T)) and the backward equation
∂_t λ + v ∂_x λ + K ∂_xx λ = 0, a perturbation (δv, δK) of the coefficients gives
δJ = ∫_0^T ∫ (f δv ∂_xλ + δK f ∂_xx λ) dx dt. The discrete adjoint below is a consistent
discretisation of it (μ plays λ on the cells; its sweep is the θ-scheme's transposed step,
L^T the Scharfetter-Gummel discretisation of v ∂_x λ + K ∂_xx λ), but it is obtained by
differentiating the forward scheme, not by discretising this equation on its own.

Method [choice]: the **discrete adjoint** of the forward solver on its fixed frame, because
it is the exact gradient of the J_h that the forward solver computes and the training
minimises, at any resolution (a continuous adjoint carries its own O(h²) error, and the
Vlasov experience of docs/model.md §6.5 is that a line search then ends on a gradient
inconsistent with J_h), and it reuses the forward kernels as they are. The forward step n
(size Δt_n, weight θ_n, operator L of the segment the step lies in, the tridiagonal
Scharfetter-Gummel matrix of :func:`fokker_planck.operator`) is

    A_n g_{n+1} = B_n g_n,   A_n = I - θ_n Δt_n L,   B_n = I + (1 - θ_n) Δt_n L,

g the mass per unit reference width (the cell masses are g·2/n). Its adjoint runs back from
λ_N = ∂J_h/∂g_N:

    A_n^T μ_{n+1} = λ_{n+1},   λ_n = B_n^T μ_{n+1},
    dJ_h/dp = Σ_n μ_{n+1}^T (∂_p B_n g_n - ∂_p A_n g_{n+1}) = Σ_n Δt_n μ_{n+1}^T ∂_p L ḡ_n,
    ḡ_n = (1 - θ_n) g_n + θ_n g_{n+1},

and λ_0 = ∂J_h/∂g_0 (the gradient in the initial masses comes with it). ∂_p L follows from
differentiating the flux at face i+1/2, J = α g_i - β g_{i+1}, α = (D/h) B(-z),
β = (D/h) B(z), z = h a/D, D = K̃ at the face, a = ũ - (K̃_{i+1} - K̃_i)/h:

    ∂α = B(z)B(-z) ∂D/h + (1 + B'(z)) ∂a,   ∂β = B(z)B(-z) ∂D/h + B'(z) ∂a,

B'(z) = B(z)(1 - B(-z))/z (a series near 0); for (w, b), ∂a = σ'(wx + b)(x, 1)/s and ∂D = 0;
for a K-direction, ∂D = δK(x_face)/s², ∂a = -(δK(x_{i+1}) - δK(x_i))/(s² h) (x_i the cell
centres); where D = 0 the forward flux is the upwind one, ∂α = [a > 0] ∂a, ∂β = -[a < 0] ∂a.
On a fixed frame L, and so these face coefficients, are constant on a segment: the backward
sweep (compiled) only solves the transposed tridiagonal systems and accumulates the face
sums P_i = Σ_n Δt_n δμ_i ḡ_{n,i}, R_i = Σ_n Δt_n δμ_i ḡ_{n,i+1} per segment (δμ_i =
(μ_{i+1} - μ_i)/h); the parameter derivatives are then dot products of P, R with the face
coefficients. ∂J_h/∂m_i (m the final cell masses) is the average over cell i of the loss's
variation δJ/δf at f_h(T) (the loss's value is exact for a piecewise-constant density and
its variation is its exact first variation, so this is the exact derivative of J_h): a
two-point Gauss rule on each piece of the cell between the target's breakpoints, exact for
the current losses (variations piecewise polynomial of degree ≤ 2 there).

The forward states g_n of every step are kept ((steps + 1) × n doubles, 13 MB for 400 cells
and 4000 steps). The forward steps are :func:`fokker_planck.theta_steps` itself, called one
step at a time: the same steps (size, θ, Rannacher's start, the positivity fallback) and the
same numbers, bit for bit, as ``fokker_planck.solve(problem, law, times)``. The step sizes
are constants of J_h except where the positivity fallback shortened a Crank-Nicolson step to
Δt_n = 1/((1-θ) |L_{i*i*}|) (i* the largest |L_ii|, as the solver picks it): then
Δt_n depends on θ, and so does the step that lands on the end of its piece (it takes what the
others leave), and dJ_h/dp gains Σ_n (∂J_h/∂Δt_n - ∂J_h/∂Δt_land) Δt_n ∂_p L_{i*i*}/|L_{i*i*}|,
∂J_h/∂Δt_n = μ_{n+1}^T L ḡ_n (accumulated in the same sweep).

Consistency. The result is the exact gradient of the discrete J_h, to round-off: central
differences of ``fokker_planck.solve`` agree to ~1e-11 relative at every resolution, also
with shortened steps and with a K that vanishes on part of the domain
(tests/test_fokker_planck_adjoint.py, docs/model.md §6.7). So it inherits the consistency
of J_h: J_h converges to J at the forward scheme's order (2 for Crank-Nicolson with Δt ∝ h,
1 for backward Euler), and so does dJ_h/dθ to dJ/dθ where J is smooth in θ (observed orders
2.00 and 1.0-1.4 for the Ornstein-Uhlenbeck moments). Its descent directions are those of
the function the training evaluates, so L-BFGS-B line searches do not stall on a gradient
inconsistent with J_h. J_h is only piecewise smooth in θ where a shortened step moves the
step count (a step appears or vanishes at a piece's end) or where the largest |L_ii| changes
cell: the gradient there is the one-sided one of the current step sequence.

Limits: fixed frame only (on a moving frame the frame's rates c', ρ and the step sizes
depend on g and θ, and the adjoint would need their derivatives too: a moving problem is
refused); the domain must be given (``problem.domain``, or a fitted target: the default
domain depends on (w, b, K)); single-law losses (not the classification loss). One gradient
costs about 1.3 forward solves (the recorded forward run plus a backward sweep without
exponentials).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import fokker_planck
from ._jit import jit, subnormals_flushed
from .activations import sigma_derivative, sigma_numpy
from .diffusion import POLYNOMIAL, Diffusion
from .distributions import Distribution
from .fokker_planck import FokkerPlanckProblem, solve_shifted_tridiagonal, theta_steps
from .moments import check_projection

GAUSS2 = 0.5 - 0.5 / math.sqrt(3.0), 0.5 + 0.5 / math.sqrt(3.0)  # two-point Gauss on [0, 1]

# ------------------------------------------------------------------------------------------
# Kernels: the recorded forward steps and the backward sweep


@jit
def record_steps(
    code, w, b, k_args, dt_max, frame_step, theta, duration, limit, g, state, work, states,
    dts, thetas, shortened, first,
):  # fmt: skip
    """Advance g by ``duration`` (until less than ``limit`` is left) with the forward
    solver's own steps (:func:`fokker_planck.theta_steps`, one per call, fixed frame),
    storing each new state in ``states[k + 1]``, its size in ``dts[k]``, its θ in
    ``thetas[k]`` and whether the positivity fallback shortened it in ``shortened[k]``, from
    k = ``first`` on, while there is room; returns (next k, time left)."""
    left = duration
    k = first
    while left > limit and k < dts.size:
        smoothing = state[2] > 0.0
        nominal = min(dt_max, left)
        if smoothing:
            nominal = min(nominal, 0.5 * dt_max)
        if nominal >= left * (1.0 - 1e-12):
            nominal = left
        _, rest = theta_steps(
            code, w, b, k_args, False, dt_max, frame_step, theta, left, 1, g, state, work
        )
        dts[k] = nominal
        shortened[k] = left - rest < nominal * (1.0 - 1e-9)
        if shortened[k]:  # Δt = 1/((1-θ) max|L_ii|) < nominal: recovered from the time left
            dts[k] = left - rest
        thetas[k] = 1.0 if smoothing else theta
        states[k + 1, :] = g
        left = rest
        k += 1
    return k, left


@jit
def backward_sweep(states, dts, thetas, segment, operators, lam, sums, step_rates, mu, c):
    """The discrete adjoint from λ = ``lam`` (∂J/∂g at the last state) back to the first
    state: per step n (last to first) solve (I - θΔt L)^T μ = λ, add Δt δμ_i ḡ_i and
    Δt δμ_i ḡ_{i+1} to sums[s, 0, i] and sums[s, 1, i] (s the step's segment), store
    ∂J/∂Δt_n = μ^T L ḡ in step_rates[n], and set λ = (I + (1-θ)Δt L)^T μ. ``operators[s]``
    holds L's (sub-, main, super-) diagonals; ``mu`` and ``c`` are work arrays. On return
    ``lam`` is ∂J/∂g_0."""
    n = lam.size
    h = 2.0 / n
    for k in range(dts.size - 1, -1, -1):
        s = segment[k]
        lower, diag, upper = operators[s, 0], operators[s, 1], operators[s, 2]
        th, dt = thetas[k], dts[k]
        # (I - θΔt L)ᵀ: L's sub- and super-diagonals swap
        solve_shifted_tridiagonal(th * dt, upper, diag, lower, lam, mu, c)
        old, new = states[k], states[k + 1]
        rate = 0.0
        for i in range(n - 1):
            jump = mu[i + 1] - mu[i]
            left = (1.0 - th) * old[i] + th * new[i]
            right = (1.0 - th) * old[i + 1] + th * new[i + 1]
            d = dt * jump / h
            sums[s, 0, i] += d * left
            sums[s, 1, i] += d * right
            rate += jump * (lower[i] * left - upper[i] * right)
        step_rates[k] = rate
        e = (1.0 - th) * dt
        for i in range(n):
            r = mu[i] + e * diag[i] * mu[i]
            if i < n - 1:
                r += e * lower[i] * mu[i + 1]
            if i > 0:
                r += e * upper[i - 1] * mu[i - 1]
            lam[i] = r


# ------------------------------------------------------------------------------------------
# Face coefficients: the derivatives of the Scharfetter-Gummel flux


def bernoulli(z):
    """B(z) = z/(e^z - 1) (B(0) = 1)."""
    z = np.asarray(z, dtype=float)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = z / np.expm1(z)
    return np.where(np.abs(z) < 1e-8, 1.0 - 0.5 * z, out)


def bernoulli_slope(z):
    """B'(z) = B(z)(1 - B(-z))/z; its Taylor series (to z⁷, error < 3e-16) where |z| ≤ 0.1."""
    z = np.asarray(z, dtype=float)
    y2 = z * z
    series = -0.5 + z * (1 / 6 + y2 * (-1 / 180 + y2 * (1 / 5040 - y2 / 151200)))
    near = np.abs(z) <= 0.1
    safe = np.where(near, 1.0, z)
    return np.where(near, series, bernoulli(safe) * (1.0 - bernoulli(-safe)) / safe)


def _positions(n, centre, scale):
    """Interior faces and cell centres as :func:`fokker_planck.operator` forms them."""
    h = 2.0 / n
    faces = centre + scale * (-1.0 + (np.arange(n - 1) + 1) * h)
    centres = np.concatenate([[centre + scale * (-1.0 + 0.5 * h)], faces + 0.5 * h * scale])
    return faces, centres


@dataclass
class FaceCoefficients:
    """Per interior face of one segment's operator: ∂α/∂a = 1 + B'(z) (``up``),
    ∂β/∂a = B'(z) (``down``), B(z)B(-z) (``product``, 0 on upwind faces) and ∂a/∂w, ∂a/∂b."""

    up: np.ndarray
    down: np.ndarray
    product: np.ndarray
    da_dw: np.ndarray
    da_db: np.ndarray


def face_coefficients(problem: FokkerPlanckProblem, w, b, n, centre, scale) -> FaceCoefficients:
    """The flux derivatives of the operator of (w, b) on the fixed grid (centre, scale), from
    the same face quantities as :func:`fokker_planck.operator` (z = h a/D, upwind where
    D ≤ 1e-300)."""
    h = 2.0 / n
    faces, centres = _positions(n, centre, scale)
    inv_s2 = 1.0 / (scale * scale)
    y = w * faces + b
    u = sigma_numpy(problem.activation, y) / scale
    k_face = problem.diffusion(faces) * inv_s2
    k_centre = problem.diffusion(centres) * inv_s2
    drift = u - np.diff(k_centre) / h
    upwind = k_face <= 1e-300
    z = h * drift / np.where(upwind, 1.0, k_face)
    slope = bernoulli_slope(z)
    up = np.where(upwind, 1.0 * (drift > 0.0), 1.0 + slope)
    down = np.where(upwind, -1.0 * (drift < 0.0), slope)
    product = np.where(upwind, 0.0, bernoulli(z) * bernoulli(-z))
    ds = sigma_derivative(problem.activation, y) / scale
    return FaceCoefficients(up, down, product, ds * faces, ds)


def diffusion_derivatives(direction: Diffusion, n, centre, scale):
    """(∂D, ∂a) per interior face for K → K + ε δK, δK = ``direction``."""
    h = 2.0 / n
    faces, centres = _positions(n, centre, scale)
    inv_s2 = 1.0 / (scale * scale)
    return direction(faces) * inv_s2, -np.diff(direction(centres)) * inv_s2 / h


def coefficient_directions(k: Diffusion) -> tuple[Diffusion, ...]:
    """The directions x^j of a polynomial K = Σ c_j x^j (dJ/dc_j)."""
    if k.kind != POLYNOMIAL:
        raise ValueError("coefficient directions need a polynomial K")
    return tuple(Diffusion(POLYNOMIAL, np.eye(k.values.size)[j]) for j in range(k.values.size))


def scaled(shape: Diffusion, kappa: float) -> Diffusion:
    """K = κ·shape (both representations are linear in their values)."""
    return Diffusion(shape.kind, float(kappa) * np.asarray(shape.values, float), shape.x0, shape.dx)


# ------------------------------------------------------------------------------------------
# The loss's derivative in the final masses


def mass_gradient(loss, edges, masses) -> np.ndarray:
    """∂J_h/∂m_i of J_h = loss.value(edges, masses): the average of δJ/δf over cell i, by
    the two-point Gauss rule on each piece of the cell between the target's breakpoints
    (exact where δJ/δf is a polynomial of degree ≤ 3 on each piece: every loss of
    :mod:`.losses` on a piecewise-constant f_h)."""
    if getattr(loss, "laws", 1) != 1:
        raise ValueError("the Fokker-Planck adjoint takes single-law losses")
    edges = np.asarray(edges, dtype=float)
    target = getattr(loss, "target_law", None)
    cuts = edges
    if target is not None:
        inner = np.asarray(target.breakpoints, dtype=float)
        cuts = np.union1d(edges, inner[(inner > edges[0]) & (inner < edges[-1])])
    a, h = cuts[:-1], np.diff(cuts)
    x = np.concatenate([a + s * h for s in GAUSS2])
    values = np.asarray(loss.variation(x, edges, masses), dtype=float).reshape(2, -1)
    integral = 0.5 * h * values.sum(axis=0)
    cell = np.clip(np.searchsorted(edges, a + 0.5 * h, side="right") - 1, 0, edges.size - 2)
    return np.bincount(cell, weights=integral, minlength=edges.size - 1) / np.diff(edges)


# ------------------------------------------------------------------------------------------
# Forward with recording, gradient


@dataclass
class Trajectory:
    """The recorded forward run: states g_n (mass per unit ξ), step sizes, θ's, each step's
    segment, the grid, the final masses and edges."""

    states: np.ndarray
    dts: np.ndarray
    thetas: np.ndarray
    segment: np.ndarray
    centre: float
    scale: float
    edges: np.ndarray
    masses: np.ndarray
    shortened: np.ndarray  # steps the positivity fallback shortened
    landing: np.ndarray  # per step, the last step of its piece (which lands on the piece's end)


def _check_problem(problem: FokkerPlanckProblem):
    if problem.frame != "fixed":
        raise ValueError(
            "the Fokker-Planck adjoint is implemented on the fixed frame only: on a moving "
            "frame the frame's rates and step sizes depend on the density and on θ (set "
            "frame='fixed' and a domain)"
        )
    if problem.domain is None and problem.target is None:
        raise ValueError(
            "the Fokker-Planck adjoint needs a given domain: the default domain depends on "
            "(w, b, K), which the gradient holds fixed (set problem.domain)"
        )


def initial_masses(problem: FokkerPlanckProblem, initial, final_time):
    """(grid (centre, scale, smoothing steps), g_0) exactly as :func:`fokker_planck.solve`
    forms them; ``initial`` a Distribution or cell masses on the grid."""
    n = int(problem.cells)
    smoothing = fokker_planck.SMOOTHING_STEPS if problem.theta < 1.0 else 0
    grid = np.append(fokker_planck.initial_grid(problem, initial, final_time), smoothing)
    edges = grid[0] + grid[1] * np.linspace(-1.0, 1.0, n + 1)
    if isinstance(initial, Distribution):
        g = initial.cell_probabilities([edges])
        check_projection(
            initial.mean(), initial.variance(), [g], [edges], problem.resolution_tolerance
        )
    else:
        g = np.array(initial, dtype=float)
        if g.shape != (n,):
            raise ValueError(f"initial cell masses of shape ({n},) needed, not {g.shape}")
    if np.any(problem.diffusion(edges) < 0):
        raise ValueError("diffusion K(x) is negative on the domain")
    return grid, g * (n / 2.0)


def _segment_index(problem, t) -> int:
    seg = problem.segment(t)
    return next(i for i, s in enumerate(problem.segments) if s is seg)


@subnormals_flushed()
def record(problem: FokkerPlanckProblem, initial, times) -> Trajectory:
    """The forward solve of ``fokker_planck.solve(problem, initial, times)`` (same steps, same
    numbers) with every state kept."""
    _check_problem(problem)
    times = np.asarray(times, dtype=float)
    n = int(problem.cells)
    grid, g = initial_masses(problem, initial, float(times[-1]))
    capacity = int(fokker_planck.estimate_steps(problem, float(times[-1]))) + 16
    states = np.empty((capacity + 1, n))
    states[0] = g
    dts, thetas = np.empty(capacity), np.empty(capacity)
    segment, landing = np.empty(capacity, np.int64), np.empty(capacity, np.int64)
    shortened = np.zeros(capacity, np.bool_)
    work = tuple(np.empty(n) for _ in range(8))
    k, t = 0, 0.0
    natural_ends = problem.target is not None and problem.target.kind == "uniform"
    tolerance = None if natural_ends else problem.mass_tolerance
    edges = grid[0] + grid[1] * np.linspace(-1.0, 1.0, n + 1)
    for t_out in times:
        start = t
        for w, b, until in problem.pieces(t, t_out):
            s = _segment_index(problem, start)
            left = until - start
            limit = 1e-13 * max(1.0, until - start)
            piece = k
            while left > limit:
                if k == dts.size:  # more steps than estimated: grow the records
                    more = max(16, k // 2)
                    states = np.concatenate([states, np.empty((more, n))])
                    dts, thetas = np.append(dts, np.empty(more)), np.append(thetas, np.empty(more))
                    segment = np.append(segment, np.empty(more, np.int64))
                    landing = np.append(landing, np.empty(more, np.int64))
                    shortened = np.append(shortened, np.zeros(more, np.bool_))
                k, left = record_steps(
                    problem.code, w, b, problem.diffusion.args, problem.time_step,
                    problem.frame_step, problem.theta, left, limit, g, grid, work, states, dts,
                    thetas, shortened, k,
                )  # fmt: skip
            segment[piece:k] = s
            landing[piece:k] = k - 1
            start = until
        t = t_out
        masses = g * (2.0 / n)  # the solver's checks at each output time
        fokker_planck._check(masses, edges, t, k, tolerance, problem.frame)
    return Trajectory(
        states[: k + 1], dts[:k], thetas[:k], segment[:k], float(grid[0]), float(grid[1]),
        edges, masses, shortened[:k].copy(), landing[:k],
    )  # fmt: skip


@dataclass
class FokkerPlanckGradient:
    """J_h, dJ_h/dw_s and dJ_h/db_s per segment, dJ_h/dε_j along the K-directions (by default
    one: K itself, i.e. dJ_h/dκ of K → κK at κ = 1), dJ_h/dm_i of the initial cell masses,
    the final edges and masses, the step count and how many steps the positivity fallback
    shortened (their sizes depend on θ; the gradient includes that dependence)."""

    value: float
    weight: np.ndarray
    bias: np.ndarray
    diffusion: np.ndarray
    initial: np.ndarray
    edges: np.ndarray
    masses: np.ndarray
    steps: int
    fallback_steps: int

    @property
    def flat(self) -> np.ndarray:
        """(dJ/dw_0, dJ/db_0, dJ/dw_1, ...)."""
        return np.stack([self.weight, self.bias], axis=1).ravel()


@subnormals_flushed()
def gradient(
    problem: FokkerPlanckProblem,
    initial,
    loss,
    final_time: float,
    times=None,
    diffusion_directions=None,
) -> FokkerPlanckGradient:
    """dJ_h/dθ of J_h = loss(f_h(T)) by the discrete adjoint of the forward solver (module
    docstring): the exact gradient of J_h computed by ``fokker_planck.solve(problem,
    initial, times)`` (``times`` ending at T; default [T]; the output times split the steps).
    ``initial``: a Distribution, or cell masses on the grid. ``diffusion_directions``: the δK
    (Diffusion objects) to differentiate along; default (problem.diffusion,), the scale of
    the configured K."""
    times = np.asarray([final_time] if times is None else times, dtype=float)
    if times[-1] != final_time:
        raise ValueError("the output times must end at the final time")
    if getattr(loss, "laws", 1) != 1:
        raise ValueError("the Fokker-Planck adjoint takes single-law losses")
    directions = (problem.diffusion,) if diffusion_directions is None else diffusion_directions
    run = record(problem, initial, times)
    n, h = int(problem.cells), 2.0 / int(problem.cells)
    value = float(loss.value(run.edges, run.masses))
    lam = mass_gradient(loss, run.edges, run.masses) * (2.0 / n)
    count = len(problem.segments)
    operators = np.zeros((count, 3, n))
    used = np.unique(run.segment)
    for s in used:
        lower, diag, upper = operators[s]
        fokker_planck.operator(
            problem.code, *_wb(problem, s), problem.diffusion.args, run.centre, run.scale,
            0.0, 0.0, lower, diag, upper,
        )  # fmt: skip
    sums = np.zeros((count, 2, max(n - 1, 1)))
    step_rates = np.zeros(run.dts.size)  # ∂J/∂Δt_n
    backward_sweep(
        run.states, run.dts, run.thetas, run.segment, operators, lam, sums, step_rates,
        np.empty(n), np.empty(n),
    )  # fmt: skip
    # A shortened step has Δt_n = 1/((1-θ) max_i |L_ii|), and the step that lands on the end
    # of its piece takes what the others leave: dJ/dp gains Σ (∂J/∂Δt_n - ∂J/∂Δt_land) ∂Δt_n/∂p
    # with ∂Δt_n/∂p = Δt_n ∂L_{i*i*}/∂p / |L_{i*i*}|.
    short = np.flatnonzero(run.shortened)
    shift = (step_rates[short] - step_rates[run.landing[short]]) * run.dts[short]
    grad = np.zeros((count, 2))
    dk = np.zeros(len(directions))
    moves = [diffusion_derivatives(d, n, run.centre, run.scale) for d in directions]
    zero = np.zeros(max(n - 1, 0))
    for s in used:
        coef = face_coefficients(problem, *_wb(problem, s), n, run.centre, run.scale)
        diag = operators[s, 1]
        stiff = int(np.argmax(-diag))
        weight = shift[run.segment[short] == s].sum() / -diag[stiff] if short.size else 0.0

        def rate(dd, da, coef=coef, s=s, stiff=stiff, weight=weight):
            """dJ/dp of segment s's operator for face rates ∂D = dd, ∂a = da."""
            p, r = sums[s, 0, : n - 1], sums[s, 1, : n - 1]
            d_alpha = coef.product * dd / h + coef.up * da
            d_beta = coef.product * dd / h + coef.down * da
            total = (d_alpha * p - d_beta * r).sum()
            if weight != 0.0:  # ∂L_ii = -(∂α_i + ∂β_{i-1})/h
                d_diag = (d_alpha[stiff] if stiff < n - 1 else 0.0) + (
                    d_beta[stiff - 1] if stiff > 0 else 0.0
                )
                total += weight * -d_diag / h
            return total

        grad[s] = rate(zero, coef.da_dw), rate(zero, coef.da_db)
        for j, (dd, da) in enumerate(moves):
            dk[j] += rate(dd, da)
    return FokkerPlanckGradient(
        value=value,
        weight=grad[:, 0].copy(),
        bias=grad[:, 1].copy(),
        diffusion=dk,
        initial=lam * (n / 2.0),
        edges=run.edges,
        masses=run.masses,
        steps=int(run.dts.size),
        fallback_steps=int(short.size),
    )


def _wb(problem, s) -> tuple[float, float]:
    seg = problem.segments[s]
    return float(seg.weight[0, 0]), float(seg.bias[0])


def loss_value(problem: FokkerPlanckProblem, initial, loss, final_time, times=None) -> float:
    """J_h = loss(f_h(T)) from ``fokker_planck.solve`` itself (what the gradient is the
    derivative of; the tests difference it)."""
    times = [final_time] if times is None else times
    sol = fokker_planck.solve(problem, initial, times)
    return float(loss.value(sol.edges(-1), sol.cell_masses(-1)))


# ------------------------------------------------------------------------------------------
# Training


def objective(
    activation, switches, final_time, shape: Diffusion, initial, loss, cells, domain,
    train_diffusion=True, **settings,
):  # fmt: skip
    """θ ↦ (J_h, dJ_h/dθ) for :func:`training.train`: θ = (w_0, b_0, ..., w_{S-1}, b_{S-1},
    κ) with K = κ·``shape`` (``train_diffusion`` False: θ without κ, K = shape), the
    segments switching at ``switches``, on the fixed grid of ``cells`` cells over ``domain``;
    ``settings`` go to :class:`FokkerPlanckProblem` (time_step, theta, ...)."""
    from .training import segments_from  # here: training may come to import this module

    def evaluate(theta):
        theta = np.asarray(theta, dtype=float)
        kappa = float(theta[-1]) if train_diffusion else 1.0
        wb = theta[:-1] if train_diffusion else theta
        problem = FokkerPlanckProblem(
            activation, segments_from(wb, switches), scaled(shape, kappa), int(cells),
            frame="fixed", domain=tuple(map(float, domain)), **settings,
        )  # fmt: skip
        grad = gradient(problem, initial, loss, final_time, diffusion_directions=(shape,))
        flat = np.append(grad.flat, grad.diffusion[0]) if train_diffusion else grad.flat
        return grad.value, flat

    return evaluate
