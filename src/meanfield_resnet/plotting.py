"""One seaborn theme and one function per figure: a figure dataset in, a matplotlib figure
out. Nothing here computes science; every number drawn is in the dataset.

The theme is seaborn's ``set_theme(context="paper", style="whitegrid",
palette="colorblind", font_scale=1.1)`` written out as the matplotlib settings it makes
(:data:`THEME`), so that a figure job does not import seaborn (2 s of its 6-7 s, through
scipy.stats); a test checks it against seaborn. Seaborn itself draws the sweep's heatmaps."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from cycler import cycler  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

DPI = 150  # of the PNG files, and of the rasterised meshes inside the PDF files
SOURCE_STYLE = {
    "pde": dict(lw=2.0),
    "exact": dict(ls="--", lw=1.5, color="k"),
    "particles": dict(ls="", marker="o", ms=3),
}


#: seaborn's colorblind palette
PALETTE = ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
           "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9"]  # fmt: skip
_PAPER = 1.1 * 0.8  # seaborn's "paper" context is 0.8 of its "notebook" sizes; font_scale 1.1
#: The matplotlib settings of seaborn's theme (all but its default colormap "rocket",
#: which no figure uses: every mesh names its colormap)
THEME = {
    "axes.axisbelow": True, "axes.edgecolor": ".8", "axes.grid": True,
    "axes.labelcolor": ".15", "axes.linewidth": 1.0, "axes.prop_cycle": cycler(color=PALETTE),
    "axes.labelsize": 12 * _PAPER, "axes.titlesize": 12 * _PAPER, "font.size": 12 * _PAPER,
    "legend.fontsize": 11 * _PAPER, "legend.title_fontsize": 12 * _PAPER,
    "xtick.labelsize": 11 * _PAPER, "ytick.labelsize": 11 * _PAPER,
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans",
                        "sans-serif"],
    "grid.color": ".8", "text.color": ".15", "xtick.color": ".15", "ytick.color": ".15",
    "lines.linewidth": 1.5 * 0.8, "lines.markersize": 6 * 0.8, "lines.solid_capstyle": "round",
    "patch.edgecolor": "w", "patch.force_edgecolor": True, "patch.linewidth": 1 * 0.8,
    "xtick.bottom": False, "ytick.left": False,
    "xtick.major.size": 6 * 0.8, "ytick.major.size": 6 * 0.8,
    "xtick.minor.size": 4 * 0.8, "ytick.minor.size": 4 * 0.8,
    "xtick.major.width": 1.25 * 0.8, "ytick.major.width": 1.25 * 0.8,
    "xtick.minor.width": 1 * 0.8, "ytick.minor.width": 1 * 0.8,
}  # fmt: skip


#: seaborn's colour codes for that palette: what "b", "g", ..., "k" mean in a figure
COLOR_CODES = dict(zip("bgrmyck", ["#0173B2", "#029E73", "#D55E00", "#CC78BC", "#ECE133",
                                   "#56B4E9", (0.1, 0.1, 0.1)], strict=True))  # fmt: skip


def theme() -> None:
    """Set :data:`THEME` and :data:`COLOR_CODES` (over the current settings, as seaborn's
    ``set_theme`` does)."""
    matplotlib.rcParams.update(THEME)
    for code, color in COLOR_CODES.items():
        matplotlib.colors.colorConverter.colors[code] = matplotlib.colors.to_rgb(color)


def palette(n: int) -> list[str]:
    """``n`` colours of the theme's cycle, repeated past its 10 (as seaborn's
    ``color_palette(n_colors=n)``)."""
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


def mass_interval(x, density, tail: float = 1e-4) -> tuple[float, float]:
    """Smallest run of whole cells (centres ``x``) holding all but ``tail`` of the mass of
    ``density``, at most ``tail / 2`` left out on either side; as (left edge, right edge).
    Cell widths are the spacing of the centres; negative or NaN densities count as zero,
    and a law without mass gives the whole grid."""
    x = np.asarray(x, float).ravel()
    order = np.argsort(x)
    x = x[order]
    f = np.clip(np.nan_to_num(np.asarray(density, float).ravel()[order]), 0.0, None)
    width = np.gradient(x) if x.size > 1 else np.ones(1)
    mass = f * width
    i, j = 0, x.size - 1
    if mass.sum() > 0:
        cdf = np.cumsum(mass) / mass.sum()
        i = min(int(np.searchsorted(cdf, tail / 2, side="right")), j)
        j = min(int(np.searchsorted(cdf, 1 - tail / 2, side="left")), j)
    return float(x[i] - width[i] / 2), float(x[j] + width[j] / 2)


def mass_window(curves, tail: float = 1e-4, margin: float = 0.05) -> tuple[float, float]:
    """Axis limits for densities drawn together: the hull of the ``mass_interval`` of each
    (x, density) pair in ``curves``, widened by ``margin`` of its width on each side."""
    lo, hi = np.array([mass_interval(x, f, tail) for x, f in curves]).T
    lo, hi = lo.min(), hi.max()
    pad = margin * (hi - lo)
    return float(lo - pad), float(hi + pad)


def _panels(n: int, width: float = 4.2, height: float = 3.4):
    theme()
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), constrained_layout=True)
    return fig, np.atleast_1d(axes)


def moments(ds: xr.Dataset, names, titles: dict[str, str]):
    """Figs. 1 and 2: moments against time per experiment (a panel each, in the order of
    ``titles``); PDE lines, exact dashed, particle markers. ``ds`` has one ``point`` per
    experiment, source and time."""
    fig, axes = _panels(len(titles))
    colors = dict(zip(names, palette(len(names)), strict=True))
    experiment, source = ds["experiment"].values, ds["source"].values
    for ax, label in zip(axes, titles, strict=True):
        for name in names:
            for src in dict.fromkeys(source[experiment == label]):
                pick = (experiment == label) & (source == src)
                style = dict(SOURCE_STYLE[str(src)])
                style.setdefault("color", colors[name])
                lab = name if src == "pde" else None
                ax.plot(ds["time"].values[pick], ds[name].values[pick], label=lab, **style)
        ax.set(title=titles[label], xlabel="t")
        ax.legend(title="PDE (line), exact (--), particles (o)", fontsize=8)
    return fig


def _zoom_inset(ax, own, common, draw, below: float = 0.2, color: str = "0.2"):
    """When a panel's own window ``own`` (one (low, high) per drawn axis: x, or x and y)
    spans under ``below`` of the ``common`` window on each of them, an inset at the own
    scale, drawn by ``draw(inset)``, in the corner away from the mass, its frame marked on
    the panel; returns the inset or None."""
    own, common = np.atleast_2d(own), np.atleast_2d(common)
    if not np.all(np.ptp(own, axis=1) < below * np.ptp(common, axis=1)):
        return None
    away = own.mean(axis=1) > common.mean(axis=1)
    left = 0.03 if away[0] else 0.55
    bottom, height = ((0.03 if away[1] else 0.55), 0.42) if len(own) > 1 else (0.3, 0.5)
    inset = ax.inset_axes([left, bottom, 0.42, height])
    draw(inset)
    inset.set_xlim(own[0])
    if len(own) > 1:
        inset.set_ylim(own[1])
        (inset.xaxis.tick_top if away[1] else inset.xaxis.tick_bottom)()
    # the ticks face the panel's inside, clear of the panel's own tick labels
    (inset.yaxis.tick_right if away[0] else inset.yaxis.tick_left)()
    inset.tick_params(labelsize=6, pad=1, colors=color)
    ax.indicate_inset_zoom(inset, edgecolor=color, alpha=0.9)
    return inset


def _curves_1d(ax, sub: xr.Dataset) -> None:
    ax.plot(sub.x, sub.density, lw=2, label="PDE")
    if "exact_density" in sub:
        ax.plot(sub.x, sub.exact_density, "k--", lw=1.2, label="exact")
    if "particle_density" in sub:
        ax.stairs(
            sub.particle_density.values,
            sub.bin_edge.values,
            color="C1",
            alpha=0.8,
            label="network (particles)",
        )


def densities(ds: xr.Dataset, title: str, xlabel: str = "x"):
    """Figs. 4, 7, 9: PDE density at several times, particle histogram and exact overlay.
    Every panel on the same x range, where the PDE and exact laws have their mass at some
    drawn time; a panel whose own mass spans under a fifth of it also gets an inset at its
    own scale."""
    fig, axes = _panels(ds.sizes["time"])
    subs = [ds.sel(time=t) for t in ds.time.values]
    own = [
        mass_window((sub.x.values, sub[n].values) for n in ("density", "exact_density") if n in sub)
        for sub in subs
    ]
    xlim = (min(lo for lo, _ in own), max(hi for _, hi in own))
    for ax, t, sub, window in zip(axes, ds.time.values, subs, own, strict=True):
        _curves_1d(ax, sub)
        ax.set(title=f"t = {t:g}", xlabel=xlabel, ylabel="density", xlim=xlim)
        inset = _zoom_inset(ax, window, xlim, lambda a, sub=sub: _curves_1d(a, sub))
        if inset is not None:
            inset.set_ylim(bottom=0)
        on_right = inset is not None and np.mean(window) <= np.mean(xlim)  # as _zoom_inset
        ax.legend(fontsize=8, loc="upper left" if on_right else "best")
    fig.suptitle(title)
    return fig


def _mesh_2d(ax, sub: xr.Dataset, marker, **kwargs):
    mesh = density_mesh(ax, sub, **kwargs)
    ax.set_facecolor(mesh.cmap(0.0))  # outside the grid the density is zero
    ax.grid(False)
    if marker is not None:
        ax.plot(*marker, "r+", ms=12, mew=2, label="target")
    return mesh


def density_mesh(ax, sub: xr.Dataset, **kwargs):
    """The density of ``sub`` (x, y, density) as cells of colour. Rasterised: in the PDF the
    mesh is an image at the PNG's resolution (:data:`DPI`), not one vector path per cell
    (160² cells took seconds to write and to display)."""
    return ax.pcolormesh(sub.x.values, sub.y.values, sub.density.values.T, shading="nearest",
                         rasterized=True, **kwargs)  # fmt: skip


def densities_2d(ds: xr.Dataset, title: str, marker=None):
    """Figs. 6, 8: 2-D densities on (slope, intercept) at several times, all panels on
    common axes (the hull of the stored per-time views), so that spreading and
    concentration show. A panel whose own view spans under a fifth of the common window on
    both axes also gets an inset at its own scale."""
    common = np.stack([ds.view_lower.min("time").values, ds.view_upper.max("time").values], 1)
    fig, axes = _panels(ds.sizes["time"], 4.0, 3.6)
    for ax, t in zip(axes, ds.time.values, strict=True):
        sub = ds.sel(time=t)
        mesh = _mesh_2d(ax, sub, marker, cmap="viridis")
        fig.colorbar(mesh, ax=ax, label="density")
        if marker is not None:
            ax.legend(fontsize=8, loc="upper right")
        ax.set(
            title=f"t = {t:g}",
            xlabel="slope",
            ylabel="intercept",
            xlim=common[0],
            ylim=common[1],
        )
        own = np.stack([sub.view_lower.values, sub.view_upper.values], 1)
        _zoom_inset(
            ax,
            own,
            common,
            lambda a, sub=sub, mesh=mesh: _mesh_2d(a, sub, marker, cmap=mesh.cmap, norm=mesh.norm),
            color="w",
        )
    fig.suptitle(title)
    return fig


def vehicles(ds: xr.Dataset):
    """Fig. 3: histogram of the lengths; trajectories through the layers, coloured by class."""
    fig, (left, right) = _panels(2)
    left.stairs(ds["count"].values, ds["bin_edge"].values, fill=True, alpha=0.7)
    left.set(xlabel="vehicle length (m)", ylabel="count", title="measured lengths")
    for i in range(ds.sizes["particle"]):
        color = "C3" if ds.is_truck.values[i] else "C0"
        right.plot(ds.time, ds.state.isel(particle=i), color=color, lw=0.8)
    right.axhline(ds.attrs["threshold"], color="k", ls=":", lw=1)
    right.plot([], [], color="C0", label="car")
    right.plot([], [], color="C3", label="truck")
    right.set(xlabel="t (layer k · dt)", ylabel="state x(t)", title="trajectories")
    right.legend(fontsize=8)
    return fig


def regression(ds: xr.Dataset):
    """Fig. 5: measurements, numerical slopes, numerical intercepts."""
    fig, axes = _panels(3)
    axes[0].plot(ds.position, ds.value, ".", ms=2, alpha=0.4)
    axes[0].set(xlabel="x", ylabel="y", title="measurements")
    for ax, name in zip(axes[1:], ("slope", "intercept"), strict=True):
        ax.plot(np.arange(ds.sizes["measurement"]), ds[name], ".", ms=2, alpha=0.4)
        ax.set(xlabel="measurement", ylabel=name, title=f"numerical {name}s")
    return fig


def fitting(ds: xr.Dataset):
    """W1 distance to the target law over time for each fitted target, and the final
    densities; ``ds`` holds each experiment's values on ``time_point`` and ``cell_point``
    (:func:`meanfield_resnet.figures._fig10`)."""
    fig, axes = _panels(2)
    curves = []
    for label in ds.experiment.values:
        t = ds["time_experiment"].values == label
        c = ds["cell_experiment"].values == label
        x = ds["x"].values[c]
        axes[0].semilogy(ds["time"].values[t], ds["w1_to_target"].values[t], marker="o",
                         label=str(label))  # fmt: skip
        axes[1].plot(x, ds["density"].values[c], label=f"{label}: final")
        axes[1].plot(x, ds["target_density"].values[c], "k--", lw=1)
        curves += [(x, ds[v].values[c]) for v in ("density", "target_density")]
    axes[1].set_xlim(*mass_window(curves))
    axes[0].set(xlabel="t", ylabel="W1(f(t), target)", title="distance to the target")
    axes[1].set(xlabel="x", ylabel="density", title="final density (target dashed)")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    return fig


def save(
    fig, png: str, pdf: str, footer: str | None = None, description: str | None = None
) -> None:
    """Write the figure; ``footer`` (the experiments' lines of the verification ledger) is
    set in small type under the axes, ``description`` (the figure's report caption) goes
    into the files' metadata (PNG ``Description``, PDF ``Subject``). Both files are written
    atomically (as netCDF files are) and byte-reproducibly: no creation date in the PDF
    (matplotlib's PDF has no random document ID), and the producer named without a date in
    both."""
    from . import __version__, io

    if footer:
        fig.text(0.0, 0.0, footer, fontsize=7, color="0.25", ha="left", va="top")
    producer = f"meanfield_resnet {__version__} (matplotlib {matplotlib.__version__})"
    png_info, pdf_info = {"Software": producer}, {"Creator": producer, "CreationDate": None}
    if description:
        png_info["Description"], pdf_info["Subject"] = description, description
    files = (
        (png, dict(format="png", dpi=DPI, metadata=png_info)),
        (pdf, dict(format="pdf", dpi=DPI, metadata=pdf_info)),  # dpi: rasterised artists
    )
    try:
        for path, options in files:
            with io.atomic(path) as tmp:
                fig.savefig(tmp, bbox_inches="tight", **options)
    finally:
        plt.close(fig)


def meanfield(ds: xr.Dataset):
    """W1(particles, PDE) against M per experiment, with the fitted power law."""
    fig, ax = _panels(1, 5.5, 4.2)
    ax = ax[0]
    for i, name in enumerate(ds.experiment.values):
        sub = ds.sel(experiment=name)
        m = sub.particles.values
        color = f"C{i}"
        for s in sub.seed.values:
            ax.loglog(m, sub.w1.sel(seed=s), "o", color=color, alpha=0.4, ms=4)
        ax.loglog(
            m,
            np.exp(sub.fit_intercept.values) * m**sub.fit_slope.values,
            color=color,
            label=f"{name}: slope {float(sub.fit_slope):.3f} "
            f"[{float(sub.fit_slope_ci_low):.3f}, {float(sub.fit_slope_ci_high):.3f}]",
        )
    ax.loglog(m, np.exp(ds.fit_intercept.values.max()) * m**-0.5, "k:", label="M^(-1/2)")
    ax.set(
        xlabel="particles M",
        ylabel="W1(empirical, PDE) at T",
        title="mean-field limit (95 % CI of the slope)",
    )
    ax.legend(fontsize=8)
    return fig


def training(ds: xr.Dataset):
    """Training on the density: the loss per iteration (mean field and particles), the
    vehicles through the mean-field-trained network, the particle gradient's distance
    against M with the fitted slope, and the particle-trained parameters' distance from the
    mean-field-trained ones in Monte-Carlo standard deviations."""
    fig, axes = _panels(4)
    for i, name in enumerate(ds.objective.values):
        curve = ds.loss.sel(objective=name).dropna("iteration")
        style = "-" if name == "mean_field" else "--"
        accuracy = float(ds.accuracy.sel(objective=name))
        axes[0].semilogy(curve.iteration, curve, style, color=f"C{i}",
                         label=f"{name} (accuracy {accuracy:.0%})")  # fmt: skip
    axes[0].set(xlabel="L-BFGS-B iteration", ylabel="loss J", title="training")
    axes[0].legend(fontsize=8)
    for i in range(ds.sizes["vehicle"]):
        color = "C3" if ds.is_truck.values[i] else "C0"
        axes[1].plot(ds.time, ds.state.isel(vehicle=i), color=color, lw=0.8)
    for y in (-1.0, 1.0):
        axes[1].axhline(y, color="k", ls=":", lw=1)
    axes[1].plot([], [], color="C0", label="car")
    axes[1].plot([], [], color="C3", label="truck")
    axes[1].set(xlabel="t (layer k · dt)", ylabel="state x(t)", title="trained (mean field)")
    axes[1].legend(fontsize=8)
    m = ds.particles.values
    for s in ds.seed.values:
        axes[2].loglog(m, ds.gradient_distance.sel(seed=s), "o", color="C0", alpha=0.5, ms=4)
        axes[2].loglog(m, ds.mean_field_distance.sel(seed=s), "s", color="C1", alpha=0.5, ms=4)
    slope, low, high = (ds.attrs[k] for k in ("slope", "slope_ci_low", "slope_ci_high"))
    axes[2].loglog(m, np.exp(ds.attrs["intercept"]) * m**slope, color="C0",
                   label=f"to E[discrete]: slope {slope:.2f} [{low:.2f}, {high:.2f}]")  # fmt: skip
    axes[2].plot([], [], "s", color="C1", label="to the mean-field adjoint")
    axes[2].axhline(ds.attrs["euler_bias"], color="C1", ls=":", lw=1, label="Euler bias")
    axes[2].set(xlabel="particles M", ylabel="|particle gradient − reference|",
                title="gradient at the trained θ")  # fmt: skip
    axes[2].legend(fontsize=7)
    _agreement(axes[3], ds)
    return fig


def _agreement(ax, ds: xr.Dataset):
    """(θ_M - θ_MF)/sd per parameter and seed, the ±2 band and the deterministic bias."""
    names = [str(p) for p in ds.parameter.values]
    x = np.arange(len(names))
    ax.axhspan(-2.0, 2.0, color="0.9", label="±2 sd")
    label = f"particles, M = {ds.attrs['agreement_particles']:.0e}"
    for s in ds.seed.values:
        ax.plot(x, ds.z.sel(seed=s), "o", color="C0", ms=5, label=None if s else label)
    ax.plot(x, ds.bias_z, "x", color="C1", ms=7, label="network's expected-loss minimiser")
    ax.axhline(0.0, color="k", lw=1, label="mean field")
    ax.set_xticks(x, names)
    title = "trained θ vs mean field" if ds.attrs["agreement_identifiable"] else "not identifiable"
    ax.set(xlabel="parameter", ylabel="(θ − θ_MF) / Monte-Carlo sd", title=title)
    ax.legend(fontsize=7)


def training_regression(ds: xr.Dataset):
    """The 2-D regression training: the loss J and |dJ/dθ| per L-BFGS-B iteration with the
    acceptance level (distance²); the density of (slope, intercept) at t = 0 and at T under
    the trained parameters, each on its own grid's box (the moving frame's box at T can be
    orders of magnitude smaller than at 0), the target point marked."""
    fig, axes = _panels(3, 4.4, 3.8)
    ax = axes[0]
    ax.semilogy(ds.iteration, ds.loss, "o-", ms=3, label="J")
    ax.semilogy(ds.iteration, ds.gradient_norm, ".:", label="|dJ/dθ|")
    ax.axhline(ds.attrs["required_distance"] ** 2, color="k", ls="--", lw=1,
               label="distance² required")  # fmt: skip
    ax.set(xlabel="L-BFGS-B iteration", title=f"σ = {ds.attrs['activation']}")
    ax.legend(fontsize=8)
    target = ds.target.values
    for ax, k in zip(axes[1:], range(ds.sizes["time"]), strict=True):
        sub = ds.isel(time=k)
        mesh = density_mesh(ax, sub, cmap="viridis")
        ax.set_facecolor(mesh.cmap(0.0))
        ax.grid(False)
        ax.plot(*target, "r+", ms=12, mew=2, label="target")
        fig.colorbar(mesh, ax=ax, label="density")
        ax.set(title=f"t = {float(sub.time):g}", xlabel="slope", ylabel="intercept")
        ax.ticklabel_format(useOffset=False)
        ax.xaxis.set_major_locator(MaxNLocator(4))  # the box at T is narrow: long labels
        ax.yaxis.set_major_locator(MaxNLocator(5))
        ax.legend(fontsize=8, loc="upper right")
    verdict = "accepted" if ds.attrs["accepted"] else "NOT accepted"
    point = tuple(np.round(target, 6).tolist())
    fig.suptitle(
        f"Training to the target {point}: J {ds.attrs['initial_loss']:.3g}"
        f" → {float(ds.final_loss):.3g}, sqrt(J) = {ds.attrs['rms_distance']:.3g} "
        f"(≤ {ds.attrs['required_distance']:g}), |mean − target| = "
        f"{ds.attrs['mean_distance']:.3g}: {verdict}"
    )
    return fig


def convergence(ds: xr.Dataset):
    """L1 error against cells per solver (log-log)."""
    fig, ax = _panels(1, 6.0, 4.4)
    ax = ax[0]
    for name in ds.solver.values:
        sub = ds.sel(solver=name).dropna("level")
        last = float(sub.observed_order.values[-1])
        ax.loglog(sub.cells, sub.l1_error, "o-", label=f"{name} (order {last:.2f})")
    ax.set(xlabel="cells per axis", ylabel="L1 error", title="solver convergence")
    ax.legend(fontsize=7)
    return fig


def sensitivities(ds: xr.Dataset):
    fig, axes = _panels(ds.sizes["quantity"], 3.6, 3.2)
    for ax, q in zip(axes, ds.quantity.values, strict=True):
        sub = ds.sensitivity.sel(quantity=q)
        ax.plot(ds.time, sub.sel(source="pde"), "o", label="PDE, central differences")
        ax.plot(ds.time, sub.sel(source="exact"), "k--", label="exact")
        ax.set(title=str(q).replace("_", "/"), xlabel="t")
    axes[0].legend(fontsize=7)
    return fig


def steady_states(ds: xr.Dataset):
    theme()
    nw, na = ds.sizes["weight"], ds.sizes["activation"]
    fig, axes = plt.subplots(
        nw, na, figsize=(3.4 * na, 2.8 * nw), constrained_layout=True, squeeze=False
    )
    for i, w in enumerate(ds.weight.values):
        for j, act in enumerate(ds.activation.values):
            ax = axes[i, j]
            panel = ds.sel(weight=w, activation=act)
            for t in ds.time.values:
                sub = panel.sel(time=t)
                ax.plot(sub.x, sub.density, label=f"t = {t:g}")
            ax.axvline(-ds.attrs["bias"] / w, color="k", ls=":", lw=1)
            xlim = mass_window(
                (sub.x.values, sub.density.values)
                for sub in (panel.sel(time=t) for t in ds.time.values)
            )
            ax.set(
                title=f"{act}, w = {w:g}", xlabel="x", yscale="log", ylim=(1e-4, None), xlim=xlim
            )
    axes[0, 0].legend(fontsize=7)
    return fig


def sweep(ds: xr.Dataset):
    import seaborn as sns  # only here: its import costs a figure job 2 s

    theme()
    na = ds.sizes["activation"]
    fig, axes = plt.subplots(2, na, figsize=(4.2 * na, 6.4), constrained_layout=True, squeeze=False)
    for j, act in enumerate(ds.activation.values):
        sub = ds.sel(activation=act)
        for i, (name, label) in enumerate(
            (("accuracy", "accuracy"), ("log10_final_variance", "log10 final variance"))
        ):
            sns.heatmap(
                sub[name].to_pandas(),
                ax=axes[i, j],
                annot=True,
                fmt=".2f",
                cmap="viridis",
                cbar_kws={"label": label},
            )
            axes[i, j].set(title=f"{act}: {label}")
    return fig


def study(name: str, ds: xr.Dataset):
    """The figure of the study ``name`` (``meanfield_resnet.studies.STUDIES``) from its data."""
    draw = {"meanfield": meanfield, "convergence": convergence, "sensitivities": sensitivities,
            "steady_states": steady_states, "sweep": sweep}  # fmt: skip
    if name not in draw:
        raise ValueError(f"no figure for study {name!r}; expected one of {', '.join(draw)}")
    return draw[name](ds)
