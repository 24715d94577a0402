"""The data behind each figure, as datasets: what is drawn is exactly what is stored beside
the figure (results/figures/fig<N>.nc). Built from the pipeline's datasets only; the
plotting module draws these and computes nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from . import io, ledger
from .verification import exact_cell_masses


def _histogram(samples: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(samples, bins=edges)
    return counts / (samples.size * np.diff(edges))


def density_snapshots(
    pde: xr.Dataset,
    particles: xr.Dataset | None,
    times,
    bins: int = 60,
    exact_masses=None,
) -> xr.Dataset:
    """1-D densities at the given times: PDE (cell centres), the particles' histogram on
    ``bins`` bins over the PDE's box, and the exact cell averages where
    ``exact_masses(t, edges)`` gives them (None where no closed form is known)."""
    out = []
    for t in times:
        p = pde.sel(time=t, method="nearest")
        x, dens = p["x"].values, p["density"].values
        dx = float(np.atleast_1d(p["dx"].values)[0])
        edges = np.linspace(x[0] - dx / 2, x[-1] + dx / 2, bins + 1)
        ds = xr.Dataset({"x": ("cell", x), "density": ("cell", dens)})
        if particles is not None:
            sample = particles["state"].sel(time=t, method="nearest").values[:, 0]
            ds["particle_density"] = ("bin", _histogram(sample, edges))
            ds["bin_edge"] = ("bin_edge_index", edges)
        cells = np.concatenate([x - dx / 2, [x[-1] + dx / 2]])
        masses = None if exact_masses is None else exact_masses(float(t), cells)
        if masses is not None:
            ds["exact_density"] = ("cell", masses / dx)
        out.append(ds)
    return xr.concat(out, dim="time").assign_coords(time=np.asarray(times, float))


def density_2d_snapshots(pde: xr.Dataset, times) -> xr.Dataset:
    """2-D densities at the given times with their cell centres."""
    sel = pde.sel(time=list(times), method="nearest")
    ds = xr.Dataset({"density": sel["density"], "x": sel["x"], "y": sel["y"]})
    lower, upper = [], []
    for name, other in (("x", "cell_y"), ("y", "cell_x")):
        marginal = ds["density"].sum(other).values
        cdf = np.cumsum(marginal, axis=1) / marginal.sum(axis=1, keepdims=True)
        centres = ds[name].values
        lower.append([np.interp(0.0005, c, x) for c, x in zip(cdf, centres, strict=True)])
        upper.append([np.interp(0.9995, c, x) for c, x in zip(cdf, centres, strict=True)])
    # plotted window: the central 99.9 % of each marginal, widened by a quarter
    lower, upper = np.array(lower).T, np.array(upper).T
    pad = 0.25 * (upper - lower)
    ds["view_lower"] = (("time", "axis"), lower - pad)
    ds["view_upper"] = (("time", "axis"), upper + pad)
    return ds


def moments_panel(moments: dict[str, xr.Dataset], names) -> xr.Dataset:
    """Selected moments of several experiments (first axis), one ``point`` per experiment,
    source and time that it has: the experiments need not share output times or
    sources (no padding, nothing interpolated)."""
    parts = []
    for label, ds in moments.items():
        for source in ds["source"].values:
            sub = ds[list(names)].isel(axis=0).sel(source=source)
            n = sub.sizes["time"]
            coords = {"experiment": ("point", [label] * n), "source": ("point", [str(source)] * n),
                      "time": ("point", sub["time"].values)}  # fmt: skip
            data = {k: ("point", sub[k].values, sub[k].attrs) for k in names}
            parts.append(xr.Dataset(data, coords=coords))
    return xr.concat(parts, dim="point")


def _number(value) -> str:
    return f"{float(value):g}"


def _law(law: dict) -> str:
    """f0 of an ``initial`` mapping: U[a, b] (a product over the axes), N(m, s²) (one per
    axis), or the law of a data set."""
    if law["kind"] == "uniform":
        low, high = np.atleast_1d(law["low"]), np.atleast_1d(law["high"])
        return " × ".join(f"U[{_number(a)}, {_number(b)}]" for a, b in zip(low, high, strict=True))
    if law["kind"] == "gaussian":
        mean, std = np.broadcast_arrays(np.atleast_1d(law["mean"]), np.atleast_1d(law["std"]))
        return " × ".join(f"N({_number(m)}, {_number(s)}²)" for m, s in zip(mean, std, strict=True))
    return f"law of {law['source']}"


def network_label(exp, law: bool = False) -> str:
    """The network of an experiment as a figure states it: σ, W (or w), b (feedback,
    fitted, or piecewise constant in time), K for the Fokker-Planck model, and with ``law``
    the initial law f0; read from its settings, so that a figure names what was run."""
    parts = ["σ(x) = x" if exp.activation == "identity" else f"σ = {exp.activation}"]
    if len(exp.segments) > 1:
        parts.append(f"(W, b) constant on {len(exp.segments)} segments")
    else:
        w = exp.weight
        if exp.dimension == 1:
            parts.append(f"w = {_number(w[0, 0])}")
        elif np.count_nonzero(w - np.diag(np.diag(w))) == 0:
            parts.append(f"W = diag({', '.join(map(_number, np.diag(w)))})")
        else:
            rows = "; ".join(", ".join(map(_number, row)) for row in w)
            parts.append(f"W = [{rows}]")
        if exp.feedback is not None:
            beta = "-" if exp.feedback == -1 else f"{_number(exp.feedback)} "
            parts.append(f"b = {beta}m1(t)/m0(0)")
        elif exp.fits_target:
            parts.append("b fitted")
        else:
            b = exp.bias
            parts.append(f"b = {_number(b[0])}" if exp.dimension == 1
                         else f"b = ({', '.join(map(_number, b))})")  # fmt: skip
    if exp.diffusion is not None:
        kind = exp.diffusion["kind"]
        parts.append(f"K = {_number(exp.diffusion['value'])}" if kind == "constant"
                     else "K polynomial" if kind == "polynomial" else "K fitted")  # fmt: skip
    if law:
        parts.append(f"f0 = {_law(exp.initial)}")
    return ", ".join(parts)


def trajectories(particles: xr.Dataset, vehicles: xr.Dataset, bins: int = 12) -> xr.Dataset:
    """Fig. 3: histogram of the lengths and the trajectories of the data through the layers."""
    lengths = vehicles["length"].values
    edges = np.linspace(lengths.min(), lengths.max(), bins + 1)
    counts, _ = np.histogram(lengths, bins=edges)
    return xr.Dataset(
        {
            "count": ("bin", counts),
            "bin_edge": ("bin_edge_index", edges),
            "state": particles["state"].isel(axis=0),
            "is_truck": ("particle", vehicles["is_truck"].values),
        },
        attrs={"threshold": vehicles.attrs["threshold"]},
    )


def regression_panels(regression: xr.Dataset) -> xr.Dataset:
    """Fig. 5: the measurements, their numerical slopes and intercepts."""
    return regression[["position", "value", "slope", "intercept"]]


# ---------------------------------------------------------------------------------------
# The figures of the paper: which pipeline datasets each one reads, and how its data and
# drawing are made. The workflow reads this registry to wire the figure rules.


def _moments_figure(inp, cfg, names, heading=""):
    """Figs. 1 and 2: ``names`` of the two experiments of Fig. 1, a panel each."""
    labels = ("fig1_b0", "fig1_feedback")
    ds = moments_panel({k: inp["moments"][k] for k in labels}, names)
    titles = {k: heading + network_label(cfg.experiments[k]) for k in labels}
    return ds, ("moments", dict(names=names, titles=titles))


def _fig1(inp, cfg):
    return _moments_figure(inp, cfg, ["m0", "m1", "m2"])


def _fig2(inp, cfg):
    return _moments_figure(inp, cfg, ["energy", "variance"], "energy and variance, ")


def _fig3(inp, cfg):
    return trajectories(inp["particles"]["fig3_vehicles"], inp["data"]["vehicles"]), (
        "vehicles",
        {},
    )


def _snapshots(inp, cfg, name, heading, xlabel="x"):
    exp = cfg.experiments[name]
    title = f"{heading}, {network_label(exp, law=True)}"

    def exact_masses(t, edges):  # the exact solution the ledger checks the PDE against
        return exact_cell_masses(exp, inp["data"], [edges], t)

    ds = density_snapshots(
        inp["pde"][name], inp["particles"].get(name), exp.output_times, exact_masses=exact_masses
    )
    return ds, ("densities", dict(title=title, xlabel=xlabel))


def _fig6(inp, cfg):
    exp = cfg.experiments["fig6_regression_2d"]
    return density_2d_snapshots(inp["pde"]["fig6_regression_2d"], exp.output_times), (
        "densities_2d",
        dict(title=f"2-D mean-field model, {network_label(exp)}"),
    )


def _fig8(inp, cfg):
    exp = cfg.experiments["fig8_novel_target"]
    target = np.linalg.solve(exp.weight, -exp.bias)  # steady state W x + b = 0
    ds = density_2d_snapshots(inp["pde"]["fig8_novel_target"], exp.output_times)
    ds["target"] = ("axis", target)
    return ds, (
        "densities_2d",
        dict(
            title="Updated weights and biases: novel target "
            f"(slope, intercept) = ({target[0]:g}, {target[1]:g})",
            marker=tuple(target),
        ),
    )


def _fig10(inp, cfg):
    """The fitted targets: W1 to the target over each experiment's output times, and its
    final density on its own cells (``cell_point`` and ``time_point`` carry the experiment
    of each value: the experiments need not share grids or times)."""
    names = FIGURES["fig10"]["pde"]
    finals = [inp["pde"][name].isel(time=-1) for name in names]
    w1 = [inp["pde"][name]["w1_to_target"] for name in names]

    def joined(arrays, dim):
        return (dim, np.concatenate([np.asarray(a).ravel() for a in arrays]))

    cells = [f.sizes["cell"] for f in finals]
    times = [w.sizes["time"] for w in w1]
    ds = xr.Dataset(
        {
            **{
                k: joined([f[k].values for f in finals], "cell_point")
                for k in ("x", "density", "target_density")
            },  # fmt: skip
            "cell_experiment": joined(
                [[n] * c for n, c in zip(names, cells, strict=True)], "cell_point"
            ),
            "w1_to_target": joined([w.values for w in w1], "time_point"),
            "time": joined([w["time"].values for w in w1], "time_point"),
            "time_experiment": joined(
                [[n] * c for n, c in zip(names, times, strict=True)], "time_point"
            ),
        },
        coords={"experiment": names},
    )
    for k in ("x", "density", "target_density", "w1_to_target", "time"):
        source = finals[0][k] if k in finals[0] else w1[0][k]
        ds[k].attrs = dict(source.attrs)
    return ds, ("fitting", {})


FIGURES = {
    "fig1": dict(moments=["fig1_b0", "fig1_feedback"], build=_fig1),
    "fig2": dict(moments=["fig1_b0", "fig1_feedback"], build=_fig2),
    "fig3": dict(particles=["fig3_vehicles"], build=_fig3),
    "fig4": dict(
        pde=["fig4_tanh"],
        particles=["fig4_tanh"],
        build=lambda i, c: _snapshots(i, c, "fig4_tanh", "Mean-field solution"),
    ),
    "fig5": dict(
        build=lambda i, c: (regression_panels(i["data"]["regression"]), ("regression", {}))
    ),
    "fig6": dict(pde=["fig6_regression_2d"], build=_fig6),
    "fig7": dict(
        pde=["fig7_regression_1d"],
        particles=["fig7_regression_1d"],
        build=lambda i, c: _snapshots(i, c, "fig7_regression_1d", "1-D regression model", "slope"),
    ),
    "fig8": dict(pde=["fig8_novel_target"], build=_fig8),
    "fig9": dict(
        pde=["fig9_fokker_planck"],
        particles=["fig9_fokker_planck"],
        build=lambda i, c: _snapshots(i, c, "fig9_fokker_planck", "Fokker-Planck model"),
    ),
    "fig10": dict(pde=["fit_uniform", "fit_gaussian", "fit_vehicles"], build=_fig10),
}


def build(name: str, inputs: dict, config) -> tuple[xr.Dataset, tuple[str, dict]]:
    """Figure dataset and (plotting function name, keyword arguments) of figure ``name``;
    the attribute ``verification`` holds the ledger lines of its experiments (from the
    ``verification`` inputs, where given)."""
    ds, how = FIGURES[name]["build"](inputs, config)
    rows = inputs.get("verification", {})
    if rows:
        table = ledger.ledger_table([rows[k] for k in sorted(rows)])
        lines = [ledger.caption_line(row) for _, row in table.iterrows()]
        ds.attrs["verification"] = "\n".join(line for line in lines if line)
    return ds, how


def experiments(name: str) -> list[str]:
    """The experiments whose outputs figure ``name`` draws."""
    spec = FIGURES[name]
    return sorted({e for stage in ("particles", "pde", "moments") for e in spec.get(stage, [])})


# ---- the study figures: what each draws, read from the study files ----

#: The fit of a mean-field study file (attributes), as variables ``fit_<name>`` of the figure.
FIT_ATTRIBUTES = ("slope", "slope_ci_low", "slope_ci_high", "intercept")


def combine_meanfield(parts: dict[str, xr.Dataset]) -> xr.Dataset:
    """One dataset over ``experiment`` from the mean-field study's files (experiment name ->
    dataset, as written by :func:`studies.study_dataset`), each file's fit in the variables
    ``fit_slope``, ``fit_slope_ci_low``, ``fit_slope_ci_high`` and ``fit_intercept``."""
    if not parts:
        raise ValueError("the mean-field study figure needs at least one experiment")
    return xr.concat(
        [
            ds.assign({f"fit_{k}": ds.attrs[k] for k in FIT_ATTRIBUTES}).expand_dims(
                experiment=[name]
            )
            for name, ds in parts.items()
        ],
        dim="experiment",
    )


def study_figure_dataset(study: str, paths) -> xr.Dataset:
    """What the figure of ``study`` draws, read from its files: one
    ``results/studies/meanfield/<experiment>.nc`` per experiment (each checked to be that
    experiment's, and combined by :func:`combine_meanfield`), or the one
    ``results/studies/<study>.nc``."""
    paths = [Path(p) for p in paths]
    if study == "meanfield":
        return combine_meanfield({p.stem: io.read(p, experiment=p.stem) for p in paths})
    if len(paths) != 1:
        raise ValueError(f"study {study!r}: expected one file, got {[str(p) for p in paths]}")
    return io.read(paths[0])
