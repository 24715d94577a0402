"""Studies beyond the paper: the numbers that show the theory holds.

- mean-field limit: W1(empirical measure of M network particles, PDE solution) against M,
  with the fitted slope (theory: -1/2 for i.i.d. data) and its 95 % confidence interval;
- solver convergence: observed orders of every solver against exact solutions;
- sensitivities of mean and variance to w and b: central differences of PDE runs against
  the formulas of docs/model.md §3.4;
- steady states: late-time densities for each activation with w < 0 and w > 0;
- parameter sweeps: one job per (activation, w, b), classification accuracy on the vehicle
  data and final variance of the mean-field solution.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import diffusion, exact, fokker_planck, io, network, vlasov
from .activations import ACTIVATIONS
from .distributions import Distribution
from .experiment import diffusion_and_bias, initial_law
from .moments import grid_moments, w1_particles_grid
from .settings import constant_segments

UNIFORM = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
BUMP = Distribution("gaussian", mean_=np.array([0.5]), std=np.array([0.4]))


def _final_cells(pde: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Edges and masses of the PDE solution at its last output time."""
    last = pde.isel(time=-1)
    x, dx = last["x"].values, float(last["dx"].values)
    edges = np.concatenate([x - dx / 2, [x[-1] + dx / 2]])
    return edges, last["density"].values * dx


def fit_power_law(m: np.ndarray, w1: np.ndarray) -> dict[str, float]:
    """Least-squares slope p of log W1 = c + p log M over all (M, seed) pairs, with its
    standard error and 95 % confidence interval (Student t)."""
    from scipy import stats  # imported where used (~1 s): the sweep points never need it

    x, y = np.log(m.ravel()), np.log(w1.ravel())
    res = stats.linregress(x, y)
    half = stats.t.ppf(0.975, x.size - 2) * res.stderr
    return {
        "slope": res.slope,
        "slope_stderr": res.stderr,
        "slope_ci_low": res.slope - half,
        "slope_ci_high": res.slope + half,
        "intercept": res.intercept,
    }


def meanfield_convergence(
    config, exp, data, pde: xr.Dataset, counts, seeds: int, layers: int, log=None
) -> xr.Dataset:
    """W1 at the final time between M network particles and the PDE solution, per (M, seed)."""
    law = initial_law(exp, data)
    k, segments = diffusion_and_bias(exp, data)
    edges, masses = _final_cells(pde)
    w1 = np.empty((len(counts), seeds))
    for i, m in enumerate(counts):
        for s in range(seeds):
            seq = np.random.SeedSequence([config.seed, 7, int(m), s])
            rng = np.random.default_rng(seq)
            x = network.simulate(
                law.sample(rng, int(m)),
                exp.activation,
                segments,
                exp.final_time,
                layers,
                np.array([layers]),
                feedback=exp.feedback,
                diffusion=k,
                rng=rng,
            )[-1, :, 0]
            w1[i, s] = w1_particles_grid(x, edges, masses)
        if log is not None:
            log(f"M = {m}: W1 = {w1[i].mean():.3e} (mean over {seeds} seeds)")
    fit = fit_power_law(np.repeat(np.asarray(counts, float)[:, None], seeds, axis=1), w1)
    ds = xr.Dataset(
        {"w1": (("particles", "seed"), w1)},
        coords={"particles": np.asarray(counts), "seed": np.arange(seeds)},
    )
    ds.attrs.update({k: float(v) for k, v in fit.items()})
    ds.attrs.update(experiment=exp.name, layers=layers)
    return ds


def _vlasov_1d_error(activation, n, moving):
    w, b, t = 1.0, -0.3, 1.0
    box = BUMP.support() if moving else np.array([[-12.0, 14.0]])
    frame = vlasov.Frame.from_box(box, n, moving)
    problem = vlasov.VlasovProblem(activation, constant_segments(w, b), None, frame)
    sol = vlasov.solve(problem, BUMP, [0.0, t])
    ex = exact.cell_masses(BUMP, activation, w, b, t, sol.edges(-1))
    return np.abs(sol.cell_masses(-1) - ex).sum()


def _vlasov_2d_error(n):
    law = Distribution("gaussian", mean_=np.array([0.5, -0.2]), std=np.array([0.4, 0.3]))
    weight, bias, t = np.diag([1.0, -0.5]), np.array([-0.3, 0.1]), 1.0
    frame = vlasov.Frame.from_box(law.support(), (n, n))
    problem = vlasov.VlasovProblem("tanh", constant_segments(weight, bias, 2), None, frame)
    sol = vlasov.solve(problem, law, [0, t])
    masses = []
    for r in range(2):
        law_r = Distribution("gaussian", mean_=law.mean_[r : r + 1], std=law.std[r : r + 1])
        masses.append(exact.cell_masses(law_r, "tanh", weight[r, r], bias[r], t, sol.edges(-1, r)))
    return np.abs(sol.cell_masses(-1) - np.outer(*masses)).sum()


def _fokker_planck_error(n, frame="moving"):
    problem = fokker_planck.FokkerPlanckProblem(
        "identity",
        constant_segments(-1.0, 0.0),
        diffusion.constant(1.0),
        n,
        frame=frame,
        domain=(-8.0, 14.0),
        time_step=2.0 / n,
    )
    sol = fokker_planck.solve(problem, UNIFORM, [0.0, 1.0])
    exact_masses = exact.ou_cell_masses(UNIFORM, -1.0, 0.0, 1.0, 1.0, sol.edges(-1))
    return np.abs(sol.cell_masses(-1) - exact_masses).sum()


CONVERGENCE_CASES = {
    # name: (error function of the cell count, cell counts, design order, exact solution)
    "vlasov_1d_identity_fixed": (
        lambda n: _vlasov_1d_error("identity", n, False),
        [100, 200, 400, 800, 1600],
        3,
        "σ = id, w = 1, b = -0.3, f0 = N(0.5, 0.4²), t = 1",
    ),
    "vlasov_1d_tanh_fixed": (
        lambda n: _vlasov_1d_error("tanh", n, False),
        [100, 200, 400, 800, 1600],
        3,
        "σ = tanh, w = 1, b = -0.3, f0 = N(0.5, 0.4²), t = 1",
    ),
    "vlasov_1d_tanh_moving": (
        lambda n: _vlasov_1d_error("tanh", n, True),
        [50, 100, 200, 400, 800],
        3,
        "as above, moving grid",
    ),
    "vlasov_1d_sigmoid_moving": (
        lambda n: _vlasov_1d_error("sigmoid", n, True),
        [50, 100, 200, 400, 800],
        3,
        "σ = sigmoid, moving grid",
    ),
    "vlasov_1d_relu_moving": (
        lambda n: _vlasov_1d_error("relu", n, True),
        [50, 100, 200, 400, 800],
        3,
        "σ = ReLU, moving grid; below the design order because the exact density jumps by "
        "the factor e^{-wt} at the kink x = -b/w: a discontinuity, captured at first order in L1",
    ),
    "vlasov_2d_tanh_moving": (
        _vlasov_2d_error,
        [16, 32, 64, 128],
        2,
        "σ = tanh, W = diag(1, -0.5), product Gaussian, t = 1",
    ),
    "fokker_planck_ou_moving": (
        _fokker_planck_error,
        [100, 200, 400, 800, 1600],
        2,
        "σ = id, w = -1, K = 1, f0 = U[2,8], t = 1, Crank-Nicolson, grid following the law",
    ),
    "fokker_planck_ou_fixed": (
        lambda n: _fokker_planck_error(n, "fixed"),
        [100, 200, 400, 800, 1600],
        2,
        "as above on the fixed domain [-8, 14]",
    ),
}


def convergence(log=None) -> xr.Dataset:
    """L1 errors against exact solutions on grid sequences and the observed orders."""
    parts = []
    for name, (error, cells, design, problem) in CONVERGENCE_CASES.items():
        errors = np.array([error(n) for n in cells])
        orders = np.concatenate([[np.nan], np.log2(errors[:-1] / errors[1:])])
        if log is not None:
            log(f"{name}: errors {errors}, orders {orders[1:]}")
        parts.append(
            xr.Dataset(
                {
                    "l1_error": ("level", errors),
                    "observed_order": ("level", orders),
                    "cells": ("level", np.asarray(cells)),
                },
                coords={"level": np.arange(len(cells))},
            )
            .expand_dims(solver=[name])
            .assign(design_order=("solver", [design]), problem=("solver", [problem]))
        )
    return xr.concat(parts, dim="solver", join="outer", fill_value=np.nan)


def sensitivities(w=-1.0, b=0.5, step=1e-3, times=(0.0, 0.5, 1.0, 1.5, 2.0)) -> xr.Dataset:
    """d(mean)/dw, d(mean)/db, d(variance)/dw, d(variance)/db of the Vlasov solution
    (σ = identity, f0 = U[2,8]) by central differences of PDE runs, and exactly."""
    times = np.asarray(times, float)

    def moments(ww, bb):
        frame = vlasov.Frame.from_box([2.0, 8.0], 200)
        problem = vlasov.VlasovProblem("identity", constant_segments(ww, bb), None, frame)
        sol = vlasov.solve(problem, UNIFORM, times)
        edges = np.stack([sol.edges(k) for k in range(times.size)])
        return grid_moments(sol.density, edges)

    numeric = {}
    for par, (plus, minus) in {
        "w": ((w + step, b), (w - step, b)),
        "b": ((w, b + step), (w, b - step)),
    }.items():
        hi, lo = moments(*plus), moments(*minus)
        for q in ("mean", "variance"):
            numeric[f"d{q}_d{par}"] = (hi[q] - lo[q]) / (2 * step)
    mu0, v0 = 5.0, 3.0
    ewt = np.exp(w * times)
    exact_values = {
        "dmean_db": (ewt - 1) / w,
        "dmean_dw": times * ewt * (mu0 + b / w) - b / w**2 * (ewt - 1),
        "dvariance_db": np.zeros_like(times),
        "dvariance_dw": 2 * times * v0 * np.exp(2 * w * times),
    }
    names = sorted(numeric)
    return xr.Dataset(
        {
            "sensitivity": (
                ("quantity", "source", "time"),
                np.stack([[numeric[n], exact_values[n]] for n in names]),
            )
        },
        coords={"quantity": names, "source": ["pde", "exact"], "time": times},
        attrs={"weight": w, "bias": b, "step": step},
    )


def steady_states(weights=(-1.0, 1.0), bias=0.5, times=(0.0, 1.0, 5.0), cells=200) -> xr.Dataset:
    """Densities from f0 = N(0, 1) for every activation and w < 0, w > 0 (x* = -b/w)."""
    law = Distribution("gaussian", mean_=np.array([0.0]), std=np.array([1.0]), truncate=6.0)
    runs = []
    for activation in ACTIVATIONS:
        for w in weights:
            frame = vlasov.Frame.from_box(law.support(), cells)
            problem = vlasov.VlasovProblem(activation, constant_segments(w, bias), None, frame)
            sol = vlasov.solve(problem, law, list(times))
            centres = sol.lower[:, :1] + (sol.upper - sol.lower)[:, :1] * sol.reference_centres[0]
            runs.append(
                xr.Dataset(
                    {"density": (("time", "cell"), sol.density), "x": (("time", "cell"), centres)},
                    coords={"time": np.asarray(times)},
                ).expand_dims(activation=[activation], weight=[w])
            )
    ds = xr.combine_by_coords(runs)
    ds.attrs["bias"] = bias
    return ds


def sweep_point(
    activation: str,
    weight: float,
    bias: float,
    vehicles: xr.Dataset,
    final_time: float = 5.0,
    layers: int = 100,
    cells: int = 200,
) -> xr.Dataset:
    """Accuracy of the network on the vehicle data (class = side of the threshold at the
    end) and the final variance of the mean-field solution from U[2,8]."""
    segs = constant_segments(weight, bias)
    lengths = vehicles["length"].values[:, None]
    final = network.simulate(lengths, activation, segs, final_time, layers, np.array([layers]))[
        -1, :, 0
    ]
    predicted = final > vehicles.attrs["threshold"]
    accuracy = float((predicted == vehicles["is_truck"].values.astype(bool)).mean())
    frame = vlasov.Frame.from_box([2.0, 8.0], cells)
    sol = vlasov.solve(
        vlasov.VlasovProblem(activation, segs, None, frame), UNIFORM, [0.0, final_time]
    )
    variance = float(grid_moments(sol.density[-1], sol.edges(-1))["variance"])
    return xr.Dataset(
        {"accuracy": ((), accuracy), "final_variance": ((), variance)},
        coords={"activation": activation, "weight": weight, "bias": bias},
    )


def convergence_frame(ds: xr.Dataset):
    """The convergence study as a table: solver, problem, cells, L1 error, observed order."""
    frame = ds[["l1_error", "observed_order", "cells"]].to_dataframe().reset_index()
    frame = frame.dropna(subset=["l1_error"])
    frame["design_order"] = frame["solver"].map(
        dict(zip(ds.solver.values, ds.design_order.values, strict=True))
    )
    frame["problem"] = frame["solver"].map(
        dict(zip(ds.solver.values, ds.problem.values, strict=True))
    )
    frame["cells"] = frame["cells"].astype(int)
    return frame[["solver", "problem", "cells", "l1_error", "observed_order", "design_order"]]


def combine_sweep(points: list[xr.Dataset]) -> xr.Dataset:
    """One dataset over (activation, weight, bias) from the sweep's per-point results, with
    log10 of the final variance (the heat map's colour scale)."""
    ds = xr.combine_by_coords(
        [p.expand_dims(["activation", "weight", "bias"]) for p in points], combine_attrs="drop"
    )
    ds["log10_final_variance"] = np.log10(ds["final_variance"])
    return ds


# ---------------------------------------------------------------------------------------
# The study jobs of the workflow: workflow/scripts/study.py and study_figure.py call these

#: The studies that need no input, by name: one job each (results/studies/<study>.nc).
SOLVER_STUDIES = {"convergence": convergence, "sensitivities": sensitivities,
                  "steady_states": steady_states}  # fmt: skip
#: Every study with a figure (results/figures/study_<study>.{png,pdf}).
STUDIES = ("meanfield", *SOLVER_STUDIES, "sweep")


def meanfield_study(
    settings, experiment: str, data: dict, pde: xr.Dataset, log=None
) -> tuple[xr.Dataset, str]:
    """The mean-field limit of one experiment with the configuration's
    ``studies.meanfield`` particle counts, seeds and layers (:func:`meanfield_convergence`),
    and its title."""
    spec = settings.studies["meanfield"]
    exp = settings.experiments[experiment]
    ds = meanfield_convergence(
        settings, exp, data, pde, spec["particles"], spec["seeds"], spec["layers"], log=log
    )
    return ds, f"Mean-field limit: W1(particles, PDE) against M, experiment {exp.name}"


def solver_study(study: str) -> tuple[xr.Dataset, str]:
    """One of the :data:`SOLVER_STUDIES` by name, and its title."""
    if study not in SOLVER_STUDIES:
        known = ", ".join(SOLVER_STUDIES)
        raise ValueError(f"unknown study {study!r}; expected one of {known}")
    return SOLVER_STUDIES[study](), f"Study: {study}"


def study_dataset(
    settings, study: str, experiment: str | None = None, data=None, pde=None, log=None
) -> xr.Dataset:
    """The file of a study job with its provenance (title, the ``studies`` configuration,
    seed): ``study="meanfield"`` for ``experiment`` (with the generated ``data`` sets and
    the experiment's ``pde`` solution), else one of the :data:`SOLVER_STUDIES`."""
    if study == "meanfield":
        if experiment is None or data is None or pde is None:
            raise ValueError("the meanfield study needs an experiment, the data and its PDE")
        ds, title = meanfield_study(settings, experiment, data, pde, log=log)
    else:
        ds, title = solver_study(study)
    return io.provenance(ds, title, settings.studies, settings.seed)
