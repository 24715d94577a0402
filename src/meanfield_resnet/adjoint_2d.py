"""Mean-field gradients of a loss on the output law of the 2-D Vlasov equation: the adjoint.

Problem. The law of the data x = (x_1, x_2) (for the regression problem: (slope, intercept),
docs/model.md §4.2) solves ∂_t f + ∇·(v f) = 0, v(t, x) = σ(W(t) x + b(t)) with σ applied
componentwise and (W, b) = (W_s, b_s) constant on segment s (W_s a full 2 x 2 matrix, b_s a
2-vector; docs/model.md §1.2, §2.1). The loss J(f(T)) is the quadratic loss to a target
point x* (:class:`QuadraticLoss2D`), J = ∫ |x - x*|² f(T, x) dx. We want dJ/dθ for
θ = (W_s, b_s) of every segment.

Derivation (docs/model.md §6.2, §6.6; the 1-D case is :mod:`.adjoint`). A perturbation δv of
the velocity perturbs the law by δf with ∂_t δf + ∇·(v δf) = -∇·(δv f), δf(0) = 0, and J by
δJ = ∫ λ_T δf(T) dx with λ_T = δJ/δf(T) = |x - x*|². Let λ solve the adjoint (backward
transport) equation

    ∂_t λ + v·∇λ = 0,    λ(T, x) = λ_T(x).

Then d/dt ∫ λ δf dx = ∫ f δv·∇λ dx (integration by parts; f has compact support), so
δJ = ∫_0^T ∫ f δv·∇λ dx dt, and with δv_i = σ'((Wx + b)_i) (δW x + δb)_i on segment s:

    dJ/dW_s[i, j] = ∫_{segment s} ∫ f σ'((W_s x + b_s)_i) ∂_iλ x_j dx dt,
    dJ/db_s[i]    = ∫_{segment s} ∫ f σ'((W_s x + b_s)_i) ∂_iλ dx dt.

λ is constant along characteristics: λ(t, x) = λ_T(Φ_{t→T}(x)) with Φ_{t→T} the flow of
dx/dt = v from t to T, hence ∇λ(t, x) = DΦ_{t→T}(x)^T ∇λ_T(Φ_{t→T}(x)), ∇λ_T(y) = 2(y - x*).

Method (continuous adjoint, solved along characteristics):

* **The flow and its Jacobian.** v is autonomous on each segment, so Φ_{t→T} is the
  composition of the segments' flows and DΦ_{t→T} the product of their Jacobians (chain
  rule, later segments on the left). For σ = identity the segment flow is affine, in closed
  form Φ_τ(x) = e^{Wτ} x + W^{-1}(e^{Wτ} - I) b, DΦ_τ = e^{Wτ}, computed as the matrix
  exponential of the augmented matrix [[W, b], [0, 0]] τ (no W^{-1}: W may be singular)
  (:func:`affine_flow`). Otherwise the variational system

      x' = σ(Wx + b),    D' = diag(σ'(Wx + b)) W D,    D(0) = I,

  is integrated by the classical RK4, vectorised over the points with numpy, in N equal steps
  per point with N |τ| Lip(v) <= ``rk4_step`` (Lip(v) = max_i Σ_j |W_ij| sup|σ'|): the error
  is O(rk4_step⁴) (a few 1e-8 at the default 0.05 over |τ| Lip(v) ≈ 1.5, tests/test_adjoint_2d.py).
* **f(t, ·)** comes from the forward solver ``vlasov.solve`` (fixed or moving frame), asked
  for output times at the Gauss-Legendre nodes of each segment (:func:`adjoint.time_nodes`:
  ``nodes`` per panel of at most ``panel``) and at T; ``max_step`` adds a uniform grid of
  output times, which makes the step sequence independent of θ (:func:`adjoint.output_times`).
* **The x-integral** runs over the solver's cells at the node's time with the tensor
  ``cell_points``² Gauss rule, f on cell (i, j) read from the cell averages as
  f_ij + s^x_ij (x_1 - x_1i) + s^y_ij (x_2 - x_2j) with the monotonised-central limited
  slope along each axis (:func:`adjoint.mc_slopes`; ``reconstruction="linear"``, default) or
  as the constant f_ij (``"constant"``). Each cell keeps its mass either way. The constant
  reading costs ∫_cell (f - f_ij)(φ - φ_ij) ≈ ∇f·∇φ h²/12 per unit area, O(h²) in all; the
  linear reading removes that term, leaving O(h⁴) where f is smooth (the slopes are exact to
  O(h²) and enter against ∫ (x - x_i) φ = O(h⁴) per cell), and is exact where f is piecewise
  constant. Where both slopes of a cell are at their limits a single Gauss point's weight
  may be slightly negative (the cell's mass is kept). Cells whose mass is at most
  ``negligible`` times the total are skipped (their contribution is below ``negligible``
  times the number of cells times the largest integrand).
* **The t-integral** is the Gauss-Legendre sum over the nodes (v is constant in t on a
  segment, so the integrand is smooth there: error O(panel^{2 nodes})).

Consistency. λ is exact for the quadratic loss (λ_T does not depend on f), up to the RK4
error for a nonlinear σ, so the gradient's error is the forward solver's (in the weak
sense: f_h integrated against the smooth test functions σ' ∂_iλ x_j; the 2-D scheme is
second order for genuinely 2-D data), the cell quadrature's (O(h⁴) linear, O(h²) constant)
and the time quadrature's. It is the gradient of the continuous J, not the derivative of the
discrete J_h = Σ_ij m_ij (|c_ij - x*|² + (h_x² + h_y²)/12) (the loss of the piecewise-constant
f_h(T)): on a fixed frame the two agree to the forward solver's weak order, on a moving frame
dJ_h/dθ also carries d((h_x² + h_y²)/12)/dθ of the final cell widths (O(h²)), as in 1-D
(docs/model.md §6.2). J itself is returned from the same forward solve.

Limits: 2-D only (:mod:`.adjoint` is the 1-D case); no feedback bias; the quadratic loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm

from . import vlasov
from .activations import activation, activation_code, sigma_derivative, sigma_slope_bound
from .adjoint import mc_slopes, output_times, segment_intervals, time_nodes
from .distributions import Distribution

RK4_STEP = 0.05  # RK4 steps at most RK4_STEP / Lip(v) in time
NEGLIGIBLE = 1e-15  # cells with at most this fraction of the mass are skipped
CHUNK_POINTS = 1 << 19  # points per vectorised batch of the flow (bounds the memory)


# ------------------------------------------------------------------------------------------
# The loss


@dataclass(frozen=True)
class QuadraticLoss2D:
    """J(f) = ∫ |x - x*|² f dx, the mean squared distance of the law from the target point
    x* (for a probability law J = |m - x*|² + tr C, m the mean, C the covariance);
    δJ/δf = λ_T(x) = |x - x*|², ∇λ_T(x) = 2(x - x*)."""

    target: tuple[float, float]

    def __post_init__(self):
        target = np.asarray(self.target, dtype=float)
        if target.shape != (2,) or not np.all(np.isfinite(target)):
            raise ValueError(f"the target point must be 2 finite numbers, got {self.target!r}")

    @property
    def point(self) -> np.ndarray:
        return np.asarray(self.target, dtype=float)

    def value(self, edges, masses) -> float:
        """J of the piecewise-constant density with cell masses ``masses`` (n_x, n_y) on the
        tensor cells of ``edges`` = (x edges, y edges): exact, Σ_ij m_ij (|c_ij - x*|² +
        (h_x,i² + h_y,j²)/12), c_ij the cell centre."""
        ex, ey = (np.asarray(e, dtype=float) for e in edges)
        masses = np.asarray(masses, dtype=float)
        if masses.shape != (ex.size - 1, ey.size - 1):
            raise ValueError(f"masses {masses.shape} do not fit edges {ex.size}, {ey.size}")
        x, y = self.point
        along_x = (0.5 * (ex[:-1] + ex[1:]) - x) ** 2 + np.diff(ex) ** 2 / 12.0
        along_y = (0.5 * (ey[:-1] + ey[1:]) - y) ** 2 + np.diff(ey) ** 2 / 12.0
        return float((masses * (along_x[:, None] + along_y[None, :])).sum())

    def variation(self, points) -> np.ndarray:
        """λ_T = |x - x*|² at points of shape (..., 2)."""
        return ((np.asarray(points, dtype=float) - self.point) ** 2).sum(axis=-1)

    def variation_gradient(self, points) -> np.ndarray:
        """∇λ_T = 2(x - x*) at points of shape (..., 2)."""
        return 2.0 * (np.asarray(points, dtype=float) - self.point)


# ------------------------------------------------------------------------------------------
# The flow of the characteristic ODE and its Jacobian


def _check_parameters(weight, bias) -> tuple[np.ndarray, np.ndarray]:
    w, b = np.asarray(weight, dtype=float), np.asarray(bias, dtype=float)
    if w.shape != (2, 2) or b.shape != (2,):
        raise ValueError(f"the 2-D adjoint needs W 2 x 2 and b of 2, got {w.shape}, {b.shape}")
    return w, b


def affine_flow(weight, bias, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """(A, c) with Φ_τ(x) = A x + c the flow of x' = Wx + b over the time τ:
    A = e^{Wτ}, c = ∫_0^τ e^{Ws} ds b = W^{-1}(e^{Wτ} - I) b, from the exponential of the
    augmented matrix [[W, b], [0, 0]] τ (valid for a singular W)."""
    w, b = _check_parameters(weight, bias)
    augmented = np.zeros((3, 3))
    augmented[:2, :2], augmented[:2, 2] = w, b
    e = expm(float(tau) * augmented)
    return e[:2, :2], e[:2, 2]


def _flat_points(x) -> tuple[np.ndarray, tuple]:
    x = np.asarray(x, dtype=float)
    if x.ndim == 0 or x.shape[-1] != 2:
        raise ValueError(f"points must have shape (..., 2), got {x.shape}")
    return x.reshape(-1, 2), x.shape[:-1]


def _flat_times(tau, lead) -> np.ndarray:
    """τ broadcast to the points' leading shape, flattened."""
    return np.broadcast_to(np.asarray(tau, dtype=float), lead).ravel()


def flow_affine(weight, bias, x, tau) -> tuple[np.ndarray, np.ndarray]:
    """(Φ_τ(x), DΦ_τ(x)) for σ = identity in closed form (:func:`affine_flow`), points
    (..., 2), τ a number or one per point (broadcast against the leading shape)."""
    flat, lead = _flat_points(x)
    taus = _flat_times(tau, lead)
    values, which = np.unique(taus, return_inverse=True)
    pairs = [affine_flow(weight, bias, t) for t in values]
    a = np.stack([p[0] for p in pairs])[which]  # (M, 2, 2)
    c = np.stack([p[1] for p in pairs])[which]  # (M, 2)
    phi = np.einsum("mij,mj->mi", a, flat) + c
    return phi.reshape(*lead, 2), a.reshape(*lead, 2, 2)


def lipschitz(activation_name: str, weight) -> float:
    """Lip(v) <= max_i Σ_j |W_ij| sup|σ'| (the maximum norm's operator norm)."""
    return float(np.abs(weight).sum(axis=1).max()) * sigma_slope_bound(
        activation_code(activation_name)
    )


#: σ' from the value σ where that saves evaluating σ twice (else the registry's σ'(z))
_SLOPE_OF_VALUE = {"identity": np.ones_like, "tanh": lambda s: 1.0 - s * s}


def _velocity(entry, w, b, y):
    """σ(Wy + b) and σ'(Wy + b) for points y of shape (2, M) (component first)."""
    z = np.stack([w[0, 0] * y[0] + w[0, 1] * y[1] + b[0], w[1, 0] * y[0] + w[1, 1] * y[1] + b[1]])
    s = entry.function(z)
    of_value = _SLOPE_OF_VALUE.get(entry.name)
    return s, of_value(s) if of_value is not None else entry.derivative(z)


def _variational(entry, w, b, y, d):
    """Right-hand side of x' = σ(Wx + b), D' = diag(σ'(Wx + b)) W D: (y', D') for y (2, M),
    D (2, 2, M)."""
    s, slope = _velocity(entry, w, b, y)
    wd = np.stack(
        [w[i, 0] * d[0] + w[i, 1] * d[1] for i in range(2)]
    )  # (W D)[i, j] = Σ_l W_il D_lj
    return s, slope[:, None, :] * wd


def rk4_steps(taus, lip: float, step: float = RK4_STEP) -> np.ndarray:
    """Steps per point: the least N with N |τ| Lip <= ``step`` (at least 4), rounded up to
    the sequence ⌈4 · 1.25^k⌉ so that points with similar τ share one vectorised run."""
    if not step > 0:
        raise ValueError(f"the RK4 step bound must be positive, got {step!r}")
    need = np.maximum(4.0, np.ceil(np.abs(taus) * lip / step))
    level = np.ceil(np.log(need / 4.0) / np.log(1.25) - 1e-9)
    return np.maximum(need, np.ceil(4.0 * 1.25**level)).astype(int)


def _rk4(entry, w, b, y, h, steps):
    """``steps`` classical RK4 steps of size h (one per point) of the variational system from
    (y, I); y (2, M). Returns (y, D) with D (2, 2, M)."""
    d = np.zeros((2, 2, y.shape[1]))
    d[0, 0] = d[1, 1] = 1.0
    for _ in range(steps):
        k1, l1 = _variational(entry, w, b, y, d)
        k2, l2 = _variational(entry, w, b, y + 0.5 * h * k1, d + 0.5 * h * l1)
        k3, l3 = _variational(entry, w, b, y + 0.5 * h * k2, d + 0.5 * h * l2)
        k4, l4 = _variational(entry, w, b, y + h * k3, d + h * l3)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        d = d + h / 6.0 * (l1 + 2.0 * l2 + 2.0 * l3 + l4)
    return y, d


def flow_rk4(activation_name, weight, bias, x, tau, step: float = RK4_STEP):
    """(Φ_τ(x), DΦ_τ(x)) of x' = σ(Wx + b) by the classical RK4 on the variational system,
    N equal steps for a point with N |τ| Lip(v) <= ``step`` (:func:`rk4_steps`); points
    (..., 2), τ a number or one per point. Returns arrays (..., 2) and (..., 2, 2)."""
    w, b = _check_parameters(weight, bias)
    entry = activation(activation_name)
    flat, lead = _flat_points(x)
    taus = _flat_times(tau, lead)
    counts = rk4_steps(taus, lipschitz(activation_name, w), step)
    phi, jac = np.empty((2, flat.shape[0])), np.empty((2, 2, flat.shape[0]))
    for n in np.unique(counts):
        at = np.flatnonzero(counts == n)
        phi[:, at], jac[:, :, at] = _rk4(entry, w, b, flat[at].T, taus[at] / n, int(n))
    return phi.T.reshape(*lead, 2), np.moveaxis(jac, -1, 0).reshape(*lead, 2, 2)


def segment_flow(activation_name, weight, bias, x, tau, method="auto", step=RK4_STEP):
    """(Φ_τ(x), DΦ_τ(x)) for the autonomous velocity σ(Wx + b): the closed form for
    σ = identity (``method`` auto or exact), else RK4 (``method`` auto or rk4)."""
    if method not in ("auto", "exact", "rk4"):
        raise ValueError(f"unknown flow method {method!r} (auto, exact, rk4)")
    if activation_name == "identity" and method != "rk4":
        return flow_affine(weight, bias, x, tau)
    if method == "exact":
        raise ValueError(f"no closed-form 2-D flow for activation {activation_name!r}")
    return flow_rk4(activation_name, weight, bias, x, tau, step)


def flow_to_final(
    activation_name, segments, final_time, segment, t, x, method="auto", step=RK4_STEP
):
    """(Φ_{t→T}(x), DΦ_{t→T}(x)) for times t in segment ``segment``: the segments' flows
    composed, the Jacobians multiplied by the chain rule, DΦ_{t→T} = DΦ_last ... DΦ_first.
    ``t`` is a time or one per point (broadcast against the leading shape of ``x``)."""
    flat, lead = _flat_points(x)
    times = _flat_times(t, lead)
    phi, jac = flat.copy(), np.broadcast_to(np.eye(2), (flat.shape[0], 2, 2)).copy()
    for j, (lo, hi) in enumerate(segment_intervals(segments, final_time)):
        if j < segment:
            continue
        tau = hi - np.maximum(lo, times)
        if np.all(tau <= 0.0):
            continue
        tau = np.maximum(tau, 0.0)
        seg = segments[j]
        phi, step_jac = segment_flow(activation_name, seg.weight, seg.bias, phi, tau, method, step)
        jac = np.einsum("mij,mjk->mik", step_jac, jac)
    return phi.reshape(*lead, 2), jac.reshape(*lead, 2, 2)


# ------------------------------------------------------------------------------------------
# Forward solve, cell quadrature, the gradient


def _check(problem: vlasov.VlasovProblem, loss):
    if problem.feedback is not None:
        raise ValueError(
            "the mean-field adjoint is implemented without feedback bias: b = β m_1/m_0 makes "
            "the velocity depend on f, and the adjoint would need the extra nonlocal term"
        )
    if problem.dimension != 2:
        raise ValueError(
            f"the 2-D adjoint needs a 2-D Vlasov problem, got dimension {problem.dimension} "
            "(use meanfield_resnet.adjoint in 1-D)"
        )
    for seg in problem.segments:
        _check_parameters(seg.weight, seg.bias)
    if not hasattr(loss, "variation_gradient"):
        raise TypeError(f"the 2-D adjoint needs a loss with variation_gradient, got {loss!r}")


def initial_masses(problem: vlasov.VlasovProblem, initial) -> np.ndarray:
    """Cell masses (n_x, n_y) on the initial frame: given, or of a :class:`Distribution`."""
    frame = problem.frame
    if isinstance(initial, Distribution):
        return initial.cell_probabilities([frame.edges(0), frame.edges(1)])
    masses = np.asarray(initial, dtype=float)
    if masses.shape != tuple(frame.cells):
        raise ValueError(f"initial masses of shape {masses.shape}, the frame has {frame.cells}")
    return masses


def _final_edges(solution):
    return solution.edges(-1, 0), solution.edges(-1, 1)


def forward(problem, initial, loss, final_time, nodes=6, panel=0.5, max_step=None):
    """The forward solve of :func:`gradient`: (solution, (node times, weights, segments), J)."""
    _check(problem, loss)
    masses0 = initial_masses(problem, initial)
    t_nodes, t_weights, t_segment = time_nodes(problem.segments, final_time, nodes, panel)
    times = output_times(problem.segments, final_time, t_nodes, max_step)
    solution = vlasov.solve(problem, masses0, times)
    value = loss.value(_final_edges(solution), solution.cell_masses(-1))
    return solution, (t_nodes, t_weights, t_segment), value


def loss_value(problem, initial, loss, final_time, nodes=6, panel=0.5, max_step=None) -> float:
    """J(f_h(T)) from the same forward solve as :func:`gradient` (same output times, hence
    the same steps): the function whose differences the tests compare with."""
    return forward(problem, initial, loss, final_time, nodes, panel, max_step)[-1]


def cell_quadrature(edges_x, edges_y, density, cell_points=2, reconstruction="linear"):
    """Points and weights with Σ w φ(x) ≈ ∫ f φ dx over the tensor cells of the edges, f the
    cell averages ``density`` (n_x, n_y): the ``cell_points``² Gauss points of each cell,
    weighted by the cell's mass (f read as constant) plus, with ``reconstruction="linear"``,
    the MC-limited slopes along each axis (module docstring). Returns points (C, p², 2) and
    weights (C, p²) per cell (C = n_x n_y cells, row-major), and the cells' masses (C,)."""
    density = np.asarray(density, dtype=float)
    if density.shape != (np.size(edges_x) - 1, np.size(edges_y) - 1):
        raise ValueError(f"density {density.shape} does not fit the edges' cells")
    if reconstruction not in ("constant", "linear"):
        raise ValueError(f"unknown reconstruction {reconstruction!r} (constant, linear)")
    if int(cell_points) < 1:
        raise ValueError(f"cell_points must be >= 1, got {cell_points!r}")
    g, gw = np.polynomial.legendre.leggauss(int(cell_points))
    g, gw = 0.5 * (g + 1.0), 0.5 * gw
    ex, ey = np.asarray(edges_x, float), np.asarray(edges_y, float)
    hx, hy = np.diff(ex), np.diff(ey)
    area = hx[:, None] * hy[None, :]
    # f on the cell's points, per unit area: f_ij (+ Δx_ij (ξ - 1/2) + Δy_ij (η - 1/2))
    level = np.broadcast_to(density[:, :, None, None], (*density.shape, g.size, g.size))
    if reconstruction == "linear":
        dx, dy = mc_slopes(density.T).T, mc_slopes(density)  # along x (axis 0), along y
        tilt_x, tilt_y = dx[:, :, None, None] * (g - 0.5)[:, None], dy[:, :, None, None] * (g - 0.5)
        level = level + tilt_x + tilt_y
    weights = level * area[:, :, None, None] * (gw[:, None] * gw[None, :])
    px = np.broadcast_to((ex[:-1, None] + hx[:, None] * g)[:, None, :, None], weights.shape)
    py = np.broadcast_to((ey[:-1, None] + hy[:, None] * g)[None, :, None, :], weights.shape)
    points = np.stack([px, py], axis=-1).reshape(-1, g.size**2, 2)
    return points, weights.reshape(-1, g.size**2), (density * area).ravel()


@dataclass
class MeanFieldGradient2D:
    """J, dJ/dW_s (S, 2, 2) and dJ/db_s (S, 2), the time nodes and the forward solution."""

    value: float
    weight: np.ndarray
    bias: np.ndarray
    times: np.ndarray
    solution: vlasov.VlasovSolution

    @property
    def flat(self) -> np.ndarray:
        """Per segment (dJ/dW_11, dJ/dW_12, dJ/dW_21, dJ/dW_22, dJ/db_1, dJ/db_2), segments
        in order: the layout of :func:`regression_training.segments_from`."""
        return np.concatenate([self.weight.reshape(-1, 4), self.bias], axis=1).ravel()


def _node_batches(solution, outputs, t_nodes, t_weights, cell_points, reconstruction, floor):
    """Quadrature points x (P, 2), their time t, and weight ω_t × (f's mass there), of the
    given nodes, in batches of at most CHUNK_POINTS points."""
    xs, ts, ws, size = [], [], [], 0
    for k, t, omega in zip(outputs, t_nodes, t_weights, strict=True):
        points, weights, masses = cell_quadrature(
            solution.edges(k, 0), solution.edges(k, 1), solution.density[k], cell_points,
            reconstruction,
        )  # fmt: skip
        keep = masses > floor * masses.sum()
        xs.append(points[keep].reshape(-1, 2))
        ws.append(omega * weights[keep].ravel())
        ts.append(np.full(ws[-1].size, t))
        size += ws[-1].size
        if size >= CHUNK_POINTS:
            yield np.concatenate(xs), np.concatenate(ts), np.concatenate(ws)
            xs, ts, ws, size = [], [], [], 0
    if xs:
        yield np.concatenate(xs), np.concatenate(ts), np.concatenate(ws)


def gradient(
    problem: vlasov.VlasovProblem,
    initial,
    loss,
    final_time: float,
    nodes: int = 6,
    panel: float = 0.5,
    cell_points: int = 2,
    max_step: float | None = None,
    method: str = "auto",
    reconstruction: str = "linear",
    rk4_step: float = RK4_STEP,
    negligible: float = NEGLIGIBLE,
) -> MeanFieldGradient2D:
    """dJ/dθ of J(f(T)) for the 2-D Vlasov problem (no feedback; fixed or moving frame) from
    the initial cell masses (n_x, n_y) or a :class:`Distribution` (projected on the frame's
    cells), by the adjoint along the characteristics (module docstring)."""
    solution, (t_nodes, t_weights, t_segment), value = forward(
        problem, initial, loss, final_time, nodes, panel, max_step
    )
    segments, name = problem.segments, problem.activation
    grad_w, grad_b = np.zeros((len(segments), 2, 2)), np.zeros((len(segments), 2))
    outputs = np.searchsorted(solution.times, t_nodes)  # each node's output index
    for s in np.unique(t_segment):
        chosen = np.flatnonzero(t_segment == s)
        w, b = segments[s].weight, segments[s].bias
        batches = _node_batches(
            solution, outputs[chosen], t_nodes[chosen], t_weights[chosen], cell_points,
            reconstruction, negligible,
        )  # fmt: skip
        for x, t, weight in batches:
            phi, jac = flow_to_final(name, segments, final_time, s, t, x, method, rk4_step)
            dlam = np.einsum("mji,mj->mi", jac, loss.variation_gradient(phi))  # DΦ^T ∇λ_T
            z = np.stack([w[i, 0] * x[:, 0] + w[i, 1] * x[:, 1] + b[i] for i in range(2)], 1)
            a = weight[:, None] * sigma_derivative(name, z) * dlam  # f σ'(z_i) ∂_iλ
            grad_b[s] += a.sum(axis=0)
            grad_w[s] += np.einsum("mi,mj->ij", a, x)
    return MeanFieldGradient2D(float(value), grad_w, grad_b, t_nodes, solution)
