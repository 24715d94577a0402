"""The verification ledger: the default configuration within its thresholds, and a ledger
that notices a wrong solution."""

import numpy as np
import pytest

from conftest import ROOT
from meanfield_resnet import datasets, ledger, network, particles, pipeline, verification
from meanfield_resnet.settings import constant_segments, load_config


@pytest.fixture(scope="module")
def default_run():
    """Every stage of the default configuration, in process: (settings, data, {name: (pde,
    moments)})."""
    settings = load_config(ROOT / "config/config.yaml")
    data = {
        "vehicles": datasets.vehicles_dataset(settings),
        "regression": datasets.regression_dataset(settings),
    }
    out = {}
    for name, exp in settings.experiments.items():
        cloud = particles.particles_dataset(settings, exp, data) if exp.particles else None
        pde = pipeline.pde_dataset(settings, exp, data) if exp.pde else None
        out[name] = (pde, pipeline.moments_dataset(settings, exp, data, cloud, pde))
    return settings, data, out


def _ledger(settings, data, run):
    parts = []
    for name, (pde, moments) in run.items():
        exp = settings.experiments[name]
        layers = exp.particles["layers"] if exp.particles else None
        parts.append(verification.verification_dataset(exp, data, pde, moments, layers))
    return ledger.ledger_table(parts)


def test_default_ledger_is_within_its_thresholds(default_run):
    table = _ledger(*default_run).set_index("experiment")
    print(table.to_string())
    exact = table[table.exact_solution == "closed form"]
    # every experiment with a PDE and an exact solution of the paper's figures has one here
    assert {"fig1_b0", "fig1_feedback", "fig4_tanh", "fig6_regression_2d", "fig7_regression_1d",
            "fig8_novel_target", "fig9_fokker_planck"} <= set(exact.index)  # fmt: skip
    for column, limit in ledger.THRESHOLDS.items():
        values = table[column].dropna()
        assert (values <= limit).all(), (column, values[values > limit])
    assert (table.min_density.dropna() >= -1e-14).all()  # round-off in the far tails
    assert table.loc["fig9_fokker_planck", "euler_bias_removed"]


def test_ledger_notices_a_displaced_density(default_run):
    settings, data, run = default_run
    pde, moments = run["fig4_tanh"]
    wrong = pde.copy(deep=True)
    wrong["density"][-1] = np.roll(wrong["density"].values[-1], 3)
    exp = settings.experiments["fig4_tanh"]
    ds = verification.verification_dataset(exp, data, wrong, moments, None)
    assert ds["l1_error"].values[-1] > 100 * ledger.THRESHOLDS["l1_error"]
    assert ds["mean_error"].values[-1] > ledger.THRESHOLDS["mean_error"]


@pytest.mark.parametrize(("w", "b", "feedback"), [(-1.0, 0.3, None), (0.8, -1.0, None),
                                                  (-1.0, 0.0, -1.0)])  # fmt: skip
def test_euler_bias_is_the_networks_own_moment_recursion(w, b, feedback):
    """The affine layer map's mean recursion equals the mean of the simulated network."""
    x0 = np.random.default_rng(2).uniform(2.0, 8.0, (1000, 1))
    layers, final = 50, 2.0
    seg = constant_segments(w, b if feedback is None else 0.0)
    x = network.simulate(x0, "identity", seg, final, layers, np.array([layers]),
                         feedback=feedback)[-1, :, 0]  # fmt: skip
    h = final / layers
    growth = 1.0 + h * (w + (feedback or 0.0))
    shift = 0.0 if feedback is not None else h * b
    mean = verification._affine_recursion(growth, shift, x0.mean(), np.array([layers]))[0]
    var = verification._affine_recursion((1.0 + h * w) ** 2, 0.0, x0.var(), np.array([layers]))
    assert abs(x.mean() - mean) < 1e-12 * max(1.0, abs(mean))
    assert abs(x.var() / var[0] - 1) < 1e-11


@pytest.mark.parametrize(
    "change",
    [{"activation": "tanh"},
     {"segments": [{"until": 0.3, "weight": -1.0, "bias": 0.0},
                   {"until": 10.0, "weight": -0.5, "bias": 0.4}]}],
)  # fmt: skip
def test_no_exact_solution_is_claimed_beyond_the_ornstein_uhlenbeck_law(change):
    """The Fokker-Planck experiment's exact solution (also the dashed line of its figure) is
    the OU law: with another activation, or parameters that change with depth, the ledger
    (and the figure) claim none rather than the wrong one."""
    import copy

    import yaml

    from meanfield_resnet.settings import validate_config

    raw = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    base = copy.deepcopy(raw["experiments"]["fig9_fokker_planck"])
    edges = [np.linspace(-5.0, 12.0, 101)]
    masses = verification.exact_cell_masses(
        load_config(ROOT / "config/config.yaml").experiments["fig9_fokker_planck"], {}, edges, 0.5
    )
    assert masses is not None and abs(masses.sum() - 1.0) < 1e-6
    raw["experiments"]["fig9_fokker_planck"] = {**base, **change}
    exp = validate_config(raw).experiments["fig9_fokker_planck"]
    assert verification.exact_cell_masses(exp, {}, edges, 0.5) is None
