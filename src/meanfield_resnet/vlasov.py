"""Finite-volume solver of the mean-field Vlasov equation ∂_t f + ∇·(σ(W x + b) f) = 0.

Scheme (Figs. 1, 2, 4, 6, 7, 8):

* **Grid that follows the flow.** Each axis r is the affine image x_r = a_r(t) + (z_r(t) - a_r(t)) η
  of the reference cell η ∈ [0, 1], cut into n_r equal cells. With J = Π (z_r - a_r) and g = J f
  the equation becomes, exactly, ∂_t g + Σ_r ∂_{η_r}(ũ_r g) = 0 with the relative velocity
  ũ_r = (v_r(x) - a_r' - (z_r' - a_r') η_r) / (z_r - a_r), v = σ(Wx + b). The box edges move
  with a_r' = min v_r over the lower face and z_r' = max v_r over the upper face, so ũ points
  into the box on its boundary: no mass can leave, and the boundary flux is zero. In 1-D the
  edges are characteristics of the support's ends; for an affine velocity (σ = identity,
  also with the feedback bias) ũ ≡ 0 and the density is transported exactly, so contraction
  (w = -1: support 0.04 wide at t = 5) or expansion (w = 1: ×150) costs no resolution.
  ``frame = "fixed"`` keeps a_r, z_r constant (outflow at the boundary is measured and, beyond
  ``mass_tolerance``, an error).
* **Space:** WENO5-Z reconstruction of the upwind face value along each axis (stencil chosen
  by the sign of ũ), dimension by dimension.
* **Positivity:** Hu-Adams-Shu flux limiter: each face flux is blended with the first-order
  upwind flux just enough that every forward-Euler stage keeps g ≥ 0; valid for
  2 d λ_r max|ũ_r| <= 1, which the step control guarantees with the CFL number ``cfl`` <= 1.
* **Time:** SSP-RK3 (convex combination of Euler stages, so positivity carries over). The
  frame edges follow their ODE a_r' = min v_r, z_r' = max v_r *exactly* where its flow is
  known in closed form: for σ = identity (any dimension, constant or feedback bias) it is a
  linear system y' = A y, advanced by the matrix exponential; in 1-D without feedback the
  edges are characteristics, moved by the exact characteristic map of σ (``exact``). Each
  Runge-Kutta stage then sees the edges at its own time (t + Δt, t + Δt/2, t + Δt), which is
  the third-order scheme for the non-autonomous equation of g. Otherwise (2-D with a
  nonlinear σ, 1-D nonlinear σ with feedback) the edges are integrated in the same SSP-RK3
  stages. Step: dt = cfl Δη_r / (2 d max|ũ_r|), also at most ``frame_step`` / Lip(v) and cut
  to land exactly on the output times and segment switches.
* **Feedback bias** b(t) = β m_1(t)/m_0(0) is recomputed from g at every stage.

Design order: 5 in space on smooth data in 1-D, 3 in time; with dt ∝ Δη the observed order
is 3. The 2-D dimension-by-dimension reconstruction of cell averages is second order for
genuinely 2-D data. Mass is conserved to round-off (flux form, zero boundary flux).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
from scipy.linalg import expm

from . import exact
from . import finite_volume as fv
from ._jit import subnormals_flushed
from .activations import activation_code, has_closed_flow, sigma_slope_bound
from .progress import Progress


@cache
def _reference(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference faces and centres of n cells on [0, 1], read-only: every stage of a
    moving frame maps them to its box."""
    faces, centres = np.linspace(0.0, 1.0, n + 1), (np.arange(n) + 0.5) / n
    faces.flags.writeable = centres.flags.writeable = False
    return faces, centres


@dataclass
class Frame:
    """The moving (or fixed) box [a_r, z_r] per axis and its reference cells."""

    lower: np.ndarray
    upper: np.ndarray
    cells: tuple[int, ...]
    moving: bool = True

    @classmethod
    def from_box(cls, box, cells, moving: bool = True) -> Frame:
        """The frame on ``box`` (d x 2: lower and upper end per axis) with ``cells`` cells
        per axis (an int in 1-D, or a tuple)."""
        box = np.array(box, dtype=float).reshape(-1, 2)
        cells = tuple(np.atleast_1d(cells).tolist())
        return cls(box[:, 0].copy(), box[:, 1].copy(), cells, moving)

    def reference_faces(self, axis: int) -> np.ndarray:
        """The faces η_i = i/n of the reference cells on [0, 1] (read-only, made once)."""
        return _reference(self.cells[axis])[0]

    def reference_centres(self, axis: int) -> np.ndarray:
        """The centres (i + 1/2)/n of the reference cells (read-only, made once)."""
        return _reference(self.cells[axis])[1]

    def physical(self, axis: int, eta: np.ndarray, lower=None, upper=None) -> np.ndarray:
        lo = self.lower[axis] if lower is None else lower[axis]
        hi = self.upper[axis] if upper is None else upper[axis]
        return lo + (hi - lo) * eta

    def edges(self, axis: int) -> np.ndarray:
        return self.physical(axis, self.reference_faces(axis))

    def centres(self, axis: int) -> np.ndarray:
        return self.physical(axis, self.reference_centres(axis))


@dataclass
class VlasovProblem:
    """σ, the piecewise constant (W, b) segments or feedback β, and the frame."""

    activation: str
    segments: tuple
    feedback: float | None
    frame: Frame
    cfl: float = 0.8
    frame_step: float = 0.05
    mass_tolerance: float = 1e-10
    code: int = field(init=False)
    cache: dict = field(init=False, default_factory=dict)

    def __post_init__(self):
        self.code = activation_code(self.activation)

    @property
    def fixed_geometry(self) -> bool:
        """Whether the velocities on the reference grid stay the same within a segment (a
        fixed frame without feedback bias): then the geometry and step size are computed
        once per segment, and the steps run in one compiled call."""
        return not self.frame.moving and self.feedback is None

    @property
    def dimension(self) -> int:
        return len(self.frame.cells)

    def segment(self, t: float):
        for s in self.segments:
            if t < s.until - 1e-12:
                return s
        return self.segments[-1]

    def lipschitz(self) -> float:
        """Lip(v) <= ||W||_∞ sup|σ'| (|β| added for the feedback bias)."""
        norms = [np.abs(s.weight).sum(axis=1).max() for s in self.segments]
        extra = abs(self.feedback) if self.feedback is not None else 0.0
        return max(norms) * sigma_slope_bound(self.code) + extra


def _mean(problem, g, lower, upper, mass0) -> np.ndarray:
    """μ = m_1/m_0 per axis from the mass per reference cell g (f dx = g dη)."""
    frame, d = problem.frame, problem.dimension
    mass = g.reshape(frame.cells) * np.prod([1.0 / n for n in frame.cells])
    m1 = np.empty(d)
    for r in range(d):
        xr = frame.physical(r, frame.reference_centres(r), lower, upper)
        m1[r] = (mass.sum(axis=tuple(c for c in range(d) if c != r)) * xr).sum()
    return m1 / mass0


def _bias(problem, g, t, lower, upper, mass0):
    """(W, b)(t): the segment's, or with the feedback bias β m_1/m_0(0) from the density."""
    seg = problem.segment(t)
    if problem.feedback is None:
        return seg.weight, seg.bias
    return seg.weight, problem.feedback * _mean(problem, g, lower, upper, mass0)


def _exact_edges(problem, g, t, lower, upper, mass0, dt):
    """The box edges (lower, upper) at t + dt·τ for the SSP-RK3 stage times τ = 1, 1/2, 1,
    along the exact flow of a' = min v, z' = max v over the box faces (as the kernels
    evaluate them: v at the face points), or None where that flow has no closed form."""
    seg = problem.segment(t)
    if problem.activation == "identity":
        flow = _affine_edge_flow(problem, seg, g, lower, upper, mass0)
        return [flow(tau * dt) for tau in fv.SSP_RK3_TIMES]
    if problem.dimension == 1 and problem.feedback is None and has_closed_flow(problem.activation):
        w, b = float(seg.weight[0, 0]), float(seg.bias[0])
        ends = np.concatenate([lower, upper])
        # x = (y - b)/w amplifies the round-off of y = wx + b by 1/|w|: use the map only
        # where that stays far below the box width
        noise = 1e-15 * (abs(b) + np.abs(w * ends).max() + 1.0) / max(abs(w), 1e-300)
        if noise < 1e-10 * (upper[0] - lower[0]):
            out = [exact.characteristic(problem.activation, w, b, ends, tau * dt)
                   for tau in fv.SSP_RK3_TIMES]  # fmt: skip
            if all(np.all(np.isfinite(e)) for e in out):
                return [(e[:1], e[1:]) for e in out]
    return None


def _affine_edge_flow(problem, seg, g, lower, upper, mass0):
    """For v = Wx + b (b constant, or β μ(t) with μ' = (W + βI) μ) the edge velocities are
    linear in y = (a, z[, μ], 1): y' = A y. Returns τ ↦ (a, z)(t + τ) = exp(τ A) y(t); the
    propagators are cached per segment and step size (steps mostly repeat their size)."""
    d = problem.dimension
    y = [lower, upper, [1.0]]
    if problem.feedback is not None:
        y.insert(2, _mean(problem, g, lower, upper, mass0))
    y = np.concatenate(y)

    def at(tau):
        key = ("edge_flow", id(seg), tau)
        if key not in problem.cache:
            problem.cache[key] = expm(tau * _edge_matrix(problem, seg))
        moved = problem.cache[key] @ y
        return moved[:d], moved[d : 2 * d]

    return at


def _edge_matrix(problem, seg) -> np.ndarray:
    """A of y' = A y, y = (a, z[, μ], 1), for σ = identity. On the lower face of axis r,
    min v_r = W_rr a_r + b_r + Σ_{s≠r} W_rs c_s with c_s the lowest (W_rs ≥ 0) or highest
    (W_rs < 0) cell centre of axis s, c_s = a_s + (z_s - a_s)/(2 n_s) or
    z_s - (z_s - a_s)/(2 n_s); the upper face likewise with max. With the feedback bias,
    b = β μ and μ' = (W + βI) μ."""
    d, w, cells, beta = problem.dimension, seg.weight, problem.frame.cells, problem.feedback
    size = 2 * d + (d if beta is not None else 0) + 1
    a_matrix = np.zeros((size, size))
    for r in range(d):
        for face, lowest in ((r, True), (d + r, False)):  # lower face: min; upper: max
            a_matrix[face, face] += w[r, r]
            for other in range(d):
                if other == r:
                    continue
                near = 0.5 / cells[other]
                at_low = (w[r, other] >= 0) == lowest  # the extreme at the lowest centre
                a_matrix[face, other] += w[r, other] * ((1 - near) if at_low else near)
                a_matrix[face, d + other] += w[r, other] * (near if at_low else (1 - near))
            if beta is None:
                a_matrix[face, -1] = seg.bias[r]
            else:
                a_matrix[face, 2 * d + r] = beta
    if beta is not None:
        a_matrix[2 * d : 3 * d, 2 * d : 3 * d] = w + beta * np.eye(d)
    return a_matrix


def _per_segment(compute):
    """Cache ``compute(problem, g, t, lower, upper, mass0)`` per segment when it depends on
    nothing else: a fixed frame without feedback."""

    def cached(problem, g, t, lower, upper, mass0):
        if not problem.fixed_geometry:
            return compute(problem, g, t, lower, upper, mass0)
        key = (compute.__name__, id(problem.segment(t)))
        if key not in problem.cache:
            problem.cache[key] = compute(problem, g, t, lower, upper, mass0)
        return problem.cache[key]

    return cached


@_per_segment
def _geometry(problem, g, t, lower, upper, mass0):
    """Per physical axis r: (row pass?, the pass's fv.Geometry) with
    v_r = σ(offsets + slope x) on its lines of faces and the frame rates (a'_r, z'_r)."""
    frame, d, code = problem.frame, problem.dimension, problem.code
    weight, bias = _bias(problem, g, t, lower, upper, mass0)
    faces = [frame.physical(r, frame.reference_faces(r), lower, upper) for r in range(d)]
    centres = [frame.physical(r, frame.reference_centres(r), lower, upper) for r in range(d)]
    out = []
    for r in range(d):
        rows = r == d - 1  # the last axis is contiguous in memory
        if d == 1:
            offsets = np.array([bias[0]])
        elif rows:
            offsets = bias[1] + weight[1, 0] * centres[0]
        else:
            offsets = bias[0] + weight[0, 0] * faces[0]
        slope = float(weight[r, d - 1])
        coords = faces[r] if rows else centres[d - 1]
        eta = frame.reference_faces(r)
        across = np.zeros(offsets.size) if rows else eta
        along = eta if rows else np.zeros(coords.size)
        da = dz = 0.0
        if frame.moving:
            da, dz = fv.edge_velocities(code, offsets, slope, coords, rows)
        motion = np.array([slope, da, dz, upper[r] - lower[r]])
        out.append((rows, fv.Geometry(offsets, coords, across, along, motion)))
    return out


def _stage_geometry(problem, geometry) -> tuple:
    """The leading arguments of fv.euler_stage/ssp_rk3_steps: σ's code, the number of axes,
    the geometry of axis 0 and of the last axis (as plain tuples), and whether the frame is
    closed (moving)."""
    first, last = tuple(geometry[0][1]), tuple(geometry[-1][1])
    return (problem.code, problem.dimension, first, last, problem.frame.moving)


def _check_box(lower, upper, t):
    """Refuse a box narrower than the round-off of its position, or not finite: the law has
    contracted to (or diverged beyond) what double precision resolves."""
    width = upper - lower
    floor = 64 * np.finfo(float).eps * np.maximum(np.abs(lower), np.abs(upper))
    if not (np.all(np.isfinite(width)) and np.all(width > floor)):
        raise FloatingPointError(
            f"the grid box collapsed at t = {t:g} (width {width.tolist()} at "
            f"{lower.tolist()}): the law has contracted below the round-off of its position "
            "(use a shorter final_time, or pde.frame: fixed with a pde.domain)"
        )


def _check_cfl(worst, t):
    if worst > 1.0 + 1e-9:
        raise FloatingPointError(
            f"CFL bound violated at t = {t:g}: 2 d λ max|ũ| = {worst:.3f} > 1 "
            "(lower pde.cfl or pde.frame_step)"
        )


def _euler(problem, state, t, dt, mass0, out, base, alpha, beta, edges=None):
    """One Shu-Osher stage of the positivity-preserving forward-Euler step L of the limited
    WENO5-Z scheme: (g, a, z) <- α base + β ((g, a, z) + Δt L(g, a, z)).

    ``state`` and ``base`` are (g as a 2-D array, lower, upper, max |g|); the new g is written
    into ``out`` (reused buffers: a fresh large array costs a page fault per 4 KiB) by
    fv.euler_stage. A fixed frame keeps its box exactly; ``edges`` (lower, upper), where
    given, are the box at the stage's time on the exact flow of the edges."""
    g, lower, upper, scale = state
    geometry = _geometry(problem, g, t, lower, upper, mass0)
    worst, top = fv.euler_stage(*_stage_geometry(problem, geometry), alpha, beta, dt, scale,
                                base[0], g, out, fv.parallel_parts())  # fmt: skip
    _check_cfl(worst, t)
    if edges is not None:
        lower, upper = edges
    elif problem.frame.moving:
        da = np.array([geo.motion[fv.DA] for _, geo in geometry])
        dz = np.array([geo.motion[fv.DZ] for _, geo in geometry])
        lower = alpha * base[1] + beta * (lower + dt * da)
        upper = alpha * base[2] + beta * (upper + dt * dz)
    return out, lower, upper, top


@_per_segment
def _step_size(problem, g, t, lower, upper, mass0):
    """Largest stable step: cfl Δη_r / (2 d max|ũ_r|) on every axis, and frame_step / Lip(v)."""
    d = problem.dimension
    limits = [problem.frame_step / max(problem.lipschitz(), 1e-300)]
    measure = fv.stage_parameters(0.0, 1.0, True, False, 1.0, 0.0, problem.frame.moving, 1.0)
    for r, (rows, geo) in enumerate(_geometry(problem, g, t, lower, upper, mass0)):
        top, _ = fv.axis_pass(rows, problem.code, tuple(geo), measure, g, g, g, fv.parallel_parts())
        if top > 0:
            limits.append(problem.cfl / (2 * d * problem.frame.cells[r] * top))
    return min(limits)


@dataclass
class VlasovSolution:
    """Density at the output times with its (moving) grid and diagnostics."""

    times: np.ndarray
    density: np.ndarray  # (time, n_x[, n_y])
    lower: np.ndarray  # (time, d)
    upper: np.ndarray  # (time, d)
    mass: np.ndarray  # (time,)
    min_density: np.ndarray  # (time,)
    steps: np.ndarray  # (time,) steps taken since t = 0
    reference_centres: list[np.ndarray]

    def edges(self, k: int, axis: int = 0) -> np.ndarray:
        """Cell edges along ``axis`` at output k."""
        n = self.density.shape[1 + axis]
        return self.lower[k, axis] + (self.upper[k, axis] - self.lower[k, axis]) * np.linspace(
            0.0, 1.0, n + 1
        )

    def cell_masses(self, k: int) -> np.ndarray:
        """Mass of each cell at output k (density times cell volume)."""
        volume = np.prod((self.upper[k] - self.lower[k]) / np.array(self.density.shape[1:]))
        return self.density[k] * volume


def estimate_steps(problem: VlasovProblem, initial_mass: np.ndarray, final_time: float):
    """Steps to final_time at the step size of t = 0 (an estimate: the step changes as the
    velocities on the grid do)."""
    frame = problem.frame
    g = np.asarray(initial_mass, dtype=float) / np.prod([1.0 / n for n in frame.cells])
    g = np.ascontiguousarray(g.reshape(-1, frame.cells[-1]))
    lower, upper = frame.lower.astype(float), frame.upper.astype(float)
    dt = _step_size(problem, g, 0.0, lower, upper, float(initial_mass.sum()))
    return final_time / dt


@subnormals_flushed()
def solve(problem: VlasovProblem, initial, output_times, log=None) -> VlasovSolution:
    """Advance the initial law from t = 0 to each output time exactly; raise on non-finite
    values, negative density or lost mass. ``initial`` is a distribution (its cell masses
    on the frame are taken, as :func:`fokker_planck.solve` does) or the cell masses
    themselves (shape = cells, summing to m_0)."""
    frame, d = problem.frame, problem.dimension
    if hasattr(initial, "cell_probabilities"):
        initial = initial.cell_probabilities([frame.edges(r) for r in range(d)])
    initial_mass = np.asarray(initial, dtype=float)
    cell = np.prod([1.0 / n for n in frame.cells])
    g = np.asarray(initial_mass, dtype=float) / cell  # g = J f: mass per reference volume
    mass0 = float(initial_mass.sum())
    lower, upper = frame.lower.astype(float).copy(), frame.upper.astype(float).copy()
    # the kernels see a 2-D array whose last axis is contiguous: one row in 1-D
    state = (np.ascontiguousarray(g.reshape(-1, frame.cells[-1])), lower, upper, _scale(g))
    if not state[3] <= fv.MAX_DENSITY:
        raise ValueError(
            f"initial density per reference cell volume {state[3]:.3g} is not finite or "
            f"exceeds {fv.MAX_DENSITY:g} (the WENO weights would overflow): check the initial "
            "masses"
        )
    work = [np.empty_like(state[0]) for _ in range(3)]
    stops = sorted({float(s.until) for s in problem.segments if np.isfinite(s.until)})
    t, steps, out, progress = 0.0, 0, [], Progress(log)
    for t_out in np.asarray(output_times, dtype=float):
        while _short_of(t, t_out):
            dt = _step_size(problem, state[0], t, state[1], state[2], mass0)
            nxt = min([t_out] + [s for s in stops if s > t + 1e-13])
            if problem.fixed_geometry:  # the steps to nxt in compiled calls of CHUNK steps
                dts, t_next = _steps_until(t, dt, nxt)
                state = _ssp_rk3_steps(problem, state, t, dts, mass0, work)
                t, steps = t_next, steps + dts.size
            else:
                dt = min(dt, nxt - t)
                state = _ssp_rk3(problem, state, t, dt, mass0, work)
                t = _advanced(t, dt, nxt)
                steps += 1
                _check_box(state[1], state[2], t)
            progress.report(t, t_out, steps)
        g, lower, upper = state[0].reshape(frame.cells), state[1], state[2]
        out.append(_record(problem, g, lower, upper, t, steps, mass0, cell))
        if log is not None:
            log(
                f"t = {t:g}: {steps} steps, mass {out[-1][3]:.15g}, "
                f"box {np.round(lower, 6).tolist()}..{np.round(upper, 6).tolist()}"
            )
    fields = list(zip(*out, strict=True))
    return VlasovSolution(
        times=np.asarray(output_times, dtype=float),
        density=np.stack(fields[0]),
        lower=np.stack(fields[1]),
        upper=np.stack(fields[2]),
        mass=np.asarray(fields[3]),
        min_density=np.asarray(fields[4]),
        steps=np.asarray(fields[5]),
        reference_centres=[frame.reference_centres(r) for r in range(d)],
    )


def _scale(g) -> float:
    return float(np.abs(g).max()) if g.size else 1.0


def _short_of(t, target):
    """Whether t falls short of target by more than round-off."""
    return t < target - 1e-13 * max(1.0, target)


def _advanced(t, dt, nxt):
    """t + dt, landing exactly on nxt when within round-off of it."""
    return t + dt if _short_of(t + dt, nxt) else nxt


CHUNK = 20_000  # steps per compiled call of a fixed frame (progress is logged between calls)


def _steps_until(t, dt, nxt):
    """The step sizes from t towards nxt with steps of at most dt (the last one cut), at
    most CHUNK of them, and the time reached: the same steps, to the bit, as one step at a
    time."""
    return fv.step_sizes(float(t), float(dt), float(nxt), CHUNK)


def _ssp_rk3(problem, state, t, dt, mass0, work):
    """Shu-Osher SSP-RK3 on (g, a, z): convex combinations of forward-Euler stages. ``work``
    holds three arrays shaped like g for the stages; the one holding the result is swapped
    with the input's array, which is free afterwards. Every stage takes (W, b) of the
    segment the step starts in: steps end on segment switches, and within a segment the
    velocity field does not depend on time (so no stage time is needed)."""
    edges = [None] * 3
    if problem.frame.moving:
        edges = _exact_edges(problem, state[0], t, state[1], state[2], mass0, dt) or edges
    stage = state
    for (alpha, beta), out, box in zip(fv.SSP_RK3, work, edges, strict=True):
        stage = _euler(problem, stage, t, dt, mass0, out, state, alpha, beta, box)
    work[2] = state[0]
    return stage


def _ssp_rk3_steps(problem, state, t, dts, mass0, work):
    """SSP-RK3 steps of sizes ``dts`` from t on a fixed geometry, in one compiled call
    (fv.ssp_rk3_steps: the same stages as :func:`_ssp_rk3`, without Python between them)."""
    g, lower, upper, scale = state
    geometry = _geometry(problem, g, t, lower, upper, mass0)
    done, scale, swapped, worst = fv.ssp_rk3_steps(
        *_stage_geometry(problem, geometry), dts, scale, g, *work, fv.parallel_parts()
    )
    _check_cfl(worst, t + dts[:done].sum())
    if swapped:
        g, work[2] = work[2], g
    return g, lower, upper, scale


def _record(problem, g, lower, upper, t, steps, mass0, cell):
    jac = float(np.prod(upper - lower))
    if not np.all(np.isfinite(g)) or not np.isfinite(jac) or jac <= 0:
        raise FloatingPointError(f"Vlasov solution not finite (or box collapsed) at t = {t:g}")
    mass = float(g.sum() * cell)
    low = float(g.min()) / jac
    if low < -1e-14 * float(np.abs(g).max()) / jac:
        raise FloatingPointError(f"negative density {low:.3e} at t = {t:g}")
    lost = abs(mass - mass0) / mass0
    if lost > problem.mass_tolerance:
        raise FloatingPointError(
            f"mass left the domain at t = {t:g}: relative loss {lost:.3e} exceeds "
            f"pde.mass_tolerance = {problem.mass_tolerance:g} (enlarge pde.domain or use "
            "frame: moving)"
        )
    return g / jac, lower.copy(), upper.copy(), mass, low, steps
