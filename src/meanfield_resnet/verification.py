"""The verification ledger: how far every experiment of a run is from what it must be.

For each experiment, at each output time:

* **against the exact solution** where one is known in closed form (docs/model.md §3): the
  L1 distance of the PDE's cell masses from the exact cell masses on the same cells, and the
  errors of the mean (relative to the larger of |mean| and the standard deviation) and of
  the variance (relative) of those two sets of cell averages. Exact cell masses exist for
  the 1-D Vlasov model with any activation and piecewise constant (w, b) (characteristics),
  for σ = identity with a diagonal W (also with the feedback bias: an affine flow per axis),
  and for the Fokker-Planck model with σ = identity, constant K and a uniform or Gaussian
  initial law (Ornstein-Uhlenbeck);
* **invariants:** relative mass drift and the smallest density;
* **particles against the PDE:** z = (particle estimate - PDE - Euler bias)/standard error
  for the mean and the variance, per axis. The network is the explicit Euler (or
  Euler-Maruyama) scheme with step T/L, whose moments differ from the mean-field ones by an
  O(T/L) bias. For σ = identity that bias is known exactly (the layer map is affine:
  m_{k+1} = (1 + h w) m_k + h b, V_{k+1} = (1 + h w)² V_k + 2 K h) and is removed;
  otherwise it stays in z and ``euler_bias_removed`` is false.

The figure captions and ``results/tables/verification.{csv,md}`` are drawn from these files
(``ledger``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import exact
from .diffusion import POLYNOMIAL
from .experiment import diffusion_and_bias, initial_law
from .moments import grid_moments
from .settings import Experiment


def paper_figure(exp: Experiment) -> str:
    """The paper figure the experiment serves (its optional ``figure`` key, free text such
    as "4" or "3, Table 1"), "" where not given: the ledger's ``paper_figure`` column."""
    return str(exp.raw.get("figure", ""))


def cell_edges(pde: xr.Dataset, axis: int) -> np.ndarray:
    """Cell edges (time, n + 1) of one axis of a PDE file (centres ± half the width)."""
    name = "xy"[axis]
    centres, width = pde[name].values, pde["d" + name].values[:, None]
    return np.concatenate([centres - 0.5 * width, centres[:, -1:] + 0.5 * width], axis=1)


def exact_cell_masses(exp: Experiment, data, edges: list[np.ndarray], t: float):
    """Exact mass of every cell at time t (tensor grid of the given edges), or None."""
    law = initial_law(exp, data)
    if exp.model == "fokker_planck":
        k, segments = diffusion_and_bias(exp, data)
        constant = k.kind == POLYNOMIAL and k.values.size == 1
        if (exp.activation != "identity" or not constant or law.kind == "samples"
                or len(segments) > 1):  # fmt: skip
            return None
        w, b = float(exp.weight[0, 0]), float(segments[0].bias[0])
        return exact.ou_cell_masses(law, w, b, float(k.values[0]), t, edges[0])
    if exp.dimension == 1 and exp.feedback is None:
        return law.axis_cdf_weights(0, _back(exp, edges[0], t)).mean(axis=0)  # KDE: per kernel
    diagonal = all(np.count_nonzero(s.weight - np.diag(np.diag(s.weight))) == 0
                   for s in exp.segments)  # fmt: skip
    if exp.activation != "identity" or not diagonal:
        return None
    if exp.feedback is not None:  # x_r(t) = e^{w_r t} x0 + μ0_r (e^{(w_r+β)t} - e^{w_r t})
        w, mean0 = np.diag(exp.weight), law.mean()
        growth = np.exp(w * t)
        shift = mean0 * (np.exp((w + exp.feedback) * t) - growth)
        back = [(e - c) / g for e, c, g in zip(edges, shift, growth, strict=True)]
    else:
        back = [_back(exp, e, t, axis=r) for r, e in enumerate(edges)]
    return law.cell_probabilities(back)


def _back(exp: Experiment, x: np.ndarray, t: float, axis: int = 0) -> np.ndarray:
    """Backward characteristics from time t to 0 through the (W, b) segments, along one
    axis (W diagonal, or 1-D)."""
    for seg in reversed(exp.segments):
        span = min(t, seg.until) - seg.start
        if span > 0:
            w, b = float(seg.weight[axis, axis]), float(seg.bias[axis])
            x = exact.characteristic(exp.activation, w, b, x, -span)
    return x


def _marginals(masses: np.ndarray, dimension: int) -> list[np.ndarray]:
    if dimension == 1:
        return [masses]
    return [masses.sum(axis=1), masses.sum(axis=0)]


def _moment_errors(num: dict, ref: dict) -> tuple[float, float]:
    scale = max(abs(float(ref["mean"])), float(np.sqrt(ref["variance"])))
    return (
        abs(float(num["mean"] - ref["mean"])) / scale,
        abs(float(num["variance"] / ref["variance"] - 1.0)),
    )


def euler_bias(exp: Experiment, data, moments: xr.Dataset, layers: int):
    """(mean, variance) bias (axis, time) of the network's layers against the mean-field
    moments for σ = identity with diagonal W, constant b or feedback bias and constant K
    (exact recursions of the affine layer map), or None."""
    if exp.activation != "identity" or len(exp.segments) > 1:
        return None
    w = np.diag(exp.weight)
    if np.count_nonzero(exp.weight - np.diag(w)):
        return None
    k, segments = diffusion_and_bias(exp, data)
    if k is not None and not (k.kind == POLYNOMIAL and k.values.size == 1):
        return None
    kappa = float(k.values[0]) if k is not None else 0.0
    h = exp.final_time / layers
    times = moments["time"].values
    steps = np.rint(times / h).astype(int)
    law = initial_law(exp, data)
    beta = exp.feedback if exp.feedback is not None else 0.0
    b = np.zeros(exp.dimension) if exp.feedback is not None else segments[0].bias
    a = 1.0 + h * (w + beta)  # mean factor per layer (feedback: b = β m)
    c = 1.0 + h * w  # spread factor per layer
    mean = np.empty((exp.dimension, times.size))
    var = np.empty_like(mean)
    for r in range(exp.dimension):
        m, v = law.mean()[r], law.variance()[r]
        mean[r] = _affine_recursion(a[r], h * b[r], m, steps)
        var[r] = _affine_recursion(c[r] ** 2, 2.0 * kappa * h, v, steps)
    pde = moments.sel(source="pde")
    return mean - pde["mean"].values, var - pde["variance"].values


def _affine_recursion(a: float, c: float, x0: float, k: np.ndarray) -> np.ndarray:
    """x_k of x_{j+1} = a x_j + c: a^k x0 + c (1 + a + ... + a^{k-1})."""
    k = np.asarray(k, dtype=float)
    if a == 1.0:
        geometric = k
    elif a > 0.0:  # (a^k - 1)/(a - 1) without cancellation for a near 1
        geometric = np.expm1(k * np.log(a)) / (a - 1.0)
    else:
        geometric = (a**k - 1.0) / (a - 1.0)
    return a**k * x0 + c * geometric


def verification_dataset(
    exp: Experiment, data, pde: xr.Dataset | None, moments: xr.Dataset, particles_layers=None
) -> xr.Dataset:
    """The ledger of one experiment over its output times (NaN where a quantity does not
    apply); see the module docstring."""
    times = moments["time"].values
    nan = np.full(times.size, np.nan)
    rows = {name: nan.copy() for name in ("l1_error", "mean_error", "variance_error")}
    rows.update(mass_drift=nan.copy(), min_density=nan.copy(), w1_to_target=nan.copy())
    exact_kind = "none"
    if pde is not None:
        mass = pde["mass"].values
        rows["mass_drift"] = np.abs(mass / mass[0] - 1.0)
        rows["min_density"] = pde["min_density"].values
        if "w1_to_target" in pde:
            rows["w1_to_target"] = pde["w1_to_target"].values
        edges = [cell_edges(pde, r) for r in range(exp.dimension)]
        for i, t in enumerate(times):
            cells = [e[i] for e in edges]
            ref = exact_cell_masses(exp, data, cells, float(t))
            if ref is None:
                break
            exact_kind = "closed form"
            volume = np.prod([np.diff(e)[0] for e in cells])
            got = pde["density"].values[i] * volume
            rows["l1_error"][i] = np.abs(got - ref).sum()
            errs = [
                _moment_errors(grid_moments(g / np.diff(e), e), grid_moments(r_ / np.diff(e), e))
                for g, r_, e in zip(
                    _marginals(got, exp.dimension), _marginals(ref, exp.dimension), cells,
                    strict=True,
                )
            ]  # fmt: skip
            rows["mean_error"][i] = max(e[0] for e in errs)
            rows["variance_error"][i] = max(e[1] for e in errs)
    ds = xr.Dataset({k: ("time", v) for k, v in rows.items()}, coords={"time": times})
    ds.attrs.update(experiment=exp.name, exact_solution=exact_kind, model=exp.model,
                    paper_figure=paper_figure(exp))  # fmt: skip
    _particle_z(ds, exp, data, moments, particles_layers)
    return ds


def _particle_z(ds, exp, data, moments, layers) -> None:
    """z-scores of the particle mean and variance against the PDE (Euler bias removed where
    known), worst over the axes, per time."""
    sources = list(moments["source"].values)
    ds.attrs["euler_bias_removed"] = 0
    if "particles" not in sources or "pde" not in sources:
        ds["z_mean"] = ("time", np.full(ds.time.size, np.nan))
        ds["z_variance"] = ("time", np.full(ds.time.size, np.nan))
        return
    bias = euler_bias(exp, data, moments, layers) if layers else None
    for name, i in (("mean", 0), ("variance", 1)):
        diff = (moments[name].sel(source="particles") - moments[name].sel(source="pde")).values
        if bias is not None:
            diff = diff - bias[i]
        se = moments["standard_error"].sel(moment=name).values
        z = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.nan)
        ds["z_" + name] = ("time", np.abs(z).max(axis=0))
    ds.attrs["euler_bias_removed"] = int(bias is not None)
