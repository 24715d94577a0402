"""Training the 2-D network on the regression target (src/meanfield_resnet/
regression_training.py, its figure in plotting.py): a small case on a coarse
grid, from θ = 0 to the acceptance, and its figure."""

import numpy as np
import pytest
from PIL import Image

from meanfield_resnet import datasets, io, plotting, regression_training
from meanfield_resnet.settings import ConfigError, validate_config

SMALL = {"cells": 16, "max_iterations": 15}  # identity, T = 5, one segment, target (2, 1)


def settings_with(config_dict, regression):
    config_dict["training"]["regression"] = dict(regression)
    return validate_config(config_dict)


@pytest.fixture(scope="module")
def trained(test_config_dict):
    import copy

    settings = settings_with(copy.deepcopy(test_config_dict), SMALL)
    regression = datasets.regression_dataset(settings)
    return settings, regression_training.train_regression(settings, regression)


def test_training_reaches_the_target(trained):
    """The loss falls below 1e-2 of its start and sqrt(J) below the required distance (0.1);
    the record: one loss, θ and |dJ/dθ| per iteration, the start first (θ = 0)."""
    settings, ds = trained
    loss = ds["loss"].values
    print("J", loss[0], "->", float(ds.final_loss), "sqrt(J)", ds.attrs["rms_distance"],
          "|mean - target|", ds.attrs["mean_distance"], ds.attrs["message"])  # fmt: skip
    assert ds.attrs["accepted"] == 1
    assert float(ds.final_loss) <= 1e-2 * ds.attrs["initial_loss"]
    assert np.sqrt(float(ds.final_loss)) <= 0.1 == ds.attrs["required_distance"]
    assert ds.attrs["mean_distance"] <= ds.attrs["rms_distance"]  # |m - x*|² <= J
    assert loss[0] == ds.attrs["initial_loss"] and np.all(ds["gradient_norm"].values > 0)
    assert np.all(ds["weight"].values[0] == 0) and np.all(ds["bias"].values[0] == 0)
    assert ds.sizes["iteration"] <= SMALL["max_iterations"] + 1
    # the last recorded iterate is the trained θ, and its loss the final one
    np.testing.assert_array_equal(ds["weight"].values[-1], ds["final_weight"].values)
    assert loss[-1] == pytest.approx(float(ds.final_loss), rel=1e-12)
    # the density at T is the trained law: its mean within mean_distance of the target
    assert ds["mass"].values == pytest.approx(1.0, abs=1e-12)
    mean = ds["mean"].values
    assert np.linalg.norm(mean - [2.0, 1.0]) == pytest.approx(ds.attrs["mean_distance"])


def test_initial_loss_is_the_law_of_the_data(trained):
    """J(θ = 0) = |m_0 - x*|² + tr C_0: the identity network leaves the law where it is.
    Against the samples' moments, plus what the discretisation adds: the KDE's bandwidth²
    per axis, and h²/6 per axis from the exact cell averages read as piecewise constant
    (h²/12 from the cell centres' spread, h²/12 inside the cells), up to O(h⁴)."""
    settings, ds = trained
    setup = regression_training.RegressionSetup.from_config(settings)
    law = setup.law(datasets.regression_dataset(settings))
    samples = law.samples
    frame = setup.vlasov_frame(law)
    h = (frame.upper - frame.lower) / setup.cells
    mean, var = samples.mean(axis=0), samples.var(axis=0) + law.bandwidth**2 + h**2 / 6
    expected = ((mean - [2.0, 1.0]) ** 2).sum() + var.sum()
    assert ds.attrs["initial_loss"] == pytest.approx(expected, rel=5e-3)


def test_the_figure_draws_the_training(trained, tmp_path):
    _, ds = trained
    path = tmp_path / "regression.nc"
    io.write(ds, path)
    data = regression_training.figure_dataset(io.read(path))
    assert set(data.data_vars) == {"loss", "gradient_norm", "density", "target", "final_loss"}
    png, pdf = tmp_path / "f.png", tmp_path / "f.pdf"
    plotting.save(plotting.training_regression(data), png, pdf, description="caption")
    assert Image.open(png).info["Description"] == "caption" and pdf.stat().st_size > 10_000


def test_tanh_training_runs_and_descends(test_config_dict):
    """σ = tanh by config (the adjoint's flow by RK4): a few iterations lower the loss."""
    import copy

    settings = settings_with(copy.deepcopy(test_config_dict),
                             {"activation": "tanh", "cells": 12, "max_iterations": 3})  # fmt: skip
    ds = regression_training.train_regression(settings, datasets.regression_dataset(settings))
    assert ds.attrs["activation"] == "tanh"
    assert float(ds.final_loss) < 0.5 * ds.attrs["initial_loss"]


def test_segments_and_bad_settings_are_refused(config_dict):
    segments = regression_training.segments_from(np.arange(12.0), [2.5])
    np.testing.assert_array_equal(segments[1].weight, [[6.0, 7.0], [8.0, 9.0]])
    np.testing.assert_array_equal(segments[1].bias, [10.0, 11.0])
    assert segments[0].until == 2.5 == segments[1].start
    with pytest.raises(ValueError, match="6 per segment"):
        regression_training.segments_from(np.zeros(5), [])
    with pytest.raises(ValueError, match="switch times"):
        regression_training.segments_from(np.zeros(12), [])
    with pytest.raises(ConfigError, match=r"training\.regression\.domain\.1"):
        settings_with(config_dict, {"frame": "fixed", "domain": [[-3.0, 5.0], [2.0, 4.0]]})
    with pytest.raises(ConfigError, match=r"training\.regression\.activation"):
        settings_with(config_dict, {"activation": "sigmoid"})
