"""The vectorisable tanh/expm1 used in every kernel against numpy's libm versions."""

import numpy as np
import pytest

from meanfield_resnet import activations
from meanfield_resnet._jit import fma, jit


@jit
def _apply_tanh(y, out):
    for i in range(y.size):
        out[i] = activations.tanh(y[i])


@jit
def _apply_expm1(a, out):
    for i in range(a.size):
        out[i] = activations.expm1_nonpositive(a[i])


@jit
def _apply_fma(a, b, c, out):
    for i in range(a.size):
        out[i] = fma(a[i], b[i], c[i])


def test_fma_rounds_once_in_scalar_and_vector_code():
    """(1 + u)(1 - u) - 1 = -u² exactly when fused (u = 2^-52); unfused it rounds to 0."""
    u = 2.0**-52
    n = 37  # vector body and scalar remainder
    a, b, c, out = np.full(n, 1 + u), np.full(n, 1 - u), np.full(n, -1.0), np.empty(n)
    _apply_fma(a, b, c, out)
    np.testing.assert_array_equal(out, -(u * u))
    assert (1 + u) * (1 - u) - 1.0 == 0.0


def _grid():
    tiny = np.logspace(-310, 1.5, 4000)
    return np.concatenate([np.linspace(-60, 60, 200_001), tiny, -tiny, [0.0, -0.0]])


def test_tanh_matches_numpy_to_round_off():
    y = _grid()
    out = np.empty_like(y)
    _apply_tanh(y, out)
    ref = np.tanh(y)
    assert np.max(np.abs(out - ref)) <= 6e-16
    nonzero = ref != 0
    assert np.max(np.abs(out - ref)[nonzero] / np.abs(ref[nonzero])) <= 1e-15
    assert np.all(np.abs(out) <= 1.0) and np.array_equal(np.signbit(out), np.signbit(y))


def test_tanh_special_values():
    y = np.array([np.nan, np.inf, -np.inf, 20.0, -20.0])
    out = np.empty_like(y)
    _apply_tanh(y, out)
    assert np.isnan(out[0])
    np.testing.assert_array_equal(out[1:], [1.0, -1.0, 1.0, -1.0])


def test_expm1_relative_accuracy():
    a = -np.concatenate([np.linspace(0, 40, 100_001), np.logspace(-300, 0, 3000)])
    out = np.empty_like(a)
    _apply_expm1(a, out)
    ref = np.expm1(a)
    nonzero = ref != 0
    assert np.max(np.abs(out - ref)[nonzero] / np.abs(ref[nonzero])) <= 5e-16


@pytest.mark.parametrize("name", activations.ACTIVATIONS)
def test_scalar_and_inplace_sigma_agree_with_numpy(name):
    code = activations.activation_code(name)
    y = np.linspace(-30, 30, 10_001)
    buf = y.copy()
    activations.sigma_inplace(code, buf, buf.size)
    scalar = np.array([activations.sigma(code, v) for v in y])
    np.testing.assert_array_equal(buf, scalar)
    np.testing.assert_allclose(buf, activations.sigma_numpy(name, y), rtol=0, atol=1e-15)


@pytest.mark.parametrize("entry", activations.REGISTRY, ids=lambda a: a.name)
def test_derivative_is_that_of_the_function(entry):
    y = np.concatenate([np.linspace(-8, 8, 1601), [-30.0, 30.0]])
    y = y[np.abs(y) > 1e-3]  # away from the kinks of ReLU and leaky ReLU
    h = 1e-6
    numeric = (entry.function(y + h) - entry.function(y - h)) / (2 * h)
    np.testing.assert_allclose(entry.derivative(y), numeric, rtol=1e-7, atol=1e-9)
    assert np.abs(entry.derivative(y)).max() <= entry.slope_bound * (1 + 1e-12)


def _integrated_flow(entry, y0, s):
    from scipy.integrate import solve_ivp

    sol = solve_ivp(lambda _, y: entry.function(y), (0.0, s), y0, method="DOP853",
                    rtol=1e-13, atol=1e-13)  # fmt: skip
    return sol.y[:, -1]


@pytest.mark.parametrize("entry", activations.REGISTRY, ids=lambda a: a.name)
@pytest.mark.parametrize("s", [-1.3, 0.7, 2.5])
def test_characteristic_flow_solves_its_ode(entry, s):
    """y(s) of dy/ds = σ(y), the closed form (or the package's integration) against an
    independent DOP853 integration, forward and backward."""
    y0 = np.array([-4.0, -1.1, -0.2, 0.3, 1.7, 3.0])
    y = activations.flow(entry.name, y0, s)
    np.testing.assert_allclose(y, _integrated_flow(entry, y0, s), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("entry", activations.REGISTRY, ids=lambda a: a.name)
def test_characteristic_flow_is_a_group(entry):
    y0 = np.linspace(-3, 3, 13)
    once = activations.flow(entry.name, y0, 1.5)
    twice = activations.flow(entry.name, activations.flow(entry.name, y0, 0.6), 0.9)
    np.testing.assert_allclose(twice, once, rtol=1e-10, atol=1e-12)
    back = activations.flow(entry.name, once, -1.5)
    np.testing.assert_allclose(back, y0, rtol=1e-10, atol=1e-10)


def test_registry_codes_and_schema_enum():
    from meanfield_resnet.settings import schema

    names = [a.name for a in activations.REGISTRY]
    assert names == list(activations.ACTIVATIONS)
    assert [activations.activation_code(n) for n in names] == list(range(len(names)))
    enum = schema()["$defs"]["experiment"]["properties"]["activation"]["enum"]
    assert enum == names
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        activations.activation_code("swish")


def test_softplus_far_tails():
    """log(1 + e^y) keeps its relative accuracy where e^y underflows 1 + e^y (y << 0) and
    does not overflow for y >> 0."""
    code = activations.activation_code("softplus")
    y = np.array([-700.0, -40.0, -1e-8, 0.0, 40.0, 700.0])
    out = np.array([activations.sigma(code, v) for v in y])
    np.testing.assert_allclose(out, np.logaddexp(0.0, y), rtol=1e-15)


@pytest.mark.parametrize("entry", activations.REGISTRY, ids=lambda a: a.name)
def test_slope_kernel_is_the_registry_derivative(entry):
    """σ' from σ's value (the kernels of backpropagation and of the adjoint's flow) equals
    the registry's numpy σ', away from the kinks."""
    code = activations.activation_code(entry.name)
    y = np.linspace(-12, 12, 2401)
    y = y[np.abs(y) > 1e-9]
    s = entry.function(y)
    out = np.empty_like(y)
    activations.sigma_slope_inplace(code, s, out, y.size)
    np.testing.assert_allclose(out, entry.derivative(y), rtol=1e-12, atol=1e-15)
