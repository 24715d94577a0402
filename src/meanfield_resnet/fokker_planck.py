"""Structure-preserving solver of the Fokker-Planck model (Fig. 9, fitting a target law):

    ∂_t f + ∂_x(σ(wx + b) f) = ∂_xx(K(x) f),   zero-flux boundaries,

with (w, b) piecewise constant in time (the segments, as in the Vlasov solver: steps end
on every switch, and each step takes the parameters of the segment it starts in).

**A grid that follows the law.** The grid is the affine image x = c(t) + s(t) ξ of the
reference interval ξ ∈ [-1, 1], cut into n equal cells (h = 2/n). With g = s f (mass per
unit ξ) the equation becomes, exactly, for any smooth c(t), s(t),

    ∂_t g + ∂_ξ(ũ g) = ∂_ξξ(K̃ g),   ũ = (v(c + sξ) - c' - ρ s ξ)/s,  K̃ = K(c + sξ)/s²,

with v = σ(wx + b) and ρ = s'/s. On a moving frame (``frame = "moving"``) each step takes
c' and ρ from the density at its start so that the frame follows the law's mean μ and
spread: c' = E[v(X)] = μ', ρ = (E[(X - μ) v(X)] + E[K(X)])/Var = Var'/(2 Var), and
s(0) = ``frame_width`` standard deviations of the initial law (at least its support). The
frame moves with c' and ρ constant over a step (c linear, s exponential in t): the
transformed equation is exact for that path, so the frame's own motion adds no error. For
σ = identity and constant K (Ornstein-Uhlenbeck) ũ = -K̃ ξ in the frame: the law keeps
the same shape in ξ, and the Gaussian it relaxes to is the scheme's exact discrete steady
state. ``frame = "fixed"`` keeps c, s constant (the physical grid of a given domain).

**Space: Scharfetter-Gummel flux.** Written as J = A g - K̃ ∂_ξ g with A = ũ - ∂_ξ K̃, the
exponentially fitted flux at face i+1/2,

    J_{i+1/2} = (K̃_{i+1/2}/h) [B(-z) g_i - B(z) g_{i+1}],  z = h A_{i+1/2}/K̃_{i+1/2},
    B(z) = z/(e^z - 1),  A_{i+1/2} = ũ(ξ_{i+1/2}) - (K̃_{i+1} - K̃_i)/h,

is exact for the face-local problem, so the discrete zero-flux state satisfies
g_{i+1}/g_i = e^{z}, the discrete counterpart of g'/g = (ũ - K̃')/K̃, i.e. (K̃ g)' = ũ g: the
scheme's steady state is the continuous one up to a second-order quadrature of
∫(ũ - K̃')/K̃ (exactly the Gaussian's point values when ũ is linear and K̃ constant). It
degenerates to upwinding where K → 0 (the ends of a fitted uniform target).

**Time: θ-scheme, positive.** (I - θΔt A_{n+1}) g^{n+1} = (I + (1-θ)Δt A_n) g^n with A_n,
A_{n+1} the operator at the two ends of the step. The off-diagonals of A are ≥ 0 and its
columns sum to zero, so I - θΔt A is an M-matrix (inverse ≥ 0) and mass is conserved to
round-off; the right-hand side is ≥ 0 when (1-θ)Δt max|A_ii| ≤ 1. θ = 1/2 (Crank-Nicolson,
second order) starts with four backward-Euler half steps (Rannacher's start: they damp the
high frequencies of a discontinuous initial law, which Crank-Nicolson alone carries along
undamped); a step whose result has a negative value is redone under the bound above, where
it is positive whatever the data, so every step is positive. θ = 1 (backward Euler) is first
order and always positive. Steps are at most ``time_step`` (and, on a moving frame, move
the frame by at most ``frame_step`` of its scale) and land exactly on the output times; all
steps between two output times run in compiled calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import exact
from ._jit import jit, subnormals_flushed
from .activations import activation_code, sigma, sigma_numpy
from .diffusion import Diffusion, evaluate
from .distributions import Distribution
from .moments import check_projection, w1_cdf
from .progress import Progress

CHUNK = 50_000  # steps per compiled call (progress is logged between calls)
SMOOTHING_STEPS = 4  # backward-Euler half steps that start a θ < 1 run (Rannacher)


@dataclass
class FokkerPlanckProblem:
    """σ, the (w, b) segments and K of ∂_t f + ∂_x(σ(wx+b) f) = ∂_xx(K f), and how to
    discretise it (the counterpart of :class:`vlasov.VlasovProblem`).

    ``frame`` "moving" (the grid follows the law's mean and spread, ``frame_width`` standard
    deviations either side; it moves by at most ``frame_step`` of its scale per step) or
    "fixed" (``domain``, or :func:`default_domain`). ``time_step`` bounds every step (a step
    that would turn negative is redone shorter). ``target`` is the fitted
    steady state, if any (its W1 distance is recorded)."""

    activation: str
    segments: tuple
    diffusion: Diffusion
    cells: int
    frame: str = "moving"
    domain: tuple[float, float] | None = None
    frame_width: float = 7.0
    frame_step: float = 0.05
    time_step: float = 0.0025
    theta: float = 0.5
    mass_tolerance: float = 1e-10
    resolution_tolerance: float = 1e-2
    target: Distribution | None = None

    def __post_init__(self):
        for seg in self.segments:
            if np.shape(seg.weight) != (1, 1) or np.shape(seg.bias) != (1,):
                raise ValueError("the Fokker-Planck model is 1-D: every segment needs a 1x1 "
                                 "weight and one bias")  # fmt: skip

    @property
    def code(self) -> int:
        return activation_code(self.activation)

    def segment(self, t: float):
        """The segment in force from time t on (a step starting at t uses it)."""
        for seg in self.segments:
            if t < seg.until - 1e-12:
                return seg
        return self.segments[-1]

    def parameters(self, t: float) -> tuple[float, float]:
        """(w, b) in force from time t on."""
        seg = self.segment(t)
        return float(seg.weight[0, 0]), float(seg.bias[0])

    @property
    def weight(self) -> float:
        """w of the first segment."""
        return self.parameters(0.0)[0]

    @property
    def bias(self) -> float:
        """b of the first segment (the bias a fitted target derives, when there is one)."""
        return self.parameters(0.0)[1]

    def pieces(self, start: float, end: float):
        """(w, b, until) for each part of [start, end] within one segment."""
        t = start
        while t < end - 1e-13 * max(1.0, end):
            seg = self.segment(t)
            until = min(end, seg.until)
            yield float(seg.weight[0, 0]), float(seg.bias[0]), until
            t = until


@dataclass
class FokkerPlanckSolution:
    """Density at the output times on its (moving) grid, with diagnostics."""

    times: np.ndarray
    density: np.ndarray  # (time, n) cell averages of f
    centres: np.ndarray  # (time, n) cell centres x
    dx: np.ndarray  # (time,) cell width
    mass: np.ndarray
    min_density: np.ndarray
    steps: np.ndarray
    diffusion: np.ndarray  # (time, n) K at the cell centres
    target_density: np.ndarray | None  # (time, n) cell averages of the target
    w1_to_target: np.ndarray | None

    def edges(self, k: int, axis: int = 0) -> np.ndarray:
        """Cell edges at output k (the one axis: ``axis`` = 0, as for the Vlasov solution)."""
        if axis != 0:
            raise ValueError("the Fokker-Planck solution is 1-D: axis must be 0")
        return np.concatenate(
            [self.centres[k] - 0.5 * self.dx[k], [self.centres[k, -1] + 0.5 * self.dx[k]]]
        )

    def cell_masses(self, k: int) -> np.ndarray:
        """Mass of each cell at output k (density times cell width)."""
        return self.density[k] * self.dx[k]


@jit(inline=True)
def bernoulli_pair(z):
    """(B(z), B(-z)), B(z) = z/(e^z - 1) ≥ 0, with B(-z) = B(z) + z; the larger of the two is
    formed by the sum, so neither loses its digits (both stay ≥ 0)."""
    a = abs(z)
    if a < 1e-8:
        small = 1.0 - 0.5 * a
    elif a > 700.0:
        small = a * math.exp(-a)
    else:
        small = a / math.expm1(a)
    large = small + a
    return (small, large) if z >= 0.0 else (large, small)


@jit
def operator(code, w, b, k_args, centre, scale, centre_rate, scale_rate, lower, diag, upper):
    """Tridiagonal A (sub-diagonal, diagonal, super-diagonal) with dg/dt = A g on the
    reference grid ξ_i = -1 + (i + 1/2) h of the frame x = centre + scale ξ moving with
    (c', ρ) = (centre_rate, scale_rate): the Scharfetter-Gummel fluxes of the module
    docstring on the n-1 interior faces, none at the ends."""
    kind, values, x0, kdx = k_args
    n = diag.size
    h = 2.0 / n
    inv_s = 1.0 / scale
    inv_s2 = inv_s * inv_s
    k_left = evaluate(centre + scale * (-1.0 + 0.5 * h), kind, values, x0, kdx) * inv_s2
    diag[:] = 0.0
    for i in range(n - 1):
        xi = -1.0 + (i + 1) * h
        x = centre + scale * xi
        k_right = evaluate(x + 0.5 * h * scale, kind, values, x0, kdx) * inv_s2
        k_face = evaluate(x, kind, values, x0, kdx) * inv_s2
        u = (sigma(code, w * x + b) - centre_rate - scale_rate * scale * xi) * inv_s
        drift = u - (k_right - k_left) / h
        if k_face <= 1e-300:  # no diffusion: first-order upwinding
            alpha, beta = max(drift, 0.0), max(-drift, 0.0)
        else:
            b_plus, b_minus = bernoulli_pair(h * drift / k_face)
            alpha, beta = k_face * b_minus / h, k_face * b_plus / h
        lower[i] = alpha / h
        upper[i] = beta / h
        diag[i] -= alpha / h
        diag[i + 1] -= beta / h
        k_left = k_right


@jit
def theta_step(g, lower0, diag0, upper0, lower1, diag1, upper1, dt, theta, out, rhs, c):
    """(I - θ Δt A_1) out = (I + (1-θ) Δt A_0) g, A tridiagonal; Thomas algorithm (the
    matrix is an M-matrix, so no pivoting is needed). ``rhs`` and ``c`` are work arrays."""
    n = g.size
    e = (1.0 - theta) * dt
    for i in range(n):
        r = g[i] + e * diag0[i] * g[i]
        if i > 0:
            r += e * lower0[i - 1] * g[i - 1]
        if i < n - 1:
            r += e * upper0[i] * g[i + 1]
        rhs[i] = r
    solve_shifted_tridiagonal(theta * dt, lower1, diag1, upper1, rhs, out, c)


@jit(inline=True)
def solve_shifted_tridiagonal(a, sub, diag, sup, rhs, out, c):
    """out = (I - a T)⁻¹ rhs for T tridiagonal, T[i, i-1] = sub[i-1], T[i, i] = diag[i],
    T[i, i+1] = sup[i], by the Thomas algorithm (I - aT an M-matrix here: no pivoting);
    ``c`` is a work array. The transpose (I - a T)ᵀ is solved by swapping sub and sup."""
    n = rhs.size
    b0 = 1.0 - a * diag[0]
    c[0] = -a * sup[0] / b0 if n > 1 else 0.0
    out[0] = rhs[0] / b0
    for i in range(1, n):
        low = -a * sub[i - 1]
        den = 1.0 - a * diag[i] - low * c[i - 1]
        c[i] = -a * sup[i] / den if i < n - 1 else 0.0
        out[i] = (rhs[i] - low * out[i - 1]) / den
    for i in range(n - 2, -1, -1):
        out[i] -= c[i] * out[i + 1]


@jit
def frame_rates(code, w, b, k_args, g, centre, scale):
    """(c', ρ, std) with c' = E[v(X)], ρ = (E[(X - μ) v(X)] + E[K(X)]) / Var of the law on
    the grid (cell masses at the centres for the expectations; Var of the piecewise constant
    density)."""
    kind, values, x0, kdx = k_args
    n = g.size
    h = 2.0 / n
    m0 = 0.0
    m1 = 0.0
    for i in range(n):
        m0 += g[i]
        m1 += g[i] * (-1.0 + (i + 0.5) * h)
    mean = m1 / m0
    var = 0.0
    ev = 0.0
    exv = 0.0
    ek = 0.0
    for i in range(n):
        xi = -1.0 + (i + 0.5) * h
        x = centre + scale * xi
        v = sigma(code, w * x + b)
        var += g[i] * ((xi - mean) ** 2 + h * h / 12.0)
        ev += g[i] * v
        exv += g[i] * (xi - mean) * v
        ek += g[i] * evaluate(x, kind, values, x0, kdx)
    var = var / m0 * scale * scale
    return ev / m0, (exv / m0 * scale + ek / m0) / var, np.sqrt(var)


@jit
def _theta_try(code, w, b, k_args, moving, state, rates, dt, theta, g, work, new):
    """One θ-step of size dt from g (operator A_0 in work[:3]) into ``new``, the frame moved
    to t + dt; returns whether ``new`` is non-negative."""
    lower0, diag0, upper0, lower1, diag1, upper1, rhs, c = work
    if moving:
        centre, scale = state[0] + rates[0] * dt, state[1] * math.exp(rates[1] * dt)
        operator(code, w, b, k_args, centre, scale, rates[0], rates[1], lower1, diag1, upper1)
        theta_step(g, lower0, diag0, upper0, lower1, diag1, upper1, dt, theta, new, rhs, c)
    else:
        theta_step(g, lower0, diag0, upper0, lower0, diag0, upper0, dt, theta, new, rhs, c)
    top, low = 0.0, 0.0
    for i in range(new.size):
        top, low = max(top, new[i]), min(low, new[i])
    return low >= -1e-14 * top


@jit
def theta_steps(
    code, w, b, k_args, moving, dt_max, frame_step, theta, duration, max_steps, g, state, work
):
    """Advance g (mass per reference cell width) and ``state`` = (centre, scale, smoothing
    steps left) by ``duration`` with θ-steps of at most dt_max, at most ``max_steps`` of
    them; returns (steps taken, time left). ``work`` holds 8 arrays of size n.

    The first steps (state[2] of them) are backward-Euler steps of half size (Rannacher's
    start: they damp the high frequencies of a discontinuous initial law, which
    Crank-Nicolson alone would carry along undamped). On a moving frame, |ρ| Δt ≤ frame_step
    and |c'| Δt ≤ frame_step std. A step whose result has a negative value is redone with
    (1-θ) Δt max|A_ii| ≤ 1, under which the step is positive whatever the data."""
    lower0, diag0, upper0 = work[0], work[1], work[2]
    new = np.empty_like(g)
    rates = np.zeros(2)
    steps = 0
    left = duration
    while left > 1e-13 * max(1.0, duration) and steps < max_steps:
        speed = 0.0
        if moving:
            rates[0], rates[1], std = frame_rates(code, w, b, k_args, g, state[0], state[1])
            speed = max(abs(rates[1]), abs(rates[0]) / std)
        operator(code, w, b, k_args, state[0], state[1], rates[0], rates[1], lower0, diag0,
                 upper0)  # fmt: skip
        th = theta
        dt = min(dt_max, left)
        if state[2] > 0:
            th, dt = 1.0, min(dt, 0.5 * dt_max)
        if speed * dt > frame_step:
            dt = frame_step / speed
        if dt >= left * (1.0 - 1e-12):
            dt = left
        positive = _theta_try(code, w, b, k_args, moving, state, rates, dt, th, g, work, new)
        if not positive and th < 1.0:
            stiff = 0.0
            for i in range(g.size):
                stiff = max(stiff, -diag0[i])
            dt = min(dt, 1.0 / ((1.0 - th) * stiff))
            _theta_try(code, w, b, k_args, moving, state, rates, dt, th, g, work, new)
        if moving:
            state[0] += rates[0] * dt
            state[1] *= math.exp(rates[1] * dt)
        state[2] = max(state[2] - 1.0, 0.0)
        g[:] = new
        left -= dt
        steps += 1
    return steps, left


def default_domain(problem: FokkerPlanckProblem, law, final_time: float) -> np.ndarray:
    """A fixed domain: the initial support ∪ its image under the flow at T, widened by
    12 √(2 K' (T_eff + Δt)), K' = max K + max v² Δt/2 (the numerical diffusion and the
    exponential tails of large backward-Euler steps); with a fitted target, the hull of the
    initial and target supports (K is small outside)."""
    lo, hi = law.support()[0]
    if problem.target is not None:
        a1, a2 = problem.target.support()[0]
        return np.array([min(lo, a1), max(hi, a2)])
    dt, ends, t, pts = problem.time_step, np.array([lo, hi]), 0.0, [lo, hi]
    for w, b, until in problem.pieces(0.0, final_time):
        ends = exact.characteristic(problem.activation, w, b, ends, until - t)
        pts, t = [*pts, *ends], until
    span = np.linspace(min(pts), max(pts), 64)
    vmax = max(
        float(np.max(np.abs(sigma_numpy(problem.activation, w * span + b))))
        for w, b, _ in problem.pieces(0.0, final_time)
    )
    kmax = float(np.max(problem.diffusion(span))) + 0.5 * vmax**2 * dt
    rate = max(abs(w) for w, _, _ in problem.pieces(0.0, final_time))
    t_eff = min(final_time, 1.0 / rate) if rate != 0 else final_time
    pad = 12.0 * np.sqrt(2.0 * kmax * (t_eff + dt))
    return np.array([min(pts) - pad, max(pts) + pad])


def initial_grid(problem: FokkerPlanckProblem, law, final_time: float) -> np.ndarray:
    """(centre, scale) of the grid at t = 0: the fixed domain's middle and half-width; or,
    moving, at least ``frame_width`` initial standard deviations either side of the middle
    of the initial support, widened until the support's ends fall on cell faces (the
    projection of a law with jumps there, such as a uniform one, is then exact)."""
    if problem.frame == "fixed":
        lo, hi = (
            problem.domain
            if problem.domain is not None
            else default_domain(problem, law, final_time)
        )
        return np.array([0.5 * (lo + hi), 0.5 * (hi - lo)])
    lo, hi = law.support()[0]
    half, std = 0.5 * (hi - lo), float(np.sqrt(law.variance()[0]))
    reach = max(problem.frame_width * std, 1.02 * half)
    inside = max(1, int(problem.cells * half / (2.0 * reach)))  # cells from middle to end
    return np.array([0.5 * (lo + hi), half * problem.cells / (2.0 * inside)])


def estimate_steps(problem: FokkerPlanckProblem, final_time: float) -> float:
    """Steps to final_time: T / time_step (more where a fast frame or a positivity fallback
    shortens steps, which happens in short transients)."""
    return final_time / problem.time_step + SMOOTHING_STEPS


@subnormals_flushed()
def solve(problem: FokkerPlanckProblem, law, output_times, log=None) -> FokkerPlanckSolution:
    """Solve from the cell averages of ``law`` to each output time; raise on non-finite
    values, negative density, or mass at the boundary of the grid."""
    n = int(problem.cells)
    times = np.asarray(output_times, dtype=float)
    smoothing = SMOOTHING_STEPS if problem.theta < 1.0 else 0
    grid = np.append(initial_grid(problem, law, float(times[-1])), smoothing)  # (c, s, steps)
    reference = np.linspace(-1.0, 1.0, n + 1)
    edges = grid[0] + grid[1] * reference
    g = law.cell_probabilities([edges])
    check_projection(law.mean(), law.variance(), [g], [edges], problem.resolution_tolerance)
    g *= n / 2.0  # mass per unit ξ
    if problem.frame == "fixed" and np.any(problem.diffusion(grid[0] + grid[1] * reference) < 0):
        raise ValueError("diffusion K(x) is negative on the domain")
    natural_ends = problem.target is not None and problem.target.kind == "uniform"
    settings = (problem.frame == "moving", problem.time_step, problem.frame_step, problem.theta)
    work = tuple(np.empty(n) for _ in range(8))
    out, t, steps, progress = [], 0.0, 0, Progress(log)
    for t_out in times:
        for w, b, until in problem.pieces(t, t_out):
            args = (problem.code, w, b, problem.diffusion.args, *settings)
            left = until - t
            while left > 1e-13 * max(1.0, until - t):
                taken, left = theta_steps(*args, left, CHUNK, g, grid, work)
                steps += taken
                progress.report(until - left, t_out, steps)
            t = until
        t = t_out
        edges = grid[0] + grid[1] * reference
        tolerance = None if natural_ends else problem.mass_tolerance
        out.append(_check(g * (2.0 / n), edges, t, steps, tolerance, problem.frame))
        if log is not None:
            log(f"t = {t:g}: {steps} steps, mass {out[-1]['mass']:.15g}, "
                f"grid [{edges[0]:.6g}, {edges[-1]:.6g}]")  # fmt: skip
    return _solution(problem, times, out)


def _check(masses, edges, t, steps, tolerance, frame) -> dict:
    if not (np.all(np.isfinite(masses)) and np.all(np.isfinite(edges))):
        raise FloatingPointError(
            f"Fokker-Planck solution not finite at t = {t:g} (grid [{edges[0]:.3g}, "
            f"{edges[-1]:.3g}]): the law left the range of double precision"
        )
    mass = float(masses.sum())
    low = float(masses.min())
    if low < -1e-14 * float(masses.max()):
        raise FloatingPointError(f"negative density {low:.3e} at t = {t:g}")
    edge = float(masses[:2].sum() + masses[-2:].sum()) / mass
    if tolerance is not None and edge > max(tolerance, 1e-8) * 1e2:
        remedy = "pde.frame_width" if frame == "moving" else "pde.domain"
        raise FloatingPointError(
            f"density reaches the boundary at t = {t:g} (mass fraction {edge:.2e} in the end "
            f"cells): enlarge {remedy}"
        )
    dx = edges[1] - edges[0]
    return {"masses": masses.copy(), "edges": edges, "mass": mass, "low": low / dx,
            "steps": steps}  # fmt: skip


def _solution(problem, times, out) -> FokkerPlanckSolution:
    edges = np.stack([o["edges"] for o in out])
    dx = edges[:, 1] - edges[:, 0]
    centres = 0.5 * (edges[:, 1:] + edges[:, :-1])
    density = np.stack([o["masses"] for o in out]) / dx[:, None]
    target_density = w1 = None
    if problem.target is not None:
        target_masses = np.stack([problem.target.cell_probabilities([e]) for e in edges])
        target_density = target_masses / dx[:, None]
        parts = zip(edges, density * dx[:, None], target_masses, strict=True)
        w1 = np.array([w1_cdf(e, _cdf(m), _cdf(target)) for e, m, target in parts])
    return FokkerPlanckSolution(
        times=times,
        density=density,
        centres=centres,
        dx=dx,
        mass=np.array([o["mass"] for o in out]),
        min_density=np.array([o["low"] for o in out]),
        steps=np.array([o["steps"] for o in out]),
        diffusion=problem.diffusion(centres),
        target_density=target_density,
        w1_to_target=w1,
    )


def _cdf(masses):
    return np.concatenate([[0.0], np.cumsum(masses)])


def discrete_steady_state(lower, diag, upper, dx) -> np.ndarray:
    """The scheme's own steady state: A f = 0 with mass Σ f Δx = 1 (one equation of the
    singular system replaced by the mass constraint; dense solve, for verification)."""
    a = np.diag(diag) + np.diag(lower, -1) + np.diag(upper, 1)
    row = int(np.argmax(np.abs(diag)))
    a[row] = dx
    rhs = np.zeros(diag.size)
    rhs[row] = 1.0
    return np.linalg.solve(a, rhs)
