"""Training the 2-D network on the regression target (config ``training.regression``;
docs/model.md §6.6).

The law f_0 of the Fig. 5 (slope, intercept) pairs (their Gaussian KDE or histogram on the
grid, as Figs. 6 and 8 build it, docs/model.md §4.3) is carried by the 2-D network
dx/dt = σ(W(t) x + b(t)) with ``segments`` equal segments of constant (W_s, b_s) over
[0, final_time]; the parameters are trained so that the output law concentrates at the
target point x* (Fig. 8's novel target line y = 2x + 1: x* = (2, 1)), minimising

    J(θ) = ∫ |x - x*|² f(T, x) dx = |m(T) - x*|² + tr C(T)

(m the mean, C the covariance of f(T)): sqrt(J) is the root-mean-square distance of the law
from the target. θ = (W_s[0, 0], W_s[0, 1], W_s[1, 0], W_s[1, 1], b_s[0], b_s[1]) per
segment, from θ = 0 (the identity network), within |W_ij| <= max_weight, |b_i| <= max_bias,
by L-BFGS-B (:func:`.training.train`) with the mean-field objective: the 2-D Vlasov solve and
the adjoint gradient (:mod:`.adjoint_2d`).

Acceptance (config): J(θ*) <= ``loss_ratio`` J(θ_0) and sqrt(J(θ*)) <= ``distance``.
:func:`train_regression` records per L-BFGS-B iteration the loss, θ and |dJ/dθ|, and the
densities at t = 0 and T under the trained parameters; :func:`figure_dataset` takes the
figure's numbers from that dataset (loss curve, the two densities; drawn by
``plotting.training_regression``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from . import adjoint, adjoint_2d, io, training, vlasov
from .experiment import law_from_spec
from .settings import Config, Segment

#: time quadrature of the adjoint gradient (docs/model.md §6.2): Gauss nodes per panel and the
#: panel length; coarse, as for the vehicles (training needs the descent, not the last digit)
ADJOINT_NODES, ADJOINT_PANEL = 4, 1.0
#: the parameters of one segment, in the order of θ
PARAMETERS = ("W_11", "W_12", "W_21", "W_22", "b_1", "b_2")
#: a fixed frame's default domain: the hull of the initial support and the target, widened
#: by this fraction of its width on each side
FIXED_MARGIN = 0.1


def segments_from(theta, switches) -> tuple[Segment, ...]:
    """The 2-D segments of θ (6 numbers per segment: W row by row, then b) switching at
    ``switches``."""
    theta = np.asarray(theta, dtype=float)
    if theta.size % 6:
        raise ValueError(f"θ has {theta.size} numbers: 6 per segment (W 2 x 2, b 2) expected")
    rows = theta.reshape(-1, 6)
    if len(rows) != len(switches) + 1:
        raise ValueError(f"{len(rows)} segments need {len(rows) - 1} switch times")
    starts = (0.0, *map(float, switches))
    untils = (*map(float, switches), np.inf)
    return tuple(
        Segment(s, u, row[:4].reshape(2, 2).copy(), row[4:].copy())
        for row, s, u in zip(rows, starts, untils, strict=True)
    )


@dataclass(frozen=True)
class RegressionSetup:
    """The ``training.regression`` section of the configuration."""

    activation: str
    target: tuple[float, float]
    final_time: float
    segments: int
    max_weight: float
    max_bias: float
    max_iterations: int
    cells: int
    frame: str
    domain: tuple | None
    frame_step: float
    smoothing: str
    distance: float
    loss_ratio: float

    @classmethod
    def from_config(cls, config: Config) -> RegressionSetup:
        r = config.training["regression"]
        domain = r.get("domain")
        return cls(
            activation=r["activation"],
            target=(float(r["target"][0]), float(r["target"][1])),
            final_time=float(r["final_time"]),
            segments=int(r["segments"]),
            max_weight=float(r["max_weight"]),
            max_bias=float(r["max_bias"]),
            max_iterations=int(r["max_iterations"]),
            cells=int(r["cells"]),
            frame=r["frame"],
            domain=None if domain is None else tuple(tuple(map(float, a)) for a in domain),
            frame_step=float(r["frame_step"]),
            smoothing=r["smoothing"],
            distance=float(r["distance"]),
            loss_ratio=float(r["loss_ratio"]),
        )

    @property
    def switches(self) -> np.ndarray:
        return np.linspace(0.0, self.final_time, self.segments + 1)[1:-1]

    @property
    def bounds(self) -> list[tuple[float, float]]:
        w, b = (-self.max_weight, self.max_weight), (-self.max_bias, self.max_bias)
        return [w, w, w, w, b, b] * self.segments

    @property
    def loss(self) -> adjoint_2d.QuadraticLoss2D:
        return adjoint_2d.QuadraticLoss2D(self.target)

    def law(self, regression: xr.Dataset):
        """f_0: the law of the (slope, intercept) pairs, as Figs. 6 and 8 build it."""
        spec = {"kind": "samples", "source": "regression.slope_intercept"}
        return law_from_spec({**spec, "smoothing": self.smoothing}, 2, {"regression": regression})

    def vlasov_frame(self, law) -> vlasov.Frame:
        """The grid: the law's support moving with the flow, or a fixed ``domain`` (default:
        the hull of the support and the target, widened by FIXED_MARGIN)."""
        cells = (self.cells, self.cells)
        if self.frame == "moving":
            return vlasov.Frame.from_box(law.support(), cells, True)
        if self.domain is not None:
            return vlasov.Frame.from_box(np.array(self.domain), cells, False)
        box = law.support()
        lo = np.minimum(box[:, 0], self.target)
        hi = np.maximum(box[:, 1], self.target)
        pad = FIXED_MARGIN * (hi - lo)
        return vlasov.Frame.from_box(np.stack([lo - pad, hi + pad], axis=1), cells, False)

    def problem(self, theta, frame: vlasov.Frame) -> vlasov.VlasovProblem:
        segs = segments_from(theta, self.switches)
        return vlasov.VlasovProblem(self.activation, segs, None, frame, frame_step=self.frame_step)


def objective(setup: RegressionSetup, frame: vlasov.Frame, masses0: np.ndarray):
    """θ ↦ (J, dJ/dθ) of the mean-field model (2-D Vlasov solve, adjoint gradient)."""
    loss = setup.loss

    def evaluate(theta):
        grad = adjoint_2d.gradient(
            setup.problem(theta, frame), masses0, loss, setup.final_time,
            nodes=ADJOINT_NODES, panel=ADJOINT_PANEL,
        )  # fmt: skip
        return grad.value, grad.flat

    return evaluate


def densities(setup: RegressionSetup, theta, frame, masses0) -> vlasov.VlasovSolution:
    """The law at t = 0 and T under θ, from the objective's own steps (the same output
    times, so f_h(T) and J are those the training saw)."""
    segs = segments_from(theta, setup.switches)
    nodes = adjoint.time_nodes(segs, setup.final_time, ADJOINT_NODES, ADJOINT_PANEL)[0]
    times = np.concatenate([[0.0], adjoint.output_times(segs, setup.final_time, nodes)])
    sol = vlasov.solve(setup.problem(theta, frame), masses0, times)
    keep = [0, -1]
    return vlasov.VlasovSolution(
        sol.times[keep], sol.density[keep], sol.lower[keep], sol.upper[keep], sol.mass[keep],
        sol.min_density[keep], sol.steps[keep], sol.reference_centres,
    )  # fmt: skip


def _moments(solution, k) -> tuple[np.ndarray, np.ndarray]:
    """Mean (2,) and covariance (2, 2) of the piecewise-constant density at output k."""
    masses = solution.cell_masses(k)
    ex, ey = solution.edges(k, 0), solution.edges(k, 1)
    cx, cy = 0.5 * (ex[:-1] + ex[1:]), 0.5 * (ey[:-1] + ey[1:])
    total = masses.sum()
    mean = np.array([(masses.sum(1) * cx).sum(), (masses.sum(0) * cy).sum()]) / total
    dx, dy = cx - mean[0], cy - mean[1]
    cxx = (masses.sum(1) * dx**2).sum() / total + np.diff(ex)[0] ** 2 / 12
    cyy = (masses.sum(0) * dy**2).sum() / total + np.diff(ey)[0] ** 2 / 12
    cxy = (masses * dx[:, None] * dy[None, :]).sum() / total
    return mean, np.array([[cxx, cxy], [cxy, cyy]])


def _iterations(result, segments):
    count = len(result.iterations)
    loss, norm = np.empty(count), np.empty(count)
    theta = np.empty((count, segments, 6))
    for k, (t, value, g) in enumerate(result.iterations):
        loss[k], norm[k], theta[k] = value, g, t.reshape(-1, 6)
    return loss, norm, theta


def train_regression(config: Config, regression: xr.Dataset, log=None) -> xr.Dataset:
    """Train θ from 0 on the mean-field objective; the dataset of the module docstring, with
    the acceptance in its attributes."""
    setup = RegressionSetup.from_config(config)
    say = log or (lambda message: None)
    law = setup.law(regression)
    frame = setup.vlasov_frame(law)
    masses0 = law.cell_probabilities([frame.edges(0), frame.edges(1)])
    theta0 = np.zeros(6 * setup.segments)
    res = training.train(
        objective(setup, frame, masses0), theta0, setup.bounds,
        max_iterations=setup.max_iterations,
    )  # fmt: skip
    say(
        f"J {res.initial_value:.4g} -> {res.value:.4g} in {len(res.iterations) - 1} iterations,"
        f" {res.evaluations} evaluations ({res.message})"
    )
    solution = densities(setup, res.theta, frame, masses0)
    final = setup.loss.value((solution.edges(1, 0), solution.edges(1, 1)), solution.cell_masses(1))
    mean, cov = _moments(solution, 1)
    ds = _dataset(setup, res, solution, final, mean, cov)
    say(
        f"sqrt(J) = {ds.attrs['rms_distance']:.4g} (required <= {setup.distance:g}), "
        f"|mean - target| = {ds.attrs['mean_distance']:.4g}, J/J_0 = {ds.attrs['loss_drop']:.3g} "
        f"(required <= {setup.loss_ratio:g}): {'accepted' if ds.attrs['accepted'] else 'FAILED'}"
    )
    ds = io.describe(io.with_unit(ds, "1", 2))
    title = "Training on the 2-D regression target"
    return io.provenance(ds, title, config.training["regression"], config.seed)


def _dataset(setup, res, solution, final, mean, cov) -> xr.Dataset:
    loss, norm, theta = _iterations(res, setup.segments)
    final_theta = res.theta.reshape(-1, 6)
    initial = float(res.initial_value)
    ds = xr.Dataset(
        {
            "loss": ("iteration", loss),
            "gradient_norm": ("iteration", norm),
            "weight": (("iteration", "segment", "row", "column"), theta[..., :4].reshape(
                -1, setup.segments, 2, 2)),
            "bias": (("iteration", "segment", "axis"), theta[..., 4:]),
            "final_weight": (("segment", "row", "column"), final_theta[:, :4].reshape(-1, 2, 2)),
            "final_bias": (("segment", "axis"), final_theta[:, 4:]),
            "final_loss": ((), final),
            "density": (("time", "cell_x", "cell_y"), solution.density),
            "lower": (("time", "axis"), solution.lower),
            "upper": (("time", "axis"), solution.upper),
            "mass": ("time", solution.mass),
            "mean": ("axis", mean),
            "variance": ("axis", np.diag(cov)),
            "target": ("axis", np.asarray(setup.target)),
        },
        coords={
            "iteration": np.arange(loss.size),
            "segment": np.arange(setup.segments),
            "axis": np.arange(2),
            "time": solution.times,
        },
    )  # fmt: skip
    for r, (name, dim) in enumerate((("x", "cell_x"), ("y", "cell_y"))):
        width = solution.upper[:, r] - solution.lower[:, r]
        centres = solution.reference_centres[r][None, :]
        ds.coords[name] = (("time", dim), solution.lower[:, r, None] + width[:, None] * centres)
    ds["loss"].attrs.update(long_name="quadratic loss J = ∫ |x - x*|² f(T) dx", units="1")
    ds["final_loss"].attrs.update(long_name="J at the trained parameters", units="1")
    ds["target"].attrs.update(long_name="target point x* (slope, intercept)")
    ds["mean"].attrs.update(long_name="mean of f_h(T) under the trained parameters")
    ds["variance"].attrs.update(long_name="variance of f_h(T) per axis, trained parameters")
    rms, gap = float(np.sqrt(final)), float(np.linalg.norm(mean - np.asarray(setup.target)))
    drop = final / initial if initial > 0 else np.nan
    ds.attrs.update(
        initial_loss=initial,
        rms_distance=rms,
        mean_distance=gap,
        loss_drop=float(drop),
        required_distance=setup.distance,
        required_loss_ratio=setup.loss_ratio,
        accepted=int(rms <= setup.distance and drop <= setup.loss_ratio),
        evaluations=int(res.evaluations),
        message=res.message,
        switches=setup.switches.tolist(),
        parameters=", ".join(PARAMETERS),
        frame=setup.frame,
        activation=setup.activation,
    )
    return ds


#: the training file's attributes that its figure shows
ATTRIBUTES = ("rms_distance", "mean_distance", "required_distance", "loss_drop",
              "required_loss_ratio", "accepted", "activation", "initial_loss")  # fmt: skip


def figure_dataset(trained: xr.Dataset) -> xr.Dataset:
    """The numbers drawn: the loss curve, |dJ/dθ|, the two densities and the target."""
    names = ("loss", "gradient_norm", "density", "target", "final_loss")
    ds = xr.Dataset({name: trained[name] for name in names})
    ds.attrs.update({k: trained.attrs[k] for k in ATTRIBUTES})
    return ds
