"""The vectorisable tanh/expm1 used in every kernel against numpy's libm versions."""

import numpy as np
import pytest

from meanfield_resnet import activations
from meanfield_resnet._jit import jit


@jit
def _apply_tanh(y, out):
    for i in range(y.size):
        out[i] = activations.tanh(y[i])


@jit
def _apply_expm1(a, out):
    for i in range(a.size):
        out[i] = activations.expm1_nonpositive(a[i])


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
