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
* **Driver:** all steps between output times run in one compiled call: on a fixed frame
  without feedback the geometry and step size are computed once per segment
  (finite_volume.ssp_rk3_steps); otherwise moving_frame.frame_steps recomputes them, moves
  the edges and updates the feedback bias inside its loop.

Design order: 5 in space on smooth data in 1-D, 3 in time; with dt ∝ Δη the observed order
is 3. The 2-D dimension-by-dimension reconstruction of cell averages is second order for
genuinely 2-D data. Mass is conserved to round-off (flux form, zero boundary flux).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from . import finite_volume as fv
from . import moving_frame
from ._jit import subnormals_flushed
from .activations import activation_code, has_closed_flow, sigma_slope_bound
from .parallel import ThreadChoice
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
    def pass_code(self) -> int:
        """σ's code as the passes apply it: in 1-D the geometry carries σ's values at the
        faces (on a fixed frame without feedback evaluated once per segment), and the passes
        apply the identity to them (moving_frame.pass_code)."""
        return moving_frame.pass_code(self.code, self.dimension)

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
    """μ = m_1/m_0(0) per axis from the mass per reference cell g (f dx = g dη)."""
    frame, d = problem.frame, problem.dimension
    refs = _references(frame)
    cell = float(np.prod([1.0 / n for n in frame.cells]))
    out = np.empty(d)
    rows = np.ascontiguousarray(g.reshape(-1, frame.cells[-1]), dtype=float)
    moving_frame.mean_position(d, rows, lower, upper, refs[1], refs[3], cell, mass0, out)
    return out


def _bias(problem, g, t, lower, upper, mass0):
    """(W, b)(t): the segment's, or with the feedback bias β m_1/m_0(0) from the density."""
    seg = problem.segment(t)
    if problem.feedback is None:
        return seg.weight, seg.bias
    return seg.weight, problem.feedback * _mean(problem, g, lower, upper, mass0)


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
    """Per physical axis r: (row pass?, the pass's fv.Geometry) with v_r = σ(offsets + slope x)
    on its lines of faces (in 1-D σ's values themselves) and the frame rates (a'_r, z'_r),
    as moving_frame.fill_geometry makes them at every stage of a moving frame."""
    d, refs = problem.dimension, _references(problem.frame)
    weight, bias = _bias(problem, g, t, lower, upper, mass0)
    first, last = moving_frame.geometry_buffers(d, refs)
    moving_frame.fill_geometry(problem.code, d, problem.frame.moving,
                               np.ascontiguousarray(weight, dtype=float),
                               np.ascontiguousarray(bias, dtype=float), lower, upper, refs,
                               first, last)  # fmt: skip
    return [(r == d - 1, fv.Geometry(*geo)) for r, geo in enumerate((first, last)[:d])]


def _stage_geometry(problem, geometry) -> tuple:
    """The leading arguments of fv.euler_stage/ssp_rk3_steps: σ's code, the number of axes,
    the geometry of axis 0 and of the last axis (as plain tuples), and whether the frame is
    closed (moving)."""
    first, last = tuple(geometry[0][1]), tuple(geometry[-1][1])
    return (problem.pass_code, problem.dimension, first, last, problem.frame.moving)


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


@_per_segment
def _step_size(problem, g, t, lower, upper, mass0):
    """Largest stable step: cfl Δη_r / (2 d max|ũ_r|) on every axis, and frame_step / Lip(v)."""
    d = problem.dimension
    limits = [problem.frame_step / max(problem.lipschitz(), 1e-300)]
    measure = fv.stage_parameters(0.0, 1.0, True, False, 1.0, 0.0, problem.frame.moving, 1.0)
    for r, (rows, geo) in enumerate(_geometry(problem, g, t, lower, upper, mass0)):
        top, _ = fv.axis_pass(rows, problem.pass_code, tuple(geo), measure, g, g, g,
                              fv.parallel_parts())  # fmt: skip
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
    threads = ThreadChoice(g.size, fv.parallel_parts())
    for t_out in np.asarray(output_times, dtype=float):
        while _short_of(t, t_out):
            nxt = min([t_out] + [s for s in stops if s > t + 1e-13])
            parts, limit = threads.next_chunk(CHUNK)
            start = time.perf_counter()
            if problem.fixed_geometry:  # the steps to nxt in compiled calls of CHUNK steps
                dt = _step_size(problem, state[0], t, state[1], state[2], mass0)
                dts, t_next = fv.step_sizes(float(t), float(dt), float(nxt), limit)
                state = _ssp_rk3_steps(problem, state, t, dts, mass0, work, parts)
                t, taken = t_next, dts.size
            else:  # geometry changing from stage to stage: compiled calls of a few steps
                state, t, taken = _frame_steps(problem, state, t, nxt, mass0, work, limit,
                                               parts)  # fmt: skip
            threads.record(parts, taken, time.perf_counter() - start)
            steps += taken
            progress.report(t, t_out, steps)
        g, lower, upper = state[0].reshape(frame.cells), state[1], state[2]
        out.append(_record(problem, g, lower, upper, t, steps, mass0, cell))
        if log is not None:
            log(
                f"t = {t:g}: {steps} steps, mass {out[-1][3]:.15g}, "
                f"box {np.round(lower, 6).tolist()}..{np.round(upper, 6).tolist()}"
            )
    if log is not None and threads.adaptive:
        log(threads.summary())
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


CHUNK = 20_000  # steps per compiled call (progress is logged between calls)
CHUNK_CELL_STEPS = 20_000_000  # and at most this many cell-steps per call of a moving frame


def _references(frame) -> tuple:
    """The reference faces and centres of axis 0, then of the last axis (in 1-D axis 0's
    again), as moving_frame.fill_geometry takes them."""
    last = len(frame.cells) - 1
    return (frame.reference_faces(0), frame.reference_centres(0),
            frame.reference_faces(last), frame.reference_centres(last))  # fmt: skip


def _edge_mode(problem, seg) -> tuple[int, np.ndarray]:
    """How the box edges move (moving_frame.AFFINE, CLOSED or STAGED) and the matrix A of
    their flow y' = A y (AFFINE; a placeholder otherwise)."""
    if problem.activation == "identity":
        return moving_frame.AFFINE, _edge_matrix(problem, seg)
    closed = problem.dimension == 1 and problem.feedback is None
    if closed and has_closed_flow(problem.activation):
        return moving_frame.CLOSED, np.zeros((1, 1))
    return moving_frame.STAGED, np.zeros((1, 1))


def _frame_steps(problem, state, t, nxt, mass0, work, limit, parts):
    """SSP-RK3 steps from t towards nxt on a geometry that changes from stage to stage (a
    moving frame, or the feedback bias), in one compiled call of at most ``limit`` steps
    (and CHUNK_CELL_STEPS cell-steps; moving_frame.frame_steps), each pass cut into
    ``parts`` ranges; raises where a step broke the CFL bound or collapsed the box. Returns
    the new state, the time reached and the steps taken."""
    g, lower, upper, scale = state
    seg, frame = problem.segment(t), problem.frame
    mode, matrix = _edge_mode(problem, seg)
    beta = np.nan if problem.feedback is None else float(problem.feedback)
    cap = problem.frame_step / max(problem.lipschitz(), 1e-300)
    cell = float(np.prod([1.0 / n for n in frame.cells]))
    limit = max(1, min(limit, CHUNK_CELL_STEPS // g.size))
    weight = np.ascontiguousarray(seg.weight, dtype=float)
    bias = np.ascontiguousarray(seg.bias, dtype=float)
    taken, t, scale, swapped, status, worst = moving_frame.frame_steps(
        problem.code, problem.dimension, frame.moving, weight, bias, beta, mode, matrix, cap,
        problem.cfl, mass0, cell, _references(frame), float(t), float(nxt),
        float(seg.until) - 1e-12, limit, scale, g, lower, upper, *work, parts,
    )  # fmt: skip
    if swapped:
        g, work[2] = work[2], g
    if status == moving_frame.CFL_BROKEN:
        _check_cfl(worst, t)
    if status == moving_frame.BOX_COLLAPSED:
        _check_box(lower, upper, t)
    return (g, lower, upper, scale), t, taken


def _ssp_rk3_steps(problem, state, t, dts, mass0, work, parts):
    """SSP-RK3 steps of sizes ``dts`` (the same bits as one step at a time: fv.step_sizes)
    from t on a fixed geometry, in one compiled call (fv.ssp_rk3_steps), each pass cut into
    ``parts`` ranges."""
    g, lower, upper, scale = state
    geometry = _geometry(problem, g, t, lower, upper, mass0)
    done, scale, swapped, worst = fv.ssp_rk3_steps(
        *_stage_geometry(problem, geometry), dts, scale, g, *work, parts
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
