"""The compiled moving-frame steps: σ's closed-form flows and the matrix exponential that move
the box edges, and the driver's independence of how its steps are cut into calls."""

import numpy as np
import pytest
from scipy.linalg import expm
from scipy.special import lambertw

from meanfield_resnet import activations, moving_frame, vlasov
from meanfield_resnet._jit import jit
from meanfield_resnet.distributions import Distribution
from meanfield_resnet.settings import Segment


@jit
def _closed_flows(code, y0, s, out):
    for i in range(y0.size):
        out[i] = activations.closed_flow(code, y0[i], s)


@jit
def _lambertw_of_exp(values, out):
    for i in range(values.size):
        out[i] = activations.lambertw_of_exp_scalar(values[i])


@pytest.mark.parametrize("entry", activations.REGISTRY, ids=lambda a: a.name)
@pytest.mark.parametrize("s", [-2.1, -0.4, 0.3, 1.9])
def test_compiled_closed_flow_is_the_registry_flow(entry, s):
    """Every activation's compiled flow equals its registry flow to round-off; NaN where the
    registry has no closed form (the solver then integrates the edges in its stages)."""
    y0 = np.concatenate([np.linspace(-30, 30, 601), [-1e-9, 0.0, 1e-9]])
    out = np.empty_like(y0)
    code = activations.activation_code(entry.name)
    _closed_flows(code, y0, s, out)
    if entry.flow is None:
        assert np.all(np.isnan(out))
        return
    expected = entry.flow(y0, s)
    # both forms round alike: to a few ulps of the terms they combine (the sigmoid's form
    # y - e^-y + s cancels e^-y, large for y0 << 0)
    terms = np.abs(y0) + np.abs(expected) + abs(s) + 1.0
    if entry.name == "sigmoid":
        terms += np.exp(-y0)
    assert np.all(np.abs(out - expected) <= 8 * np.finfo(float).eps * terms)


def test_lambert_w_of_an_exponential_against_scipy():
    """W0(e^L) from L = -700 (w ~ e^L) to 1e6 (where e^L overflows: w + ln w = L checked
    directly)."""
    small = np.concatenate([np.linspace(-700, 600, 5001), [-1e-12, 0.0, 1e-12]])
    out = np.empty_like(small)
    _lambertw_of_exp(small, out)
    np.testing.assert_allclose(out, np.real(lambertw(np.exp(small))), rtol=4e-15, atol=0)
    large = np.logspace(2.8, 6, 200)
    out = np.empty_like(large)
    _lambertw_of_exp(large, out)
    np.testing.assert_allclose(out + np.log(out), large, rtol=2e-16 * 4, atol=0)


@pytest.mark.parametrize("norm", [1e-4, 0.05, 0.7, 6.0, 40.0])
def test_small_matrix_exponential_against_scipy(norm):
    """exp(X) of the box edges' linear flow (sizes 3 to 7) to within a few ulps of its
    largest entry times 2^squarings, as scipy's Padé form."""
    rng = np.random.default_rng(11)
    for size in (3, 5, 7):
        x = rng.normal(size=(size, size))
        x *= norm / np.abs(x).sum(axis=1).max()
        exact = expm(x)
        got = moving_frame.expm_small(x)
        squarings = max(0, int(np.ceil(np.log2(norm / 0.5))))
        bound = 64 * np.finfo(float).eps * 2.0**squarings * np.abs(exact).max()
        assert np.abs(got - exact).max() <= bound


def _solve(activation, d, feedback, times):
    law = Distribution("gaussian", mean_=np.full(d, 0.3), std=np.full(d, 0.45))
    weight = np.array([[-0.9, 0.5], [-0.3, 0.4]])[:d, :d]
    segments = (
        Segment(0.0, 0.4, weight, np.full(d, 0.7)),
        Segment(0.4, np.inf, -weight.T, np.full(d, -0.4)),
    )
    frame = vlasov.Frame.from_box(law.support(), (40,) * d)
    problem = vlasov.VlasovProblem(activation, segments, feedback, frame)
    masses = law.cell_probabilities([frame.edges(r) for r in range(d)])
    return vlasov.solve(problem, masses, times)


@pytest.mark.parametrize(
    ("activation", "d", "feedback"),
    [("sigmoid", 1, None), ("softplus", 1, -0.6), ("identity", 2, -0.6), ("tanh", 2, None)],
)
def test_steps_do_not_depend_on_how_they_are_cut_into_calls(activation, d, feedback, monkeypatch):
    """One compiled call per output interval, or one call per step (CHUNK = 1), with an
    output time and a parameter switch between steps: the same bits."""
    times = [0.0, 0.25, 1.6]
    whole = _solve(activation, d, feedback, times)
    monkeypatch.setattr(vlasov, "CHUNK", 1)
    stepwise = _solve(activation, d, feedback, times)
    assert whole.steps[-1] == stepwise.steps[-1] > 5
    np.testing.assert_array_equal(whole.density, stepwise.density)
    np.testing.assert_array_equal(whole.lower, stepwise.lower)
    np.testing.assert_array_equal(whole.upper, stepwise.upper)


def test_a_collapsing_box_is_refused_with_its_cause():
    """w = -1 around the rest point x = 1: the support shrinks as e^-t until its width falls
    below the round-off of its position, which the solver refuses instead of returning a
    density on a degenerate grid."""
    law = Distribution("uniform", low=np.array([0.0]), high=np.array([2.0]))
    frame = vlasov.Frame.from_box(law.support(), 40)
    segments = (Segment(0.0, np.inf, np.array([[-1.0]]), np.array([1.0])),)
    problem = vlasov.VlasovProblem("identity", segments, None, frame)
    with pytest.raises(FloatingPointError, match="grid box collapsed"):
        vlasov.solve(problem, law.cell_probabilities([frame.edges(0)]), [0.0, 60.0])
