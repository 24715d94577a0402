"""Backpropagation through the 1-D network (src/meanfield_resnet/backprop.py)."""

import numpy as np
import pytest

from meanfield_resnet import backprop, losses, network
from meanfield_resnet.activations import ACTIVATIONS
from meanfield_resnet.distributions import Distribution
from meanfield_resnet.settings import Segment

BUMP = Distribution("gaussian", mean_=np.array([0.5]), std=np.array([0.4]))


def segments_of(theta, until=(0.4, 0.9, np.inf)):
    """Segments from the flat parameters (w_0, b_0, w_1, b_1, ...)."""
    theta = np.asarray(theta, dtype=float).reshape(-1, 2)
    starts = (0.0, *until[:-1])
    return tuple(
        Segment(s, u, np.array([[w]]), np.array([b]))
        for (w, b), s, u in zip(theta, starts, until[: len(theta)], strict=True)
    )


def network_loss(theta, x0, activation, final_time, layers, loss, weights=None, labels=None):
    x = network.simulate(
        x0[:, None], activation, segments_of(theta), final_time, layers, np.array([layers])
    )[-1, :, 0]
    return loss.empirical_value(x, weights, labels)


def central_differences(fun, theta, h=1e-5):
    out = np.empty(theta.size)
    for j in range(theta.size):
        e = np.zeros(theta.size)
        e[j] = h * max(1.0, abs(theta[j]))
        out[j] = (fun(theta + e) - fun(theta - e)) / (2 * e[j])
    return out


THETA = np.array([-0.7, 1.3, 0.4, -0.2, 1.1, 0.6])


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("kind", ["classification", "energy", "variance"])
def test_backprop_equals_central_differences(activation, kind):
    rng = np.random.default_rng(11)
    x0 = rng.uniform(2.0, 8.0, 200) if kind == "classification" else BUMP.sample(rng, 200)[:, 0]
    weights, labels = rng.random(200) / 100, None
    if kind == "classification":
        loss = losses.Classification()
        labels = loss.labels(x0)
        x0 = x0 - 5.0  # data centred on the threshold's image under θ's first segment
        loss = losses.Classification(thresholds=(0.0,))
    elif kind == "energy":
        loss = losses.EnergyDistance(
            Distribution("uniform", low=np.array([-1.0]), high=np.array([1.5]))
        )
    else:
        loss = losses.Variance()
    final_time, layers = 1.5, 30
    segs = segments_of(THETA)
    grad = backprop.gradient(x0, activation, segs, final_time, layers, loss, weights, labels)
    fd = central_differences(
        lambda th: network_loss(th, x0, activation, final_time, layers, loss, weights, labels),
        THETA,
    )
    assert grad.value == pytest.approx(
        network_loss(THETA, x0, activation, final_time, layers, loss, weights, labels), rel=1e-14
    )
    scale = np.abs(fd).max()
    print(activation, kind, grad.flat, np.abs(grad.flat - fd).max() / scale)
    assert np.abs(grad.flat - fd).max() <= 1e-7 * scale


def test_input_gradient_and_thread_independence():
    """∂J/∂x_i^0 against differences in one input; the tiles' sums in a fixed order."""
    rng = np.random.default_rng(12)
    x0 = BUMP.sample(rng, 1000)[:, 0]
    loss = losses.Quadratic(0.2)
    grad = backprop.gradient(x0, "tanh", segments_of(THETA), 1.5, 30, loss)
    h = 1e-6
    for i in (3, 500, 999):
        e = np.zeros_like(x0)
        e[i] = h
        fd = (
            network_loss(THETA, x0 + e, "tanh", 1.5, 30, loss)
            - network_loss(THETA, x0 - e, "tanh", 1.5, 30, loss)
        ) / (2 * h)
        assert fd == pytest.approx(grad.inputs[i], rel=1e-6)
    import numba

    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = backprop.gradient(x0, "tanh", segments_of(THETA), 1.5, 30, loss)
    finally:
        numba.set_num_threads(threads)
    assert np.array_equal(serial.flat, grad.flat)


def test_layers_take_their_segments_parameters():
    segs = segments_of(THETA)
    w, b, index = backprop.layer_segments(segs, 30, 1.5)
    weights, biases = network.layer_parameters(segs, 30, 1.5)
    assert np.array_equal(w, weights[:, 0, 0]) and np.array_equal(b, biases[:, 0])
    assert index.tolist() == [0] * 8 + [1] * 10 + [2] * 12
    # a segment without layers gets a zero gradient
    grad = backprop.gradient(np.array([0.1, 0.2]), "tanh", segs, 0.3, 3, losses.Mean())
    assert grad.weight[1:].tolist() == [0.0, 0.0] and grad.weight[0] != 0.0


def expected_gradient(activation, segs, final_time, layers, loss, law, nodes=200):
    """E[particle gradient] = ∫ (the gradient of one point's loss) f_0 dx_0 for f_0 uniform,
    by Gauss-Legendre quadrature on each class interval (the integrand is smooth there):
    the backprop kernel with the quadrature weights as the points' weights."""
    lo, hi = law.low[0], law.high[0]
    cuts = [lo, *[c for c in getattr(loss, "thresholds", ()) if lo < c < hi], hi]
    xg, wg = np.polynomial.legendre.leggauss(nodes)
    x = np.concatenate(
        [0.5 * (a + b) + 0.5 * (b - a) * xg for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    )
    w = np.concatenate(
        [0.5 * (b - a) * wg / (hi - lo) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    )
    labels = loss.labels(x) if hasattr(loss, "labels") else None
    return backprop.gradient(x, activation, segs, final_time, layers, loss, w, labels)


VEHICLES = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
NETWORK = np.array([0.8, -4.2, 0.5, 0.3])  # (w_0, b_0, w_1, b_1), switch at t = 0.4


def test_particle_gradient_converges_at_the_monte_carlo_rate():
    """Classification loss from the vehicles' law U[2, 8]: the particle gradient of M points
    against its exact expectation (the discrete network's gradient averaged over f_0 by
    quadrature, so no Euler bias enters): log-log slope of the mean error -1/2 ± 0.1."""
    loss = losses.Classification()
    segs = segments_of(NETWORK, until=(0.4, np.inf))
    final_time, layers = 1.0, 10
    reference = expected_gradient("tanh", segs, final_time, layers, loss, VEHICLES).flat
    # the quadrature has converged
    coarse = expected_gradient("tanh", segs, final_time, layers, loss, VEHICLES, 100).flat
    assert np.abs(coarse - reference).max() < 1e-12 * np.abs(reference).max()
    counts = np.round(10 ** np.arange(3.0, 6.01, 0.5)).astype(int)
    seeds = 8
    errors = np.empty((counts.size, seeds))
    for i, m in enumerate(counts):
        for s in range(seeds):
            rng = np.random.default_rng(np.random.SeedSequence([20220407, 31, int(m), s]))
            x0 = VEHICLES.sample(rng, int(m))[:, 0]
            grad = backprop.gradient(
                x0, "tanh", segs, final_time, layers, loss, labels=loss.labels(x0)
            )
            errors[i, s] = np.linalg.norm(grad.flat - reference) / np.linalg.norm(reference)
    mean = errors.mean(axis=1)
    fit = np.polyfit(np.log(counts), np.log(mean), 1)
    from meanfield_resnet.studies import fit_power_law

    ci = fit_power_law(np.repeat(counts[:, None], seeds, axis=1).astype(float), errors)
    print("relative errors", mean, "slope", fit[0], ci)
    assert abs(fit[0] + 0.5) <= 0.1


def test_expected_particle_gradient_converges_to_the_mean_field_gradient():
    """The Euler bias: the discrete network's expected gradient (quadrature over f_0)
    against the mean-field adjoint gradient (fine grid) falls at first order in the layers."""
    from meanfield_resnet import adjoint, vlasov

    law = Distribution("uniform", low=np.array([-1.0]), high=np.array([2.0]))
    loss = losses.Quadratic(0.3)
    segs = segments_of(NETWORK[[0, 1, 2, 3]] * [1, 0.1, 1, 1], until=(0.4, np.inf))
    frame = vlasov.Frame(np.array([-1.0]), np.array([2.0]), (400,), True)
    mean_field = adjoint.gradient(vlasov.VlasovProblem("tanh", segs, None, frame), law, loss, 1.0)
    errors = []
    layers = np.array([20, 40, 80, 160])
    for n in layers:
        grad = expected_gradient("tanh", segs, 1.0, int(n), loss, law)
        errors.append(np.linalg.norm(grad.flat - mean_field.flat) / np.linalg.norm(mean_field.flat))
    orders = np.log2(np.array(errors[:-1]) / errors[1:])
    print("Euler bias", errors, orders, mean_field.flat)
    assert np.all(np.abs(orders - 1.0) < 0.1)
