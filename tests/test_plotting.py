"""Figure axes: the interval holding the mass, shared limits of the 2-D panels, and 1-D
panels limited to where the mass is."""

from statistics import NormalDist

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from matplotlib.collections import QuadMesh

from meanfield_resnet import figures, plotting


def test_mass_interval_of_a_uniform_law_is_its_support():
    x = np.linspace(-20, 30, 501)  # cells of width 0.1
    density = np.where((x > 2) & (x < 8), 1 / 6, 0.0)
    lo, hi = plotting.mass_interval(x, density)
    assert lo == pytest.approx(2, abs=0.1)
    assert hi == pytest.approx(8, abs=0.1)


def test_mass_interval_of_a_gaussian_leaves_out_the_tail():
    x = np.linspace(-17, 26, 4301)  # cells of width 0.01, law far from the domain's centre
    gauss = NormalDist(3.0, 1.5)
    density = np.array([gauss.pdf(v) for v in x])
    edge = gauss.inv_cdf(1 - 0.5e-4) - 3.0
    lo, hi = plotting.mass_interval(x, density, tail=1e-4)
    assert lo == pytest.approx(3.0 - edge, abs=0.011)
    assert hi == pytest.approx(3.0 + edge, abs=0.011)
    # a larger tail gives a narrower interval, and no mass the whole grid
    assert plotting.mass_interval(x, density, tail=0.05)[1] < hi
    assert plotting.mass_interval(x, 0 * x) == pytest.approx((-17.005, 26.005))


def test_1d_panels_share_the_hull_of_the_mass_on_time_dependent_cells():
    times = np.array([0.0, 1.0, 2.0])
    x = np.stack([np.linspace(-17, 26, 200) + 0.3 * t for t in times])
    density = np.stack(
        [[NormalDist(3.0 - t, 1.0).pdf(v) for v in row] for t, row in zip(times, x, strict=True)]
    )
    ds = xr.Dataset(
        {"x": (("time", "cell"), x), "density": (("time", "cell"), density)},
        coords={"time": times},
    )
    fig = plotting.densities(ds, "test")
    limits = {ax.get_xlim() for ax in fig.axes}
    plt.close(fig)
    assert len(limits) == 1
    (lo, hi), edge = limits.pop(), NormalDist().inv_cdf(1 - 0.5e-4)
    # the mass lies in [1 - edge, 3 + edge]; the axis shows it with a small margin only
    assert lo < 1 - edge < 3 + edge < hi
    assert hi - lo < 1.2 * (2 + 2 * edge + 2 * 0.22)


def test_1d_panel_of_a_narrow_law_gets_an_inset_at_its_own_scale():
    times = np.array([0.0, 1.0, 4.0])
    u = np.linspace(-6, 6, 121)
    x = np.exp(times)[:, None] * u  # the grid follows a law whose scale grows like e^t
    density = np.exp(-0.5 * u**2)[None, :] / np.exp(times)[:, None] / np.sqrt(2 * np.pi)
    ds = xr.Dataset(
        {"x": (("time", "cell"), x), "density": (("time", "cell"), density)},
        coords={"time": times},
    )
    fig = plotting.densities(ds, "test")
    insets = [ax.child_axes for ax in fig.axes]
    plt.close(fig)
    assert [len(i) for i in insets] == [1, 1, 0]
    edge = NormalDist().inv_cdf(1 - 0.5e-4)
    for (inset,), scale in zip(insets[:2], np.exp(times[:2]), strict=True):
        lo, hi = inset.get_xlim()
        assert lo < -edge * scale and edge * scale < hi < 1.3 * (edge + 0.1) * scale


def _law_2d(times, sx, sy):
    """Gaussian around (1, 0) with scales sx, sy (one per time) on a grid that follows it,
    stored like the PDE's densities on (slope, intercept)."""
    u = np.linspace(-5, 5, 24)
    x, y = 1.0 + sx[:, None] * u, sy[:, None] * u
    g = np.exp(-0.5 * u**2)
    density = g[None, :, None] * g[None, None, :] / (2 * np.pi * sx * sy)[:, None, None]
    return xr.Dataset(
        {
            "density": (("time", "cell_x", "cell_y"), density),
            "x": (("time", "cell_x"), x),
            "y": (("time", "cell_y"), y),
        },
        coords={"time": times},
    )


def _panels_of(fig):
    return [ax for ax in fig.axes if ax.get_xlabel() == "slope"]


def test_2d_panels_share_limits_covering_every_time():
    times = np.array([0.0, 1.0, 2.0])
    # the slope spreads, the intercept concentrates (as in Fig. 6)
    ds = figures.density_2d_snapshots(_law_2d(times, np.exp(times), np.exp(-times)), times)
    fig = plotting.densities_2d(ds, "test")
    panels = _panels_of(fig)
    assert len(panels) == 3
    xlims = {ax.get_xlim() for ax in panels}
    ylims = {ax.get_ylim() for ax in panels}
    plt.close(fig)
    assert len(xlims) == 1 and len(ylims) == 1
    (x0, x1), (y0, y1) = xlims.pop(), ylims.pop()
    lower, upper = ds.view_lower.values, ds.view_upper.values
    assert x0 <= lower[:, 0].min() and upper[:, 0].max() <= x1
    assert y0 <= lower[:, 1].min() and upper[:, 1].max() <= y1
    # the t = 0 law fills a small part of the common slope range, the t = 2 law of the
    # intercept range
    assert (upper[0, 0] - lower[0, 0]) < 0.2 * (x1 - x0)
    assert (upper[2, 1] - lower[2, 1]) < 0.2 * (y1 - y0)


def test_2d_panel_of_a_concentrated_law_gets_an_inset_at_its_own_scale():
    times = np.array([0.0, 1.0, 3.0])
    scale = np.exp(-times)  # concentrates on both axes (as in Fig. 8)
    ds = figures.density_2d_snapshots(_law_2d(times, scale, scale), times)
    fig = plotting.densities_2d(ds, "test", marker=(1.0, 0.0))
    insets = [ax.child_axes for ax in _panels_of(fig)]
    plt.close(fig)
    assert [len(i) for i in insets] == [0, 0, 1]
    (inset,) = insets[2]
    assert inset.get_xlim() == pytest.approx(
        (ds.view_lower.values[2, 0], ds.view_upper.values[2, 0])
    )
    assert inset.get_ylim() == pytest.approx(
        (ds.view_lower.values[2, 1], ds.view_upper.values[2, 1])
    )


def test_2d_densities_are_images_in_the_pdf(tmp_path):
    """The density meshes are rasterised: the PDF holds an image per mesh, and is smaller
    than the same figure with one vector path per cell (already on 24² cells)."""
    times = np.array([0.0, 1.0])
    ds = figures.density_2d_snapshots(_law_2d(times, np.ones(2), np.ones(2)), times)
    sizes = {}
    for rasterized in (True, False):
        fig = plotting.densities_2d(ds, "test")
        meshes = [a for ax in fig.axes for a in ax.collections if isinstance(a, QuadMesh)]
        assert meshes and all(mesh.get_rasterized() for mesh in meshes)
        for mesh in meshes:
            mesh.set_rasterized(rasterized)
        path = tmp_path / f"{rasterized}.pdf"
        plotting.save(fig, str(tmp_path / "f.png"), str(path))
        pdf = path.read_bytes()
        assert (pdf.count(b"/Subtype /Image") >= len(meshes)) == rasterized
        sizes[rasterized] = len(pdf)
    assert sizes[True] < 0.7 * sizes[False], sizes


def test_theme_is_seaborns_paper_theme_without_importing_seaborn():
    """THEME writes out seaborn's set_theme(context="paper", style="whitegrid",
    palette="colorblind", font_scale=1.1): the same matplotlib settings (but its default
    colormap, which no figure uses) and colour codes ("k" is dark grey); and importing the
    plotting module leaves seaborn out."""
    import subprocess
    import sys

    import matplotlib as mpl
    import seaborn as sns
    from matplotlib.colors import to_hex

    code = "import sys, meanfield_resnet.plotting; print('seaborn' in sys.modules)"
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert imported.stdout.strip() == "False", imported.stderr

    def settings(apply):
        with mpl.rc_context():
            mpl.rcdefaults()
            sns.set_color_codes("reset")
            apply()
            out = dict(mpl.rcParams)
            out.update({c: mpl.colors.to_rgb(c) for c in "bgrmyck"})
            sns.set_color_codes("reset")
        out["axes.prop_cycle"] = [to_hex(c) for c in out["axes.prop_cycle"].by_key()["color"]]
        out.pop("image.cmap")
        return out

    ours = settings(plotting.theme)
    seaborns = settings(lambda: sns.set_theme(context="paper", style="whitegrid",
                                              palette="colorblind", font_scale=1.1))  # fmt: skip

    def same(a, b):
        return a == b or (isinstance(a, float) and a == pytest.approx(b))

    differ = {k for k in seaborns if not same(ours[k], seaborns[k])}
    assert differ == set()
    assert plotting.palette(12)[10:] == plotting.PALETTE[:2]


def _moments(times, sources):
    shape = (len(sources), 1, len(times))
    values = {
        k: (("source", "axis", "time"), np.full(shape, v)) for k, v in (("m0", 1.0), ("m1", 2.0))
    }
    return xr.Dataset(values, coords={"source": sources, "time": times})


def test_moments_of_experiments_with_their_own_times_and_sources_are_drawn_unpadded():
    """Figs. 1-2 with two experiments that share neither output times nor sources: each
    keeps its own points (no NaN, nothing interpolated), and each panel draws its lines."""
    a = _moments([0.0, 0.5, 2.5], ["pde", "exact", "particles"])
    b = _moments(np.linspace(0, 5, 21), ["pde", "particles"])
    ds = figures.moments_panel({"a": a, "b": b}, ["m0", "m1"])
    assert ds.sizes["point"] == 3 * 3 + 2 * 21
    assert not any(np.isnan(ds[k].values).any() for k in ("m0", "m1", "time"))
    pick = (ds.experiment.values == "a") & (ds.source.values == "exact")
    np.testing.assert_array_equal(ds.time.values[pick], [0.0, 0.5, 2.5])
    fig = plotting.moments(ds, ["m0", "m1"], {"a": "first", "b": "second"})
    lines = [len(ax.get_lines()) for ax in fig.axes]
    assert lines == [2 * 3, 2 * 2]
    plt.close(fig)


def test_network_label_states_the_settings_that_were_run(test_config_dict):
    """Figure titles come from the experiment's settings, not from fixed text."""
    from meanfield_resnet.settings import overlay_config, validate_config

    yours = {"experiments": {
        "fig1_b0": {"activation": "relu", "weight": 0.6, "bias": -2.0,
                    "initial": {"kind": "gaussian", "mean": 3.0, "std": 0.7}},
        "fig1_feedback": {"bias": {"feedback": -0.5}},
        "fig6_regression_2d": {"weight": [[-0.4, 0.2], [0.1, -0.7]], "bias": [0.3, -0.2]},
        "fig9_fokker_planck": {"diffusion": {"kind": "constant", "value": 0.3}},
    }}  # fmt: skip
    cfg = validate_config(overlay_config(test_config_dict, yours)).experiments
    label = figures.network_label
    assert label(cfg["fig1_b0"], law=True) == "σ = relu, w = 0.6, b = -2, f0 = N(3, 0.7²)"
    assert label(cfg["fig1_feedback"]).endswith("b = -0.5 m1(t)/m0(0)")
    assert "W = [-0.4, 0.2; 0.1, -0.7], b = (0.3, -0.2)" in label(cfg["fig6_regression_2d"])
    assert "K = 0.3" in label(cfg["fig9_fokker_planck"])


def test_fitting_figure_keeps_each_experiments_own_cells_and_times():
    """Fig. 10 with fitted experiments on different grids and output times: no padding,
    each experiment's values where they were computed, and a curve of each drawn."""
    names = figures.FIGURES["fig10"]["pde"]
    pde = {}
    for k, name in enumerate(names):
        cells, times = 50 + 10 * k, np.linspace(0, 2, 3 + k)
        x = np.linspace(-1, 1, cells)
        shape = (times.size, cells)
        pde[name] = xr.Dataset(
            {"x": ("cell", x), "density": (("time", "cell"), np.full(shape, 0.5)),
             "target_density": (("time", "cell"), np.full(shape, 0.5)),
             "w1_to_target": ("time", np.exp(-times) + k)},
            coords={"time": times},
        )  # fmt: skip
    ds, (draw, _) = figures.FIGURES["fig10"]["build"]({"pde": pde}, None)
    assert ds.sizes["cell_point"] == 50 + 60 + 70 and ds.sizes["time_point"] == 3 + 4 + 5
    last = ds["cell_experiment"].values == names[-1]
    np.testing.assert_array_equal(ds["x"].values[last], np.linspace(-1, 1, 70))
    np.testing.assert_array_equal(
        ds["time"].values[ds["time_experiment"].values == names[1]], np.linspace(0, 2, 4)
    )
    fig = getattr(plotting, draw)(ds)
    assert [len(ax.get_lines()) for ax in fig.axes] == [3, 6]
    plt.close(fig)
