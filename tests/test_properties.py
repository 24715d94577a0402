"""Property-based tests: random admissible parameters keep mass, positivity, finiteness."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from meanfield_resnet import diffusion, fokker_planck, vlasov
from meanfield_resnet.activations import ACTIVATIONS
from meanfield_resnet.distributions import Distribution
from meanfield_resnet.settings import constant_segments

finite = dict(allow_nan=False, allow_infinity=False)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    activation=st.sampled_from(ACTIVATIONS),
    w=st.floats(-2.0, 2.0, **finite),
    b=st.floats(-3.0, 3.0, **finite),
    mean=st.floats(-2.0, 2.0, **finite),
    std=st.floats(0.05, 2.0, **finite),
    cells=st.integers(16, 120),
    t=st.floats(0.05, 2.0, **finite),
)
def test_vlasov_keeps_mass_positivity_and_finiteness(activation, w, b, mean, std, cells, t):
    law = Distribution("gaussian", mean_=np.array([mean]), std=np.array([std]))
    box = law.support()
    frame = vlasov.Frame.from_box(box, cells)
    seg = constant_segments(w, b)
    sol = vlasov.solve(
        vlasov.VlasovProblem(activation, seg, None, frame),
        law.cell_probabilities([frame.edges(0)]),
        [0.0, t],
    )
    assert np.all(np.isfinite(sol.density))
    assert np.all(np.abs(sol.mass - 1.0) < 1e-12)
    assert sol.density.min() >= -1e-14 * sol.density.max()


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    w=st.floats(-2.0, -0.1, **finite),
    b=st.floats(-2.0, 2.0, **finite),
    k=st.floats(0.01, 2.0, **finite),
    dt=st.floats(0.001, 0.5, **finite),
    theta=st.sampled_from([0.5, 0.75, 1.0]),
)
def test_fokker_planck_keeps_mass_and_finiteness(w, b, k, dt, theta):
    law = Distribution("uniform", low=np.array([-1.0]), high=np.array([1.0]))
    problem = fokker_planck.FokkerPlanckProblem(
        "identity", constant_segments(w, b), diffusion.constant(k), 200, time_step=dt, theta=theta
    )
    sol = fokker_planck.solve(problem, law, [0.0, 1.0])
    assert np.all(np.isfinite(sol.density))
    assert np.all(np.abs(sol.mass - 1.0) < 1e-12)
    assert sol.density.min() >= 0.0
