"""Training on the density (src/meanfield_resnet/training_study.py) on the tiny .test
setting: the per-iteration record, the padding, the accuracy, the gradient study."""

import numpy as np
import pytest

from meanfield_resnet import datasets, io, plotting, settings, training, training_study


@pytest.fixture(scope="module")
def runs(test_config_dict, tmp_path_factory):
    config = settings.validate_config(test_config_dict)
    vehicles = datasets.vehicles_dataset(config)
    trained = training_study.train_vehicles(config, vehicles)
    gradient = training_study.gradient_convergence(config, trained)
    agreement = training_study.parameter_agreement(config)
    return config, vehicles, trained, gradient, agreement


def test_training_records_every_iteration(runs):
    config, vehicles, ds, _, _ = runs
    setup = training_study.TrainingSetup.from_config(config)
    names = ["mean_field", *(f"particles_{m}" for m in setup.particles)]
    assert ds.objective.values.tolist() == names
    assert (
        ds.sizes["segment"] == setup.segments and ds.sizes["vehicle"] == vehicles.sizes["vehicle"]
    )
    for name in names:
        sub = ds.sel(objective=name)
        valid = np.isfinite(sub.loss.values)
        count = int(valid.sum())
        # one record per iteration, then NaN padding; the iterates descend from θ = 0
        assert valid[:count].all() and not valid[count:].any()
        assert 1 < count <= setup.max_iterations + 1
        loss = sub.loss.values[:count]
        assert np.all(np.diff(loss) <= 1e-12 * loss[0]) and loss[-1] < loss[0] / 10
        assert np.all(sub.weight.values[0] == 0) and np.all(sub.bias.values[0] == 0)
        assert np.isfinite(sub.gradient_norm.values[:count]).all()
        assert np.all(np.abs(sub.final_weight) <= setup.max_weight)
        assert np.all(np.abs(sub.final_bias) <= setup.max_bias)
        assert float(sub.final_loss) == pytest.approx(loss[-1], rel=1e-12)
        assert 0.0 <= float(sub.accuracy) <= 1.0
    # θ = 0 moves nothing: the mean-field loss of U[2, 8] is E(x - y_c)² = 26 up to the grid
    assert float(ds.loss.sel(objective="mean_field", iteration=0)) == pytest.approx(26.0, rel=1e-2)
    # the recorded gradient norm is the objective's gradient at the recorded θ
    name = names[-1]
    sub = ds.sel(objective=name, iteration=2)
    theta = np.stack([sub.weight.values, sub.bias.values], axis=1).ravel()
    value, grad = training_study.particle_objective(setup, setup.particles[-1])(theta)
    assert value == pytest.approx(float(sub.loss), rel=1e-12)
    assert np.linalg.norm(grad) == pytest.approx(float(sub.gradient_norm), rel=1e-12)
    # the trajectories start at the lengths and are the mean-field-trained network's
    assert np.array_equal(ds.state.isel(time=0).values, vehicles["length"].values)
    assert ds.time.values[-1] == pytest.approx(setup.final_time)


def test_gradient_study_against_the_two_references(runs):
    config, _, trained, ds, _ = runs
    setup = training_study.TrainingSetup.from_config(config)
    assert ds.gradient_distance.shape == (len(setup.gradient_particles), setup.gradient_seeds)
    assert np.all(ds.gradient_distance > 0) and np.all(ds.mean_field_distance > 0)
    for key in ("slope", "slope_ci_low", "slope_ci_high", "euler_bias"):
        assert np.isfinite(ds.attrs[key])
    assert ds.attrs["slope_ci_low"] <= ds.attrs["slope"] <= ds.attrs["slope_ci_high"]
    # the references differ by the Euler bias of the layers (and the grid's error)
    bias = np.linalg.norm(ds.expected_gradient.values - ds.mean_field_gradient.values)
    assert ds.attrs["euler_bias"] == pytest.approx(bias) and bias > 0
    # the gradients are taken at the mean-field-trained θ
    mf = trained.sel(objective="mean_field")
    assert np.array_equal(ds.theta.values[0::2], mf.final_weight.values)
    # the expected gradient is the many-sample limit of the particle gradient
    x = setup.samples(200000, 99)
    loss = setup.loss
    theta = ds.theta.values
    big = training_study.backprop.gradient(
        x, setup.activation, setup.segments_of(theta), setup.final_time, setup.layers, loss,
        labels=loss.labels(x),
    ).flat  # fmt: skip
    assert np.linalg.norm(big - ds.expected_gradient.values) < ds.gradient_distance.values.mean()


def test_figure_data_and_drawing(runs, tmp_path):
    _, _, trained, gradient, agreement = runs
    fig_ds = training_study.figure_dataset(trained, gradient, agreement)
    io.write(fig_ds, tmp_path / "training.nc", missing_ok=True)
    io.write(trained, tmp_path / "vehicles.nc", missing_ok=True)
    io.write(gradient, tmp_path / "gradient.nc")
    drawn = io.read(tmp_path / "training.nc")
    plotting.save(plotting.training(drawn), tmp_path / "t.png", tmp_path / "t.pdf")
    assert (tmp_path / "t.png").stat().st_size > 0


def test_train_records_the_accepted_iterates():
    """On a quadratic, the record holds θ_0 and every iterate with its exact gradient norm."""
    target = np.array([1.0, -2.0, 0.5])

    def objective(theta):
        return float(((theta - target) ** 2).sum()), 2.0 * (theta - target)

    result = training.train(objective, np.zeros(3))
    thetas = np.array([t for t, _, _ in result.iterations])
    assert np.array_equal(thetas[0], np.zeros(3))
    for theta, value, norm in result.iterations:
        assert value == pytest.approx(objective(theta)[0], abs=1e-15)
        assert norm == pytest.approx(2.0 * np.linalg.norm(theta - target), abs=1e-15)
    assert np.allclose(thetas[-1], target)


def test_trained_parameters_agree_within_monte_carlo_error(test_config_dict):
    """Mean-field and particle training on one segment (T = 6, not the config's 10): every
    seed's θ_M within 4 Monte-Carlo standard deviations of θ_MF, the deterministic bias
    (Euler, grid) below one, and the seeds' spread of the size the covariance predicts (the
    check would pass trivially with an overestimated sd)."""
    raw = dict(test_config_dict)
    raw["training"] = dict(
        raw["training"],
        final_time=6.0,
        max_iterations=100,
        quadrature_nodes=100,
        mean_field={"cells": 280, "domain": [-5.0, 15.0]},
        agreement={"layers": 400, "cells": 700, "particles": 20000, "seeds": 3, "batches": 50},
    )
    ds = training_study.parameter_agreement(settings.validate_config(raw))
    assert ds.attrs["identifiable"] == 1
    assert ds.sizes["seed"] == 3 and ds.sizes["parameter"] == 2
    assert np.abs(ds.z.values).max() <= 4.0
    assert np.abs(ds.bias_z.values).max() <= 1.0
    ratio = np.asarray(ds.attrs["seed_sd_over_mc_sd"])
    assert np.all((ratio > 0.02) & (ratio < 3.0))
    # the particle minimisers moved off the mean-field start, by about the Monte-Carlo error
    assert np.all(np.abs(ds.particle_theta.values - ds.mean_field_theta.values) > 0)
