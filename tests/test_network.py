"""The ResNet (explicit Euler of the neural ODE) and its stochastic variant."""

import numba
import numpy as np
import pytest

from conftest import observed_orders
from meanfield_resnet import diffusion, exact, network
from meanfield_resnet._jit import set_threads
from meanfield_resnet.activations import ACTIVATIONS, activation_code
from meanfield_resnet.settings import Segment, constant_segments


def segments(w, b, d=1):
    return constant_segments(w, b, d)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_layers_converge_at_first_order_to_the_characteristics(activation):
    w, b, t = (0.8, -0.5, 1.0)
    x0 = np.linspace(-2.0, 3.0, 41)[:, None]
    exact_end = exact.characteristic(activation, w, b, x0[:, 0], t)
    layers = [20, 40, 80, 160, 320]
    errors = [
        np.abs(
            network.simulate(x0, activation, segments(w, b), t, L, np.array([L]))[-1, :, 0]
            - exact_end
        ).max()
        for L in layers
    ]
    orders = observed_orders([t / L for L in layers], errors)
    print(activation, errors, orders)
    assert np.all(np.abs(orders - 1.0) < 0.1)


def test_feedback_bias_mean_and_variance():
    """b = -m1/m0: mean ~ μ0 e^{(w-1)t}, variance ~ V0 e^{2wt} (exact for the Euler layers:
    mean factor (1 + dt (w-1))^k, variance factor (1 + dt w)^{2k})."""
    rng = np.random.default_rng(1)
    x0 = rng.uniform(2, 8, (20000, 1))
    w, t, layers = -1.0, 2.0, 2000
    out = network.simulate(
        x0, "identity", segments(w, 0.0), t, layers, np.array([0, layers]), feedback=-1.0
    )
    mean0, var0 = x0.mean(), x0.var()
    ex = exact.identity_moments(mean0, var0, w, 0.0, t, feedback=-1.0)
    assert out[-1].mean() == pytest.approx(ex["mean"], rel=1e-2)  # Euler error ~ t (w-1)^2 dt
    assert out[-1].var() == pytest.approx(ex["variance"], rel=1e-2)  # Euler error ~ t (w-1)^2 dt
    dt = t / layers
    assert out[-1].mean() == pytest.approx(mean0 * (1 + dt * (w - 1)) ** layers, rel=1e-10)
    assert out[-1].var() == pytest.approx(var0 * (1 + dt * w) ** (2 * layers), rel=1e-9)


def test_stochastic_network_matches_ornstein_uhlenbeck_moments():
    rng = np.random.default_rng(7)
    m, w, b, k, t, layers = 100_000, -1.0, 0.5, 1.0, 1.0, 400
    x0 = rng.uniform(2, 8, (m, 1))
    out = network.simulate(
        x0,
        "identity",
        segments(w, b),
        t,
        layers,
        np.array([layers]),
        diffusion=diffusion.constant(k),
        rng=rng,
    )[-1, :, 0]
    ex = exact.ou_moments(5.0, 3.0, w, b, k, t)
    se_mean = np.sqrt(ex["variance"] / m)
    se_var = ex["variance"] * np.sqrt(2.0 / m) * 1.5
    bias_dt = 2 * t / layers  # Euler-Maruyama weak error O(dt)
    assert abs(out.mean() - ex["mean"]) < 3 * se_mean + bias_dt * abs(ex["mean"])
    assert abs(out.var() - ex["variance"]) < 3 * se_var + bias_dt * ex["variance"]


def test_same_seed_same_numbers():
    def run():
        rng = np.random.default_rng(3)
        x0 = rng.normal(size=(1000, 2))
        return network.simulate(
            x0,
            "tanh",
            segments(0.5, 0.1, 2),
            1.0,
            50,
            np.array([50]),
            diffusion=diffusion.constant(0.3),
            rng=rng,
        )

    np.testing.assert_array_equal(run(), run())


def _stochastic_run(m, record, feedback=None, threads=2, seed=9):
    """The tanh network with K(x) = 0.2 + 0.1 x² on the first m of 1500 fixed data."""
    x0 = np.random.default_rng(5).normal(size=(1500, 2))[:m]
    set_threads(threads)
    try:
        return network.simulate(
            x0,
            "tanh",
            segments(0.7, 0.0, 2),
            1.0,
            20,
            np.asarray(record),
            feedback=feedback,
            diffusion=diffusion.Diffusion(diffusion.POLYNOMIAL, np.array([0.2, 0.0, 0.1])),
            rng=np.random.default_rng(seed),
        )
    finally:
        set_threads(numba.config.NUMBA_NUM_THREADS)


def test_stochastic_paths_independent_of_threads_particles_and_chunks():
    """Particle i's path depends on the seed and its own data only: not on the threads, the
    number of particles, the layers recorded (kernel calls over different layer ranges) or
    the per-layer path the feedback bias takes (feedback 0 gives the bias b = 0)."""
    ref = _stochastic_run(1500, [20])
    np.testing.assert_array_equal(_stochastic_run(1500, [20], threads=1), ref)
    np.testing.assert_array_equal(_stochastic_run(1027, [20])[:, :1027], ref[:, :1027])
    np.testing.assert_array_equal(_stochastic_run(3, [20])[:, :3], ref[:, :3])
    np.testing.assert_array_equal(_stochastic_run(1500, [0, 1, 7, 20])[-1], ref[-1])
    np.testing.assert_array_equal(_stochastic_run(1500, [20], feedback=0.0), ref)
    assert not np.array_equal(_stochastic_run(1500, [20], seed=10), ref)


def test_kernels_agree_with_their_python_selves():
    rng = np.random.default_rng(0)
    w = np.array([[[0.5, -0.2], [0.3, -1.0]]] * 5)
    b = np.array([[0.1, -0.3]] * 5)
    for name in ACTIVATIONS:
        x = rng.normal(size=(300, 2))
        y = x.copy()
        network.advance_deterministic(x, activation_code(name), w, b, 0.1, 0, 5)
        network.advance_deterministic.py_func(y, activation_code(name), w, b, 0.1, 0, 5)
        np.testing.assert_allclose(x, y, rtol=1e-14, atol=1e-14)
        for k in (
            diffusion.Diffusion(diffusion.POLYNOMIAL, np.array([0.2, 0.1])),
            diffusion.constant(0.3),
            diffusion.Diffusion(diffusion.TABLE, np.array([0.1, 0.5, 0.2]), x0=-1.0, dx=1.0),
        ):
            key = np.uint64(2**63 + 11)
            network.advance_stochastic(x, activation_code(name), w, b, 0.1, 1, 4, key, *k.args)
            network.advance_stochastic.py_func(
                y, activation_code(name), w, b, 0.1, 1, 4, key, *k.args
            )
            np.testing.assert_allclose(x, y, rtol=1e-14, atol=1e-14)


def test_piecewise_constant_parameters_switch_at_the_right_layer():
    segs = (
        Segment(0.0, 1.0, np.eye(1) * 0.0, np.array([1.0])),
        Segment(1.0, np.inf, np.eye(1) * 0.0, np.array([-2.0])),
    )
    out = network.simulate(np.zeros((3, 1)), "identity", segs, 2.0, 40, np.array([20, 40]))
    np.testing.assert_allclose(out[:, 0, 0], [1.0, -1.0], atol=1e-12)
