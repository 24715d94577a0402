"""Mean-field gradients of a loss on the output law: the adjoint of the 1-D Vlasov equation.

Problem. The law of the data solves ∂_t f + ∂_x(v f) = 0, v(t, x) = σ(w(t) x + b(t)), with
(w, b) = (w_s, b_s) constant on segment s (docs/model.md §1.2, §2.1); the loss J(f(T)) is one
of :mod:`.losses`. We want dJ/dθ for θ = (w_s, b_s) of every segment.

Derivation (docs/model.md §6). A perturbation δv of the velocity perturbs the law by δf with
∂_t δf + ∂_x(v δf) = -∂_x(δv f), δf(0) = 0, and J by δJ = ∫ λ_T δf(T) dx with
λ_T = δJ/δf(T) (the loss's first variation). Let λ solve the adjoint (backward transport)
equation

    ∂_t λ + v ∂_x λ = 0,    λ(T, x) = λ_T(x).

Then d/dt ∫ λ δf dx = ∫ (∂_t λ δf + λ ∂_t δf) dx = ∫ (-v ∂_xλ δf + ∂_xλ v δf + ∂_xλ δv f) dx
(integrating by parts; f has compact support), so

    δJ = ∫_0^T ∫ f(t, x) δv(t, x) ∂_x λ(t, x) dx dt,

and with δv = ∂_θ v δθ, ∂_w v = σ'(wx + b) x, ∂_b v = σ'(wx + b) on segment s:

    dJ/dw_s = ∫_{segment s} ∫ f σ'(w_s x + b_s) x ∂_xλ dx dt,
    dJ/db_s = ∫_{segment s} ∫ f σ'(w_s x + b_s) ∂_xλ dx dt.

λ is constant along characteristics: λ(t, x) = λ_T(Φ_{t→T}(x)) with Φ_{t→T} the flow of
dx/dt = v from time t to T, hence ∂_xλ(t, x) = λ_T'(Φ_{t→T}(x)) ∂_xΦ_{t→T}(x)
(λ_T' = ``loss.variation_derivative``).

Method (continuous adjoint, solved exactly along characteristics):

* **The flow.** v is autonomous on each segment, so Φ_{t→T} is the composition of the
  segments' flows, each in closed form (``exact.characteristic``, docs/model.md §3.1). Its
  derivative follows from the same closed forms in y = wx + b (dy/dy_0 = σ(y)/σ(y_0), written
  without the 0/0 where v vanishes): identity e^{wτ}; tanh e^{wτ} cosh y_0 / cosh y; sigmoid
  (1 + e^{-y_0})/(1 + e^{-y}); ReLU e^{wτ} where y_0 > 0, else 1; w = 0: 1. Where no closed
  form is available (an activation without one, |w| so small that x = (y - b)/w loses the
  digits, or a non-finite closed form) the variational system x' = v(x), J' = w σ'(wx+b) J
  is integrated by the classical RK4 in numba with steps of at most 0.002/Lip(v), vectorised
  over the points (:func:`flow_rk4`; verified against the closed form in the tests).
* **f(t, ·)** comes from the forward solver ``vlasov.solve`` (any frame, fixed or moving),
  asked for output times at the Gauss-Legendre nodes of each segment (cut into panels of at
  most ``panel`` in time, ``nodes`` nodes each) and at T. The solver's steps end exactly on
  its output times; ``max_step`` adds a uniform grid of output times, which makes the step
  sequence independent of θ (used by the finite-difference checks).
* **The x-integral** runs over the solver's cells at the node's time, each by the
  ``cell_points``-point Gauss rule, with f on the cell read from the cell averages f_i as
  f_i + s_i (x - x_i), s_i the monotonised-central limited slope (:func:`point_masses`): it
  keeps every cell's mass and f >= 0, equals the piecewise-constant reading where the data
  are piecewise constant (jumps, the edges of the support), and removes the O(Δx²) error of
  that reading, ∫_cell (f - f_i)(φ - φ_i) ≈ f' φ' Δx³/12 per cell, where they are smooth.
* **The t-integral** is the Gauss-Legendre sum over the nodes (v is smooth in t on a segment,
  so the integrand is smooth there: error O(panel^{2 nodes})).

Consistency. λ is exact for the given λ_T, so the gradient's error is the forward solver's
error (in the weak sense: f_h integrated against the smooth test function σ' x ∂_xλ, where
the scheme is third order), the cell quadrature's (O(Δx⁴) for smooth data with the limited
linear reconstruction, ``reconstruction="linear"``, the default; O(Δx²) with
``"constant"``), λ_T's (exact for losses whose variation does not depend on f, e.g. the
quadratic and classification losses; O(Δx²) for the energy distance, whose λ_T' = 4(G - F_h)
reads f_h(T) as piecewise constant), and the time quadrature's (negligible at the defaults).
It is the gradient of the continuous J, not the exact derivative of the discrete J_h
(tests/test_adjoint.py, docs/model.md §6.4): for the quadratic loss it converges to the exact
gradient at order ≈ 4 on fixed and moving frames, and agrees with differences of J_h at
order ≈ 5 on a fixed frame, but only at order 2 on a moving one, because J_h reads f_h(T) as
piecewise constant (adding h_T²/12 to the second moment) and the moving frame's final cell
width h_T depends on θ. For σ = identity on a moving frame the solver transports the cell
averages exactly, and the gradient of the mean and variance is exact to round-off. The loss
J itself is returned from the same forward solve.

Limits: 1-D only; no feedback bias (the adjoint would gain the nonlocal term of b(f)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import prange

from . import exact, vlasov
from ._jit import jit
from .activations import activation_code, sigma, sigma_derivative, sigma_slope, sigma_slope_bound
from .distributions import Distribution

#: the time quadrature's defaults: Gauss-Legendre nodes per panel, the panel's length (exact
#: for polynomials of degree 11 over each panel; v is smooth in t on a segment, so the
#: quadrature's error is far below the space discretisation's: 6 nodes on panels of 1 and
#: 8 nodes on 0.25 agree to 6e-8 relative on the benchmark problem at 400 cells, the
#: difference of the forward steps, not of the quadrature)
NODES, PANEL = 6, 1.0

CLOSED_FORMS = ("identity", "tanh", "sigmoid", "relu")
RK4_STEP = 0.002  # RK4 steps at most RK4_STEP / Lip(v) in time


# ------------------------------------------------------------------------------------------
# The flow of the characteristic ODE and its x-derivative


@jit(parallel=True)
def flow_rk4(code, w, b, x, tau, steps, out_x, out_j):
    """(Φ_τ(x), ∂_xΦ_τ(x)) of dx/dt = σ(wx + b) by ``steps`` classical RK4 steps on the
    variational system x' = σ(wx+b), J' = w σ'(wx+b) J, J(0) = 1."""
    h = tau / steps
    for i in prange(x.size):
        y, jac = x[i], 1.0
        for _ in range(steps):
            z1 = w * y + b
            s1 = sigma(code, z1)
            k1, l1 = s1, w * sigma_slope(code, s1) * jac
            z2 = w * (y + 0.5 * h * k1) + b
            s2 = sigma(code, z2)
            k2, l2 = s2, w * sigma_slope(code, s2) * (jac + 0.5 * h * l1)
            z3 = w * (y + 0.5 * h * k2) + b
            s3 = sigma(code, z3)
            k3, l3 = s3, w * sigma_slope(code, s3) * (jac + 0.5 * h * l2)
            z4 = w * (y + h * k3) + b
            s4 = sigma(code, z4)
            k4, l4 = s4, w * sigma_slope(code, s4) * (jac + h * l3)
            y += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
            jac += h / 6.0 * (l1 + 2.0 * l2 + 2.0 * l3 + l4)
        out_x[i] = y
        out_j[i] = jac


def segment_flow_rk4(activation, w, b, x, tau):
    x = np.ascontiguousarray(np.asarray(x, dtype=float).ravel())
    code = activation_code(activation)
    lip = abs(w) * sigma_slope_bound(code)
    steps = max(4, math.ceil(abs(tau) * lip / RK4_STEP))
    out_x, out_j = np.empty_like(x), np.empty_like(x)
    flow_rk4(code, float(w), float(b), x, float(tau), steps, out_x, out_j)
    return out_x, out_j


def _logsigmoid_ratio(y, y0):
    """log(σ(y)/σ(y0)) for the sigmoid, = log(1 + e^{-y0}) - log(1 + e^{-y})."""
    return np.logaddexp(0.0, -y0) - np.logaddexp(0.0, -y)


def _log_cosh(y):
    a = np.abs(y)
    return a + np.log1p(np.exp(-2.0 * a)) - math.log(2.0)


def segment_flow(activation, w, b, x, tau, method="auto"):
    """(Φ_τ(x), ∂_xΦ_τ(x)) for the autonomous velocity σ(wx + b) over the time τ: closed form
    where there is one and it keeps its digits, else RK4 (``method``: auto, exact, rk4)."""
    x = np.asarray(x, dtype=float)
    w, b = float(w), float(b)
    if np.ndim(tau) > 0:  # τ per point (broadcast against x): one time per time node
        tau = np.asarray(tau, dtype=float)
        if np.all(tau == tau.flat[0]):
            tau = float(tau.flat[0])
        elif method == "rk4" or (method == "auto" and activation not in CLOSED_FORMS):
            x, tau = np.broadcast_arrays(x, tau)
            phi, jac = np.empty_like(x), np.empty_like(x)
            for value in np.unique(tau):
                at = tau == value
                phi[at], jac[at] = segment_flow(activation, w, b, x[at], float(value), method)
            return phi, jac
    if np.ndim(tau) == 0 and tau == 0.0:
        return x.copy(), np.ones_like(x)
    if method == "rk4" or (method == "auto" and activation not in CLOSED_FORMS):
        phi, jac = segment_flow_rk4(activation, w, b, x, tau)
        return phi.reshape(x.shape), jac.reshape(x.shape)
    if w == 0.0:
        return exact.characteristic(activation, w, b, x, tau), np.ones_like(x)
    if method == "auto":
        # x = (y - b)/w amplifies the round-off of y = wx + b by 1/|w|
        noise = 1e-16 * (abs(b) + np.abs(w * x).max(initial=0.0) + 1.0) / abs(w)
        if noise > 1e-13 * (1.0 + np.abs(x).max(initial=0.0)):
            return segment_flow(activation, w, b, x, tau, "rk4")
    phi = exact.characteristic(activation, w, b, x, tau)
    y0, y = w * x + b, w * phi + b
    with np.errstate(over="ignore", invalid="ignore"):
        if activation == "identity":
            jac = np.broadcast_to(np.exp(w * tau), x.shape).copy()
        elif activation == "tanh":
            jac = np.exp(w * tau) * (np.cosh(y0) / np.cosh(y))
            far = ~np.isfinite(jac) | (jac == 0.0)  # cosh overflows beyond |y| ~ 710
            if far.any():
                jac[far] = np.exp((w * tau + _log_cosh(y0) - _log_cosh(y)) * np.ones_like(jac))[far]
        elif activation == "sigmoid":
            jac = np.exp(_logsigmoid_ratio(y, y0))
        elif activation == "relu":
            jac = np.where(y0 > 0.0, np.exp(w * tau), 1.0)
        else:
            raise ValueError(f"no closed-form flow for activation {activation!r}")
    if method == "auto" and not (np.all(np.isfinite(phi)) and np.all(np.isfinite(jac))):
        return segment_flow(activation, w, b, x, tau, "rk4")
    return phi, jac


def segment_intervals(segments, final_time: float) -> list[tuple[float, float]]:
    """[t_s, t_{s+1}] ∩ [0, T] per segment, as the solvers read the segments: segment s holds
    from the previous segment's ``until`` to its own, the last one to T."""
    out, start = [], 0.0
    for j, seg in enumerate(segments):
        end = final_time if j == len(segments) - 1 else min(float(seg.until), final_time)
        lo, hi = min(start, final_time), max(min(start, final_time), end)
        out.append((lo, hi))
        start = max(start, float(seg.until))
    return out


def flow_to_final(activation, segments, final_time, segment, t, x, method="auto"):
    """(Φ_{t→T}(x), ∂_xΦ_{t→T}(x)) for t in segment ``segment``: the segments' flows
    composed, with the chain rule for the derivative. ``t`` is a time, or one time per
    leading index of ``x`` (shaped to broadcast against it)."""
    intervals = segment_intervals(segments, final_time)
    phi, jac = np.asarray(x, dtype=float), np.ones(np.shape(x))
    for j in range(segment, len(segments)):
        lo, hi = intervals[j]
        tau = hi - np.maximum(lo, t)
        if np.all(tau <= 0.0):
            continue
        w, b = _scalar(segments[j].weight), _scalar(segments[j].bias)
        phi, step = segment_flow(activation, w, b, phi, tau, method)
        jac = jac * step
    return phi, jac


def _scalar(v) -> float:
    v = np.asarray(v, dtype=float)
    if v.size != 1:
        raise ValueError("the mean-field adjoint is for the 1-D model (scalar w, b)")
    return float(v.ravel()[0])


# ------------------------------------------------------------------------------------------
# Time nodes, forward solves, the gradient


def time_nodes(segments, final_time, nodes=NODES, panel=PANEL):
    """Gauss-Legendre nodes and weights in time: ``nodes`` per panel, each segment's
    interval cut into equal panels of at most ``panel``; also the segment of each node."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    times, weights, index = [], [], []
    for s, (lo, hi) in enumerate(segment_intervals(segments, final_time)):
        if hi <= lo:
            continue
        k = max(1, math.ceil((hi - lo) / panel - 1e-12))
        edges = np.linspace(lo, hi, k + 1)
        for a, c in zip(edges[:-1], edges[1:], strict=True):
            times.append(0.5 * (a + c) + 0.5 * (c - a) * x)
            weights.append(0.5 * (c - a) * w)
            index.append(np.full(nodes, s))
    return np.concatenate(times), np.concatenate(weights), np.concatenate(index)


def output_times(segments, final_time, node_times, max_step=None) -> np.ndarray:
    """The forward solve's output times: the nodes, T, and with ``max_step`` a uniform grid of
    at most that spacing on each segment (the steps then are the gaps between these times,
    whatever θ, as long as they are below the solver's stable step)."""
    times = [np.asarray(node_times, float), [float(final_time)]]
    if max_step is not None:
        for lo, hi in segment_intervals(segments, final_time):
            if hi > lo:
                times.append(np.linspace(lo, hi, max(1, math.ceil((hi - lo) / max_step)) + 1))
    out = np.unique(np.concatenate(times))
    return out[out > 0.0]


def _check(problem: vlasov.VlasovProblem):
    if problem.feedback is not None:
        raise ValueError(
            "the mean-field adjoint is implemented without feedback bias: b = β m_1/m_0 makes "
            "the velocity depend on f, and the adjoint would need the extra nonlocal term"
        )
    if problem.dimension != 1:
        raise ValueError("the mean-field adjoint is for the 1-D Vlasov equation")


def initial_masses(problem: vlasov.VlasovProblem, initial, loss) -> np.ndarray:
    """Cell masses on the problem's initial frame, shape (n,) or (laws, n): given as is, or
    from a :class:`Distribution` (split into class parts by the loss where it has them)."""
    if isinstance(initial, Distribution):
        edges = problem.frame.edges(0)
        if hasattr(loss, "initial_masses"):
            return loss.initial_masses(initial, edges)
        return initial.cell_probabilities([edges])
    masses = np.asarray(initial, dtype=float)
    laws = getattr(loss, "laws", 1)
    if laws > 1 and (masses.ndim != 2 or masses.shape[0] != laws):
        raise ValueError(f"the loss needs {laws} laws: initial masses of shape ({laws}, n)")
    if laws == 1 and masses.ndim != 1:
        raise ValueError("the loss needs one law: initial masses of shape (n,)")
    return masses


def _edges(solution, k):
    """The cell edges of output(s) k, shape (..., cells + 1)."""
    n = solution.density.shape[1]
    lower, upper = solution.lower[k, 0], solution.upper[k, 0]
    return np.multiply.outer(upper - lower, np.linspace(0.0, 1.0, n + 1)) + np.expand_dims(
        lower, -1
    )


def forward(problem, initial, loss, final_time, nodes=NODES, panel=PANEL, max_step=None):
    """The forward solves of :func:`gradient`: (solutions per law, node times, weights,
    segments, the final edges and masses as the loss takes them, J)."""
    _check(problem)
    masses0 = initial_masses(problem, initial, loss)
    t_nodes, t_weights, t_segment = time_nodes(problem.segments, final_time, nodes, panel)
    times = output_times(problem.segments, final_time, t_nodes, max_step)
    laws = masses0 if masses0.ndim == 2 else masses0[None]
    solutions = [vlasov.solve(problem, m, times) for m in laws]
    edges_t = np.stack([_edges(s, -1) for s in solutions])
    masses_t = np.stack(
        [s.density[-1] * np.diff(e) for s, e in zip(solutions, edges_t, strict=True)]
    )
    if masses0.ndim == 1:
        edges_t, masses_t = edges_t[0], masses_t[0]
    value = loss.value(edges_t, masses_t)
    return solutions, (t_nodes, t_weights, t_segment), edges_t, masses_t, value


def loss_value(
    problem, initial, loss, final_time, nodes=NODES, panel=PANEL, max_step=None
) -> float:
    """J(f_h(T)) from the same forward solves as :func:`gradient` (same output times, hence
    the same steps): the function whose differences the tests compare with."""
    return forward(problem, initial, loss, final_time, nodes, panel, max_step)[-1]


def mc_slopes(density):
    """Monotonised-central limited differences per cell along the last axis (zero density
    outside the cells): minmod(2Δ_-, (Δ_- + Δ_+)/2, 2Δ_+), the centred difference where the
    data are smooth and monotone, zero at extrema and next to jumps into empty cells."""
    density = np.asarray(density, dtype=float)
    pad = np.zeros((*density.shape[:-1], 1))
    d = np.diff(np.concatenate([pad, density, pad], axis=-1), axis=-1)
    dm, dp = d[..., :-1], d[..., 1:]
    c = 0.5 * (dm + dp)
    mag = np.minimum(np.minimum(2 * np.abs(dm), 2 * np.abs(dp)), np.abs(c))
    return np.where(dm * dp > 0, np.sign(c) * mag, 0.0)


def point_masses(edges, density, nodes, node_weights, reconstruction="linear"):
    """Weights of the cell Gauss points (nodes on [0, 1]) for ∫ f φ dx: the cell mass times
    the Gauss weight (``constant``: f piecewise constant), plus the limited linear part of f
    (``linear``: f_i + s_i (x - x_i) with the MC-limited slope s_i; it keeps each cell's mass,
    stays non-negative, is exact where the data are piecewise constant and improves the
    integral from O(Δx²) to O(Δx³) where they are smooth). Edges (..., n + 1) and densities
    (..., n) along the last axis; the result has shape (..., n · points)."""
    h = np.diff(edges, axis=-1)
    base = (density * h)[..., None] * node_weights
    if reconstruction == "constant":
        return base.reshape(*base.shape[:-2], -1)
    if reconstruction != "linear":
        raise ValueError(f"unknown reconstruction {reconstruction!r} (constant, linear)")
    # ∫_cell s_i (x - x_i) φ dx with s_i = Δ_i/h_i, x - x_i = h_i (ξ - 1/2), dx = h_i dξ
    tilt = mc_slopes(density)[..., None] * (h[..., None] * node_weights * (nodes - 0.5))
    total = base + tilt
    return total.reshape(*total.shape[:-2], -1)


@dataclass
class MeanFieldGradient:
    """J, dJ/dw_s and dJ/db_s per segment, the time nodes and the forward solutions."""

    value: float
    weight: np.ndarray
    bias: np.ndarray
    times: np.ndarray
    solutions: list

    @property
    def flat(self) -> np.ndarray:
        """(dJ/dw_0, dJ/db_0, dJ/dw_1, ...)."""
        return np.stack([self.weight, self.bias], axis=1).ravel()


def _node_points(solutions, outputs, g, gw, reconstruction):
    """Cell Gauss points x and their weights (f's mass there), shape (laws, nodes, P), at the
    given output indices of every law's solution."""
    x = np.empty((len(solutions), len(outputs), solutions[0].density.shape[1] * g.size))
    mass = np.empty_like(x)
    for i, sol in enumerate(solutions):
        e = _edges(sol, outputs)
        x[i] = (e[:, :-1, None] + np.diff(e, axis=-1)[:, :, None] * g).reshape(len(outputs), -1)
        mass[i] = point_masses(e, sol.density[outputs], g, gw, reconstruction)
    return x, mass


def gradient(
    problem: vlasov.VlasovProblem,
    initial,
    loss,
    final_time: float,
    nodes: int = NODES,
    panel: float = PANEL,
    cell_points: int = 2,
    max_step: float | None = None,
    method: str = "auto",
    reconstruction: str = "linear",
) -> MeanFieldGradient:
    """dJ/dθ of J(f(T)) for the 1-D Vlasov problem (no feedback; any frame) from the initial
    cell masses (or a :class:`Distribution`, projected on the frame's cells), by the adjoint
    along exact characteristics (module docstring)."""
    solutions, (t_nodes, t_weights, t_segment), edges_t, masses_t, value = forward(
        problem, initial, loss, final_time, nodes, panel, max_step
    )
    segments, activation = problem.segments, problem.activation
    multi = np.ndim(masses_t) == 2
    g, gw = np.polynomial.legendre.leggauss(cell_points)
    g, gw = 0.5 * (g + 1.0), 0.5 * gw
    grad = np.zeros((len(segments), 2))
    outputs = np.searchsorted(solutions[0].times, t_nodes)  # each node's output index
    for s in np.unique(t_segment):  # all nodes of a segment at once: arrays (laws, nodes, P)
        chosen = np.flatnonzero(t_segment == s)
        w, b = _scalar(segments[s].weight), _scalar(segments[s].bias)
        x, mass = _node_points(solutions, outputs[chosen], g, gw, reconstruction)
        phi, jac = flow_to_final(
            activation, segments, final_time, s, t_nodes[chosen][None, :, None], x, method
        )
        flat = phi.reshape(len(solutions), -1) if multi else phi.ravel()
        dlam = loss.variation_derivative(flat, edges_t, masses_t).reshape(phi.shape) * jac
        weight = mass * sigma_derivative(activation, w * x + b) * dlam
        omega = t_weights[chosen][None, :, None]
        grad[s, 0] += (omega * weight * x).sum()
        grad[s, 1] += (omega * weight).sum()
    return MeanFieldGradient(float(value), grad[:, 0].copy(), grad[:, 1].copy(), t_nodes, solutions)
