"""The mean-field stages: validated settings and datasets in, a dataset out (the PDE
solution and the moments). The data sets are built in ``datasets``, the network's
particles and Table 1 in ``particles``; what an experiment is made of in ``experiment``.

The Snakemake scripts are thin wrappers around these functions, so every stage can also be
run (and tested) from Python.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import diffusion, exact, fokker_planck, io, vlasov
from .cost import SECONDS_PER, check_cost
from .experiment import diffusion_and_bias, initial_law
from .moments import (
    NAMES,
    check_projection,
    grid_moments,
    particle_moments,
    particle_standard_errors,
)
from .problems import fokker_planck_problem, vlasov_problem
from .settings import Config, Experiment


def pde_dataset(
    config: Config, exp: Experiment, data: dict[str, xr.Dataset], log=None
) -> xr.Dataset:
    """Solve the experiment's mean-field PDE (Vlasov or Fokker-Planck)."""
    if exp.model == "fokker_planck":
        return _fokker_planck_dataset(config, exp, data, log)
    law = initial_law(exp, data)
    problem = vlasov_problem(exp, data, law)
    frame = problem.frame
    edges = [frame.edges(r) for r in range(exp.dimension)]
    masses = law.cell_probabilities(edges)
    marginals = [masses] if exp.dimension == 1 else [masses.sum(axis=1), masses.sum(axis=0)]
    check_projection(law.mean(), law.variance(), marginals, edges, exp.pde["resolution_tolerance"])
    steps = vlasov.estimate_steps(problem, masses, exp.final_time)
    cells = int(np.prod(frame.cells))
    seconds = 3 * steps * cells * SECONDS_PER["vlasov cell-stage"] * exp.dimension
    if not problem.fixed_geometry:
        seconds += 3 * steps * SECONDS_PER["vlasov stage of a moving frame"]
    check_cost(config, exp, "the Vlasov solve", seconds, f"about {steps:.3g} steps of "
               f"{cells} cells", "pde.cells, or the step count (|weight| sets the velocities)",
               log)  # fmt: skip
    sol = vlasov.solve(problem, masses, exp.output_times, log=log)
    dims = ("cell",) if exp.dimension == 1 else ("cell_x", "cell_y")
    ds = xr.Dataset(
        {
            "density": (("time", *dims), sol.density),
            "lower": (("time", "axis"), sol.lower),
            "upper": (("time", "axis"), sol.upper),
            "mass": ("time", sol.mass),
            "min_density": ("time", sol.min_density),
            "steps": ("time", sol.steps),
        },
        coords={"time": sol.times, "axis": np.arange(exp.dimension)},
    )
    for r, (name, dim) in enumerate(zip(("x", "y"), dims, strict=False)):
        width = sol.upper[:, r] - sol.lower[:, r]
        ds.coords[name] = (
            ("time", dim),
            sol.lower[:, r, None] + width[:, None] * sol.reference_centres[r][None, :],
        )
        ds["d" + name] = ("time", width / frame.cells[r])
    return io.provenance(
        io.with_unit(ds, exp.unit, exp.dimension),
        f"Mean-field Vlasov solution: experiment {exp.name}",
        exp.raw,
        config.seed,
        experiment=exp.name,
        scheme="finite volume, WENO5-Z + Hu-Adams-Shu positivity limiter, "
        "SSP-RK3, grid moving with the flow"
        if frame.moving
        else "finite volume, WENO5-Z + positivity limiter, SSP-RK3, fixed grid",
        cfl=exp.pde["cfl"],
        integration="mass = sum(density) * dx (* dy) at each time; cell centres x(time, cell)",
    )


def _fokker_planck_dataset(config, exp, data, log):
    problem = fokker_planck_problem(exp, data)
    steps = fokker_planck.estimate_steps(problem, exp.final_time)
    seconds = steps * problem.cells * SECONDS_PER["fokker-planck cell-step"]
    check_cost(config, exp, "the Fokker-Planck solve", seconds, f"about {steps:.3g} steps of "
               f"{problem.cells} cells", "pde.cells or raise pde.time_step", log)  # fmt: skip
    sol = fokker_planck.solve(problem, initial_law(exp, data), exp.output_times, log=log)
    ds = xr.Dataset(
        {
            "density": (("time", "cell"), sol.density),
            "mass": ("time", sol.mass),
            "min_density": ("time", sol.min_density),
            "steps": ("time", sol.steps),
            "diffusion": (("time", "cell"), sol.diffusion),
            "dx": ("time", sol.dx),
        },
        coords={"time": sol.times, "x": (("time", "cell"), sol.centres)},
    )
    if problem.target is not None:
        ds["target_density"] = (("time", "cell"), sol.target_density)
        ds["w1_to_target"] = ("time", sol.w1_to_target)
    return io.provenance(
        io.with_unit(ds, exp.unit, exp.dimension),
        f"Fokker-Planck solution: experiment {exp.name}",
        exp.raw,
        config.seed,
        experiment=exp.name,
        bias=problem.bias,
        scheme="finite volume, Scharfetter-Gummel flux, theta-scheme with positive steps "
        f"(theta = {problem.theta}), "
        + (
            "grid following the law's mean and spread"
            if problem.frame == "moving"
            else "fixed grid"
        ),
        integration="mass = sum(density) * dx",
    )


def _pde_marginals(pde: xr.Dataset, dimension: int):
    """(density, edges) per axis of the PDE solution, marginalised in 2-D."""
    out = []
    for r, name in enumerate(("x", "y")[:dimension]):
        centres = pde[name].values
        width = np.broadcast_to(np.atleast_1d(pde["d" + name].values), centres.shape[:-1])
        edges = np.concatenate(
            [centres - 0.5 * width[..., None], centres[..., -1:] + 0.5 * width[..., None]], axis=-1
        )
        dens = pde["density"].values
        if dimension == 2:
            other = pde["d" + ("y", "x")[r]].values[:, None]
            dens = dens.sum(axis=2 - r) * other
        out.append((dens, np.broadcast_to(edges, dens.shape[:-1] + (dens.shape[-1] + 1,))))
    return out


def moments_dataset(
    config: Config, exp: Experiment, data, particles: xr.Dataset | None, pde: xr.Dataset | None
) -> xr.Dataset:
    """Moments over time from the PDE, the particles and (where known) exactly, per axis."""
    times = exp.output_times
    sources, values = [], []
    if pde is not None:
        per_axis = [grid_moments(d, e) for d, e in _pde_marginals(pde, exp.dimension)]
        sources.append("pde")
        values.append(np.stack([[m[n] for m in per_axis] for n in NAMES]))
    errors = None
    if particles is not None:
        x = particles["state"].sel(time=times, method="nearest").values  # (time, M, d)
        x = np.moveaxis(x, 1, -1)  # (time, d, M)
        pm, se = particle_moments(x), particle_standard_errors(x)
        sources.append("particles")
        values.append(np.stack([pm[n].T for n in NAMES]))
        errors = np.stack([se[n].T for n in NAMES])
    ex = exact_moments(exp, data, times)
    if ex is not None:
        sources.append("exact")
        values.append(np.stack([ex[n] for n in NAMES])[:, None, :])
    ds = xr.Dataset(
        {
            name: (("source", "axis", "time"), np.stack([v[i] for v in values]))
            for i, name in enumerate(NAMES)
        },
        coords={"source": sources, "axis": np.arange(exp.dimension), "time": times},
    )
    if errors is not None:
        ds["standard_error"] = (("moment", "axis", "time"), errors)
        ds.coords["moment"] = list(NAMES)
    return io.provenance(
        io.with_unit(ds, exp.unit, exp.dimension),
        f"Moments: experiment {exp.name}",
        exp.raw,
        config.seed,
        experiment=exp.name,
    )


def exact_moments(exp: Experiment, data, times) -> dict | None:
    """Exact moments where docs/model.md §3 has them (§3.3, §3.5, §3.7): 1-D identity
    activation, constant (W, b) or feedback bias (Vlasov), constant K (Fokker-Planck,
    Ornstein-Uhlenbeck)."""
    if exp.dimension != 1 or exp.activation != "identity" or len(exp.segments) > 1:
        return None
    law = initial_law(exp, data)
    k, segments = diffusion_and_bias(exp, data)
    w, b = float(exp.weight[0, 0]), float(segments[0].bias[0])
    mean0, var0 = float(law.mean()[0]), float(law.variance()[0])
    if k is None:
        return exact.identity_moments(mean0, var0, w, b, times, feedback=exp.feedback)
    if k.kind == diffusion.POLYNOMIAL and k.values.size == 1:
        return exact.ou_moments(mean0, var0, w, b, float(k.values[0]), times)
    return None
