"""Training the network on the density (config section ``training``; docs/model.md §6.5).

The vehicles' classification problem: lengths ~ U[length_min, length_max] of the data config,
cars (<= threshold) to -1, trucks to +1, the 1-D network with ``segments`` equal segments of
constant (w_s, b_s) over [0, final_time], |w_s| <= max_weight, |b_s| <= max_bias, from θ = 0.

* :func:`train_vehicles`: L-BFGS-B (:func:`.training.train`) on the mean-field objective
  (Vlasov solves of the two class laws on a fixed frame, adjoint gradient) and on the
  particle objective for each M of ``particles`` (M lengths drawn from the law with the run's
  seed, backpropagation through ``layers`` layers). Per objective and iteration: the loss, θ
  and |dJ/dθ| (NaN after an objective's last iteration); per objective the final θ, the
  expected loss of the discrete network over the law (Gauss quadrature: the same number for
  every objective, so the runs compare), the accuracy on the measured vehicles, and the
  vehicles' trajectories through the mean-field-trained network.
* :func:`gradient_convergence`: at θ* = the mean-field-trained θ, the particle gradient of M
  samples (``gradient.particles``, ``gradient.seeds`` seeds each) against the expected
  gradient of the same discrete network (Gauss quadrature over f_0 through the same
  backpropagation kernel: no Euler bias between them), with the fitted log-log slope and its
  95 % CI; the distance to the mean-field adjoint gradient is stored beside it, and the gap
  between the two references (the Euler bias of ``layers`` layers plus the grid's error) in
  the attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import xarray as xr

from . import backprop, io, losses, network, training, vlasov
from .distributions import Distribution
from .settings import Config
from .studies import fit_power_law

#: time quadrature of the mean-field adjoint gradient (docs/model.md §6.2): Gauss nodes per
#: panel and the panel length; coarse, since training needs the descent, not the last digit
ADJOINT_NODES, ADJOINT_PANEL = 4, 1.0
#: the random streams of the particle data: SeedSequence([seed, stream, (seed index,) M])
TRAINING_STREAM, GRADIENT_STREAM, AGREEMENT_STREAM = 11, 12, 13


@dataclass(frozen=True)
class TrainingSetup:
    """The ``training`` section of the configuration with the vehicles' law and the seed."""

    activation: str
    final_time: float
    segments: int
    max_weight: float
    max_bias: float
    layers: int
    max_iterations: int
    cells: int
    domain: tuple[float, float]
    frame_step: float
    particles: tuple[int, ...]
    gradient_particles: tuple[int, ...]
    gradient_seeds: int
    quadrature_nodes: int
    length_min: float
    length_max: float
    threshold: float
    seed: int

    @classmethod
    def from_config(cls, config: Config) -> TrainingSetup:
        t, v = config.training, config.data["vehicles"]
        mf, grad = t["mean_field"], t["gradient"]
        return cls(
            activation=t["activation"],
            final_time=float(t["final_time"]),
            segments=int(t["segments"]),
            max_weight=float(t["max_weight"]),
            max_bias=float(t["max_bias"]),
            layers=int(t["layers"]),
            max_iterations=int(t["max_iterations"]),
            cells=int(mf["cells"]),
            domain=(float(mf["domain"][0]), float(mf["domain"][1])),
            frame_step=float(mf["frame_step"]),
            particles=tuple(int(m) for m in t["particles"]),
            gradient_particles=tuple(int(m) for m in grad["particles"]),
            gradient_seeds=int(grad["seeds"]),
            quadrature_nodes=int(t["quadrature_nodes"]),
            length_min=float(v["length_min"]),
            length_max=float(v["length_max"]),
            threshold=float(v["threshold"]),
            seed=int(config.seed),
        )

    @property
    def switches(self) -> np.ndarray:
        return np.linspace(0.0, self.final_time, self.segments + 1)[1:-1]

    @property
    def bounds(self) -> list[tuple[float, float]]:
        return [
            (-self.max_weight, self.max_weight),
            (-self.max_bias, self.max_bias),
        ] * self.segments

    @property
    def law(self) -> Distribution:
        return Distribution(
            "uniform", low=np.array([self.length_min]), high=np.array([self.length_max])
        )

    @property
    def loss(self) -> losses.Classification:
        return losses.Classification(thresholds=(self.threshold,))

    def frame(self) -> vlasov.Frame:
        return vlasov.Frame(
            np.array([self.domain[0]]), np.array([self.domain[1]]), (self.cells,), False
        )

    def segments_of(self, theta):
        return training.segments_from(theta, self.switches)

    def samples(self, m: int, *keys: int) -> np.ndarray:
        """M lengths from the law, from the run's seed and ``keys`` (SeedSequence)."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, *keys, m]))
        return self.law.sample(rng, m)[:, 0]


def quadrature(setup: TrainingSetup) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights of the law, ``quadrature_nodes`` on each class
    interval (the integrand is smooth there): Σ_i ω_i g(x_i) = E[g(x_0)]."""
    lo, hi = setup.length_min, setup.length_max
    cuts = [lo, *[c for c in setup.loss.thresholds if lo < c < hi], hi]
    xg, wg = np.polynomial.legendre.leggauss(setup.quadrature_nodes)
    pairs = list(zip(cuts[:-1], cuts[1:], strict=True))
    x = np.concatenate([0.5 * (a + b) + 0.5 * (b - a) * xg for a, b in pairs])
    w = np.concatenate([0.5 * (b - a) * wg / (hi - lo) for a, b in pairs])
    return x, w


def expected_gradient(setup: TrainingSetup, theta) -> backprop.ParticleGradient:
    """The discrete network's expected loss and gradient over the law (quadrature through
    the backpropagation kernel)."""
    x, w = quadrature(setup)
    loss = setup.loss
    return backprop.gradient(
        x, setup.activation, setup.segments_of(theta), setup.final_time, setup.layers, loss,
        w, loss.labels(x),
    )  # fmt: skip


def mean_field_objective(setup: TrainingSetup):
    return training.mean_field_objective(
        setup.activation, setup.switches, setup.final_time, setup.frame(), setup.law,
        setup.loss, solver={"frame_step": setup.frame_step}, nodes=ADJOINT_NODES,
        panel=ADJOINT_PANEL,
    )  # fmt: skip


def particle_objective(setup: TrainingSetup, m: int):
    x = setup.samples(m, TRAINING_STREAM)
    loss = setup.loss
    return training.particle_objective(
        x, setup.activation, setup.switches, setup.final_time, setup.layers, loss,
        labels=loss.labels(x),
    )  # fmt: skip


def network_outputs(setup: TrainingSetup, theta, lengths, record=False) -> np.ndarray:
    """The network's states of the data: after the last layer, or (``record``) after every
    layer, shape (layers + 1, M)."""
    layers = np.arange(setup.layers + 1) if record else np.array([setup.layers])
    states = network.simulate(
        np.asarray(lengths, float).reshape(-1, 1), setup.activation, setup.segments_of(theta),
        setup.final_time, setup.layers, layers,
    )[:, :, 0]  # fmt: skip
    return states if record else states[-1]


def train_vehicles(config: Config, vehicles: xr.Dataset, log=None) -> xr.Dataset:
    """Train on the mean-field objective and on the particle objective of each M; the
    dataset of the module docstring."""
    setup = TrainingSetup.from_config(config)
    say = log or (lambda message: None)
    objectives = {"mean_field": mean_field_objective(setup)}
    objectives.update({f"particles_{m}": particle_objective(setup, m) for m in setup.particles})
    theta0 = np.zeros(2 * setup.segments)
    results = {}
    for name, objective in objectives.items():
        res = training.train(objective, theta0, setup.bounds, max_iterations=setup.max_iterations)
        results[name] = res
        say(
            f"{name}: J {res.initial_value:.4g} -> {res.value:.4g} in {len(res.iterations) - 1}"
            f" iterations, {res.evaluations} evaluations ({res.message})"
        )
    names = list(results)
    iterations = max(len(r.iterations) for r in results.values())
    shape = (len(names), iterations)
    loss, gnorm = np.full(shape, np.nan), np.full(shape, np.nan)
    theta = np.full((*shape, setup.segments, 2), np.nan)
    for i, res in enumerate(results.values()):
        for k, (t, value, norm) in enumerate(res.iterations):
            loss[i, k], gnorm[i, k], theta[i, k] = value, norm, t.reshape(-1, 2)
    final = np.stack([r.theta.reshape(-1, 2) for r in results.values()])
    lengths, is_truck = vehicles["length"].values, vehicles["is_truck"].values
    cls = setup.loss
    accuracy = [
        cls.accuracy(network_outputs(setup, r.theta, lengths), is_truck) for r in results.values()
    ]
    expected = [expected_gradient(setup, r.theta).value for r in results.values()]
    path = network_outputs(setup, results["mean_field"].theta, lengths, record=True)
    dt = setup.final_time / setup.layers
    ds = xr.Dataset(
        {
            "loss": (("objective", "iteration"), loss),
            "gradient_norm": (("objective", "iteration"), gnorm),
            "weight": (("objective", "iteration", "segment"), theta[..., 0]),
            "bias": (("objective", "iteration", "segment"), theta[..., 1]),
            "final_weight": (("objective", "segment"), final[..., 0]),
            "final_bias": (("objective", "segment"), final[..., 1]),
            "final_loss": ("objective", [r.value for r in results.values()]),
            "expected_loss": ("objective", expected),
            "evaluations": ("objective", [r.evaluations for r in results.values()]),
            "accuracy": ("objective", accuracy),
            "length": ("vehicle", lengths),
            "is_truck": ("vehicle", is_truck),
            "state": (("time", "vehicle"), path),
        },
        coords={
            "objective": names,
            "iteration": np.arange(iterations),
            "segment": np.arange(setup.segments),
            "time": np.arange(setup.layers + 1) * dt,
        },
        attrs={
            "threshold": setup.threshold,
            "switches": setup.switches.tolist(),
            "messages": "; ".join(f"{n}: {r.message}" for n, r in results.items()),
        },
    )
    ds = io.with_unit(io.describe(ds), "m")  # the states and lengths in metres
    return io.provenance(
        ds, "Training on the vehicles' classification loss", config.training, config.seed
    )


def gradient_convergence(config: Config, trained: xr.Dataset, log=None) -> xr.Dataset:
    """Distance of the particle gradient (M samples) from the expected discrete gradient and
    from the mean-field adjoint gradient, at the mean-field-trained θ, over M and seeds; the
    slope of the first (the Monte-Carlo rate, theory -1/2) in the attributes."""
    setup = TrainingSetup.from_config(config)
    sel = trained.sel(objective="mean_field")
    theta = np.stack([sel["final_weight"].values, sel["final_bias"].values], axis=1).ravel()
    reference = expected_gradient(setup, theta).flat
    mean_field = mean_field_objective(setup)(theta)[1]
    counts, seeds = setup.gradient_particles, setup.gradient_seeds
    distance = np.empty((len(counts), seeds))
    to_mean_field = np.empty_like(distance)
    loss = setup.loss
    for i, m in enumerate(counts):
        for s in range(seeds):
            x = setup.samples(m, GRADIENT_STREAM, s)
            grad = backprop.gradient(
                x, setup.activation, setup.segments_of(theta), setup.final_time, setup.layers,
                loss, labels=loss.labels(x),
            ).flat  # fmt: skip
            distance[i, s] = np.linalg.norm(grad - reference)
            to_mean_field[i, s] = np.linalg.norm(grad - mean_field)
        if log is not None:
            log(f"M = {m}: |g_M - E g| = {distance[i].mean():.3e} (mean over {seeds} seeds)")
    fit = fit_power_law(np.repeat(np.asarray(counts, float)[:, None], seeds, axis=1), distance)
    ds = xr.Dataset(
        {
            "gradient_distance": (("particles", "seed"), distance),
            "mean_field_distance": (("particles", "seed"), to_mean_field),
            "expected_gradient": ("parameter", reference),
            "mean_field_gradient": ("parameter", mean_field),
            "theta": ("parameter", theta),
        },
        coords={
            "particles": np.asarray(counts),
            "seed": np.arange(seeds),
            "parameter": [f"{p}_{s}" for s in range(setup.segments) for p in ("w", "b")],
        },
    )
    ds.attrs.update({k: float(v) for k, v in fit.items()})
    ds.attrs.update(
        euler_bias=float(np.linalg.norm(reference - mean_field)),
        layers=setup.layers,
        slope_of="gradient_distance: |particle gradient - expected discrete gradient|",
    )
    return io.provenance(
        ds, "Particle against mean-field gradient at the trained θ", config.training, config.seed
    )


def hessian(objective, theta, step: float = 1e-5) -> np.ndarray:
    """Central differences of the gradient of ``objective`` (θ ↦ (J, dJ/dθ)), symmetrised."""
    n = len(theta)
    h = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = step
        h[:, i] = (objective(theta + e)[1] - objective(theta - e)[1]) / (2 * step)
    return 0.5 * (h + h.T)


def expected_objective(setup: TrainingSetup, theta) -> tuple[float, np.ndarray]:
    """(J, ∇J) of the network's expected loss at θ (:func:`expected_gradient`), in the form
    training.train and :func:`hessian` take."""
    g = expected_gradient(setup, theta)
    return g.value, g.flat


def monte_carlo_covariance(setup: TrainingSetup, theta, points, batches: int) -> np.ndarray:
    """Covariance of the minimiser θ_M of the M-sample loss about the minimiser θ* of the
    expected loss, to first order (the sandwich formula of M-estimators):

        Cov θ_M ≈ H⁻¹ S H⁻¹ / M,

    H the Hessian of the expected loss (central differences of :func:`expected_gradient`),
    S the covariance of one sample's loss gradient, estimated from the gradients of
    ``batches`` equal batches of ``points``: S ≈ (M / batches) Cov(batch gradient)."""

    h = hessian(partial(expected_objective, setup), np.asarray(theta, float))
    loss = setup.loss
    grads = [
        backprop.gradient(
            x, setup.activation, setup.segments_of(theta), setup.final_time, setup.layers,
            loss, labels=loss.labels(x),
        ).flat
        for x in np.array_split(points, batches)
    ]  # fmt: skip
    s = np.atleast_2d(np.cov(np.array(grads).T)) * (len(points) / batches)
    if not np.all(np.linalg.eigvalsh(h) > 1e-8 * np.abs(h).max()):
        raise np.linalg.LinAlgError("the expected loss's Hessian is not positive definite")
    h_inv = np.linalg.inv(h)
    return h_inv @ s @ h_inv / len(points)


def identifiability(setup: TrainingSetup, theta) -> str:
    """Why θ is no isolated interior minimiser ('' if it may be one): a parameter on its
    bound (the first-order conditions, and so the sandwich formula, do not hold there)."""
    bounds = np.array(setup.bounds)
    on = np.isclose(theta, bounds[:, 0], rtol=0, atol=1e-6) | np.isclose(
        theta, bounds[:, 1], rtol=0, atol=1e-6
    )
    return f"parameters {np.flatnonzero(on).tolist()} of θ_MF on their bounds" if on.any() else ""


def parameter_agreement(config: Config, log=None) -> xr.Dataset:
    """Mean-field training against particle training on an identifiable parametrisation
    (``training.agreement``): θ_MF trained on the mean-field objective (the lowest J of
    L-BFGS-B runs from each of ``starts``, (w, b) on every segment: the loss has local minima
    besides the global one); for each
    seed, θ_M trained on M samples from θ_MF (the particle objective's minimiser in the
    mean-field minimiser's basin); their difference in units of the Monte-Carlo standard
    deviation of θ_M (:func:`monte_carlo_covariance` at θ_MF). The minimiser of the
    expected loss of the discrete network (Gauss quadrature, M = ∞) is stored beside them:
    θ_∞ - θ_MF is the deterministic bias (Euler O(T/L) and the grid's), which must stay
    below the Monte-Carlo error for the comparison to mean anything."""
    a = config.training["agreement"]
    setup = replace(
        TrainingSetup.from_config(config),
        segments=int(a["segments"]), layers=int(a["layers"]), cells=int(a["cells"]),
    )  # fmt: skip
    say = log or (lambda message: None)
    m, seeds = int(a["particles"]), int(a["seeds"])
    objective, iterations = mean_field_objective(setup), setup.max_iterations
    runs = [
        training.train(objective, np.tile(start, setup.segments), setup.bounds, iterations)
        for start in np.asarray(a["starts"], float)
    ]  # fmt: skip
    mean_field = min(runs, key=lambda r: r.value)
    theta0 = mean_field.theta
    say(f"mean field: θ = {theta0}, J = {mean_field.value:.6g}, best of {[r.value for r in runs]}")

    limit = training.train(partial(expected_objective, setup), mean_field.theta, setup.bounds,
                           setup.max_iterations)  # fmt: skip
    reason = identifiability(setup, theta0)
    try:
        covariance = monte_carlo_covariance(
            setup, theta0, setup.samples(m, AGREEMENT_STREAM, seeds), int(a["batches"])
        )
    except np.linalg.LinAlgError as error:
        covariance, reason = np.full((theta0.size,) * 2, np.nan), reason or str(error)
    if reason:
        say(f"no Monte-Carlo comparison: the minimiser is not identifiable ({reason})")
    sd = np.sqrt(np.diag(covariance))
    particle = np.empty((seeds, theta0.size))
    for s in range(seeds):
        x = setup.samples(m, AGREEMENT_STREAM, s)
        loss = setup.loss
        objective = training.particle_objective(
            x, setup.activation, setup.switches, setup.final_time, setup.layers, loss,
            labels=loss.labels(x),
        )  # fmt: skip
        particle[s] = training.train(
            objective, mean_field.theta, setup.bounds, setup.max_iterations
        ).theta
        say(f"seed {s}: θ_M = {particle[s]}, (θ_M - θ_MF)/sd = {(particle[s] - theta0) / sd}")
    names = [f"{p}_{s}" for s in range(setup.segments) for p in ("w", "b")]
    z = (particle - mean_field.theta) / sd
    ds = xr.Dataset(
        {
            "mean_field_theta": ("parameter", mean_field.theta),
            "particle_theta": (("seed", "parameter"), particle),
            "limit_theta": ("parameter", limit.theta),
            "monte_carlo_sd": ("parameter", sd),
            "monte_carlo_covariance": (("parameter", "parameter_"), covariance),
            "z": (("seed", "parameter"), z),
            "bias_z": ("parameter", (limit.theta - mean_field.theta) / sd),
        },
        coords={"seed": np.arange(seeds), "parameter": names, "parameter_": names},
        attrs={
            "particles": m,
            "layers": setup.layers,
            "cells": setup.cells,
            "segments": setup.segments,
            "max_abs_z": float(np.abs(z).max()),
            "identifiable": int(not reason),
            "not_identifiable_because": reason,
            "seed_sd_over_mc_sd": (particle.std(axis=0, ddof=1) / sd).tolist() if seeds > 1 else [],
            "z_of": "(θ_M - θ_MF) / Monte-Carlo sd of θ_M, per seed and parameter",
            "bias_z_of": "(θ_∞ - θ_MF) / Monte-Carlo sd, θ_∞ the L-layer network's minimiser",
        },
    )
    ds = io.describe(ds)
    return io.provenance(
        ds, "Trained parameters: mean field against particles", config.training, config.seed
    )


def figure_dataset(trained: xr.Dataset, gradient: xr.Dataset, agreement: xr.Dataset) -> xr.Dataset:
    """The training figure's data: the curves, the trajectories, the gradient distances, the
    trained parameters' agreement in Monte-Carlo standard deviations."""
    ds = xr.Dataset(
        {
            "loss": trained["loss"],
            "state": trained["state"],
            "is_truck": trained["is_truck"],
            "accuracy": trained["accuracy"],
            "gradient_distance": gradient["gradient_distance"],
            "mean_field_distance": gradient["mean_field_distance"],
            "z": agreement["z"],
            "bias_z": agreement["bias_z"],
        }
    )
    for key in ("particles", "layers", "identifiable"):
        ds.attrs[f"agreement_{key}"] = agreement.attrs[key]
    keys = ("slope", "slope_ci_low", "slope_ci_high", "intercept", "euler_bias")
    ds.attrs.update({k: gradient.attrs[k] for k in keys})
    ds.attrs["threshold"] = trained.attrs["threshold"]
    return ds
