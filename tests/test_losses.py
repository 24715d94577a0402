"""Losses on the output law and their first variations (src/meanfield_resnet/losses.py)."""

import numpy as np
import pytest

from meanfield_resnet import losses
from meanfield_resnet.distributions import Distribution

UNIFORM = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
BUMP = Distribution("gaussian", mean_=np.array([0.5]), std=np.array([0.4]))


def random_cells(rng, n, lo=-1.0, hi=2.0):
    edges = np.sort(np.concatenate([[lo, hi], rng.uniform(lo, hi, n - 1)]))
    masses = rng.random(n)
    return edges, masses / masses.sum()


def cell_averages(fun, edges, breaks):
    """Average of a piecewise quadratic ``fun`` over each cell, exactly: the two-point Gauss
    rule on the pieces between the cell edges and the extra breakpoints."""
    out = np.empty(edges.size - 1)
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        z = np.unique(np.concatenate([[a, b], breaks[(breaks > a) & (breaks < b)]]))
        lo, h = z[:-1], np.diff(z)
        s = sum(0.5 * (h * fun(lo + g * h)).sum() for g in losses._GAUSS2)
        out[i] = s / (b - a)
    return out


def brute_energy(fx, fw, gx, gw):
    """2 E|X - Y| - E|X - X'| - E|Y - Y'| for weighted atoms, pair by pair."""
    d = lambda x, wx, y, wy: (np.abs(x[:, None] - y[None, :]) * np.outer(wx, wy)).sum()  # noqa: E731
    return 2 * d(fx, fw, gx, gw) - d(fx, fw, fx, fw) - d(gx, gw, gx, gw)


TARGETS = {
    "cells": lambda rng: losses.CellLaw(*random_cells(rng, 7, -0.5, 2.5)),
    "atoms": lambda rng: losses.empirical(rng.normal(0.7, 0.5, 9)),
    "uniform": lambda rng: UNIFORM,
    "gaussian": lambda rng: BUMP,
}


def test_energy_distance_of_atoms_equals_the_pair_sums():
    rng = np.random.default_rng(1)
    fx, gx = rng.normal(0, 1, 40), rng.normal(0.3, 0.7, 25)
    fw, gw = rng.random(40), rng.random(25)
    fw, gw = fw / fw.sum() * 1.1, gw / gw.sum()  # unequal masses too
    loss = losses.EnergyDistance(losses.AtomLaw(gx, gw))
    assert loss.empirical_value(fx, fw) == pytest.approx(brute_energy(fx, fw, gx, gw), rel=1e-13)


def test_energy_distance_of_cells_equals_fine_atoms_limit():
    """Piecewise-constant laws: the exact value against the pair sums of atoms at many Gauss
    points per cell (converges like the quadrature: checked to 1e-7)."""
    rng = np.random.default_rng(2)
    ef, mf = random_cells(rng, 5)
    eg, mg = random_cells(rng, 4, -0.3, 1.5)

    def atoms(e, m, k=400):
        s = (np.arange(k) + 0.5) / k  # midpoint rule in each cell: O(1/k²)
        x = (e[:-1, None] + np.diff(e)[:, None] * s).ravel()
        return x, np.repeat(m / k, k)

    exact = losses.EnergyDistance(losses.CellLaw(eg, mg)).value(ef, mf)
    approx = brute_energy(*atoms(ef, mf), *atoms(eg, mg))
    assert exact == pytest.approx(approx, rel=1e-6)
    assert exact > 0
    same = losses.EnergyDistance(losses.CellLaw(ef, mf)).value(ef, mf)
    assert abs(same) < 1e-15


def test_energy_distance_to_a_uniform_target_is_exact():
    """E(δ_c, U[a, b]) = 2 E|c - Y| - E|Y - Y'| = 2((c-a)² + (b-c)²)/(2(b-a)) - (b-a)/3."""
    loss = losses.EnergyDistance(UNIFORM)
    c, a, b = 4.0, 2.0, 8.0
    exact = ((c - a) ** 2 + (b - c) ** 2) / (b - a) - (b - a) / 3
    assert loss.empirical_value([c]) == pytest.approx(exact, rel=1e-14)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_energy_variation_against_differences_of_cell_masses(target):
    """J is quadratic in the cell masses, so central differences are exact up to round-off:
    dJ/dm_i = the cell average of δJ/δf, for perturbations that change the mass too."""
    rng = np.random.default_rng(3)
    loss = losses.EnergyDistance(TARGETS[target](rng))
    edges, masses = random_cells(rng, 12)
    g = loss.target_law
    breaks = np.concatenate([g.breakpoints, edges])
    averages = cell_averages(lambda x: loss.variation(x, edges, masses), edges, breaks)
    for _ in range(3):
        dm = rng.normal(size=masses.size) * masses
        eps = 1e-3
        fd = (loss.value(edges, masses + eps * dm) - loss.value(edges, masses - eps * dm)) / (
            2 * eps
        )
        assert fd == pytest.approx((averages * dm).sum(), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    "loss",
    [losses.Quadratic(0.3), losses.Mean(), losses.Variance(), losses.EnergyDistance(BUMP)],
    ids=["quadratic", "mean", "variance", "energy"],
)
def test_variation_and_its_derivative_against_differences(loss):
    rng = np.random.default_rng(4)
    edges, masses = random_cells(rng, 15)
    averages = cell_averages(
        lambda x: loss.variation(x, edges, masses),
        edges,
        np.concatenate([edges, getattr(getattr(loss, "target_law", None), "breakpoints", [])]),
    )
    for _ in range(3):
        dm = rng.normal(size=masses.size) * masses
        eps = 1e-5
        fd = (loss.value(edges, masses + eps * dm) - loss.value(edges, masses - eps * dm)) / (
            2 * eps
        )
        assert fd == pytest.approx((averages * dm).sum(), rel=1e-8, abs=1e-12)
    # ∂_x of the variation: central differences between breakpoints
    x = rng.uniform(-1.5, 2.5, 50)
    h = 1e-6
    fd = (loss.variation(x + h, edges, masses) - loss.variation(x - h, edges, masses)) / (2 * h)
    assert np.allclose(fd, loss.variation_derivative(x, edges, masses), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "loss",
    [losses.Quadratic(0.3), losses.Mean(), losses.Variance(), losses.EnergyDistance(BUMP)],
    ids=["quadratic", "mean", "variance", "energy"],
)
def test_empirical_gradient_against_differences(loss):
    rng = np.random.default_rng(5)
    x, w = rng.normal(0.4, 0.6, 30), rng.random(30) / 25
    grad = loss.empirical_gradient(x, w)
    h = 1e-6
    for i in rng.choice(30, 8, replace=False):
        e = np.zeros(30)
        e[i] = h
        fd = (loss.empirical_value(x + e, w) - loss.empirical_value(x - e, w)) / (2 * h)
        assert fd == pytest.approx(grad[i], rel=1e-6, abs=1e-9)


def test_moments_of_cells_are_exact():
    edges, masses = np.array([2.0, 8.0]), np.array([1.0])
    assert losses.Mean().value(edges, masses) == pytest.approx(5.0, rel=1e-15)
    assert losses.Variance().value(edges, masses) == pytest.approx(3.0, rel=1e-15)
    e = np.linspace(2, 8, 61)
    m = np.full(60, 1 / 60)
    assert losses.Variance().value(e, m) == pytest.approx(3.0, rel=1e-14)
    assert losses.Quadratic(1.0).value(e, m) == pytest.approx(3.0 + 16.0, rel=1e-14)


def test_classification_loss_on_cells_and_points():
    loss = losses.Classification()
    edges = np.linspace(2.0, 8.0, 101)
    parts = loss.initial_masses(UNIFORM, edges)
    assert parts.shape == (2, 100)
    assert parts.sum() == pytest.approx(1.0, rel=1e-14)
    centres = 0.5 * (edges[1:] + edges[:-1])
    assert np.all(parts[0][centres > 5] == 0) and np.all(parts[1][centres < 5] == 0)
    assert parts[0].sum() == pytest.approx(0.5, rel=1e-14)
    # at t = 0: ∫_2^5 (x+1)²/6 + ∫_5^8 (x-1)²/6 dx
    exact = ((6**3 - 3**3) + (7**3 - 4**3)) / 18
    assert loss.value(edges, parts) == pytest.approx(exact, rel=1e-13)
    # a straddling threshold splits its cell's mass exactly
    e2 = np.linspace(2.0, 8.0, 8)
    p2 = loss.initial_masses(UNIFORM, e2)
    assert p2.sum(axis=1) == pytest.approx([0.5, 0.5], rel=1e-14)
    # points: the mean of (x_i - y_i)²; the gradient
    x = np.array([3.0, 4.9, 5.0, 5.1, 7.0])
    labels = loss.labels(x)
    assert labels.tolist() == [0, 0, 0, 1, 1]
    assert loss.empirical_value(x, labels=labels) == pytest.approx(
        np.mean((x - np.array([-1, -1, -1, 1, 1])) ** 2)
    )
    assert np.allclose(loss.empirical_gradient(x, labels=labels), 2 * (x - [-1, -1, -1, 1, 1]) / 5)
    v = loss.variation(np.array([0.0, 2.0]), edges, parts)
    assert v.tolist() == [[1.0, 9.0], [1.0, 1.0]]
    assert loss.accuracy(np.array([-0.9, 0.2, -0.1]), [0, 1, 1]) == pytest.approx(2 / 3)


def test_law_of_targets():
    g = losses.law_of(BUMP, 2048)
    assert isinstance(g, losses.CellLaw) and g.total == pytest.approx(1.0, rel=1e-14)
    assert g.mean() == pytest.approx(0.5, abs=1e-12)
    # binning adds h²/12 and spreading evenly over the cell another h²/12 (Sheppard)
    h = np.diff(g.edges)[0]
    assert g.central_second(g.mean()) == pytest.approx(0.16 + h**2 / 6, rel=1e-8)
    u = losses.law_of(UNIFORM)
    assert u.edges.tolist() == [2.0, 8.0]
    a = losses.law_of(np.array([3.0, 1.0, 2.0]))
    assert isinstance(a, losses.AtomLaw) and a.cdf(2.0) == pytest.approx(0.5)
