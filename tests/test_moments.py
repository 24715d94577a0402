"""Moments keep their digits for laws contracted far below their size or distance from 0."""

import numpy as np
import pytest

from meanfield_resnet.distributions import Distribution
from meanfield_resnet.moments import grid_moments, particle_moments

CONTRACTION = np.exp(-20.0)


@pytest.mark.parametrize("offset", [0.0, 3.0e-8])
def test_grid_moments_of_a_contracted_uniform_law(offset):
    """U[2, 8] contracted by e^-20 (and shifted): on a grid whose faces include the ends of
    its support, the cell averages of a uniform law give its mean (a1 + a2)/2 and variance
    (a2 - a1)²/12."""
    low, high = 2.0 * CONTRACTION + offset, 8.0 * CONTRACTION + offset
    law = Distribution("uniform", low=np.array([low]), high=np.array([high]))
    edges = low + (high - low) * np.arange(-90, 311) / 280
    density = law.cell_probabilities([edges]) / np.diff(edges)
    m = grid_moments(density, edges)
    mean, var = 0.5 * (low + high), (high - low) ** 2 / 12.0
    assert abs(m["mean"] / mean - 1) < 1e-10
    assert abs(m["variance"] / var - 1) < 1e-10
    assert abs(m["energy"] / (var + mean**2) - 1) < 1e-10


def test_particle_moments_of_a_contracted_cloud():
    """A cloud y contracted to x = c + ε y: mean c + ε ȳ and variance ε² Var(y), with ȳ and
    Var(y) from the unscaled cloud (where nothing cancels)."""
    y = np.random.default_rng(3).uniform(-1.0, 1.0, 10**6)
    for centre in (0.0, 5.0 * CONTRACTION, 1.0):
        x = centre + CONTRACTION * y
        m = particle_moments(x)
        var = CONTRACTION**2 * y.var()
        assert abs(m["variance"] / var - 1) < (1e-10 if centre < 1 else 1e-6)
        assert abs(m["mean"] - (centre + CONTRACTION * y.mean())) < 1e-15 * max(centre, 1e-8)
