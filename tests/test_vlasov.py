"""Finite-volume Vlasov solver against exact solutions (docs/model.md §3)."""

import numpy as np
import pytest
from scipy.linalg import expm

from conftest import observed_orders
from meanfield_resnet import exact, network, vlasov
from meanfield_resnet.activations import ACTIVATIONS
from meanfield_resnet.distributions import Distribution, scott_bandwidth
from meanfield_resnet.moments import grid_moments, particle_moments, particle_standard_errors
from meanfield_resnet.settings import Segment, constant_segments

UNIFORM = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
BUMP = Distribution("gaussian", mean_=np.array([0.5]), std=np.array([0.4]))


def solve_1d(law, activation, w, b, n, times, moving=True, domain=None, feedback=None, **kw):
    seg = constant_segments(w, b)
    box = law.support() if domain is None else np.asarray(domain, float)
    frame = vlasov.Frame.from_box(box, n, moving)
    problem = vlasov.VlasovProblem(activation, seg, feedback, frame, **kw)
    return vlasov.solve(problem, law.cell_probabilities([frame.edges(0)]), times)


def edges_at(sol, k):
    n = sol.density.shape[1]
    return sol.lower[k, 0] + (sol.upper[k, 0] - sol.lower[k, 0]) * np.linspace(0, 1, n + 1)


def l1_error(sol, law, activation, w, b, t):
    e = edges_at(sol, -1)
    return np.abs(
        sol.density[-1] * np.diff(e) - exact.cell_masses(law, activation, w, b, t, e)
    ).sum()


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_converges_to_its_exact_solution(activation):
    """Each activation of the registry against the push-forward of its characteristic flow
    (parameters unlike the figures': w = -0.8, b = 0.6, N(0.3, 0.5²), t = 1.5, moving
    frame): third order where σ is smooth; where it has a kink (ReLU, leaky ReLU) the exact
    density jumps at x = -b/w, which the scheme smears over a few cells (first order at
    best, so only the error's decrease is asserted); mass kept to round-off."""
    law = Distribution("gaussian", mean_=np.array([0.3]), std=np.array([0.5]))
    w, b, t = -0.8, 0.6, 1.5
    cells = [100, 200, 400]
    sols = [solve_1d(law, activation, w, b, n, [0, t]) for n in cells]
    errors = [l1_error(sol, law, activation, w, b, t) for sol in sols]
    orders = observed_orders(1 / np.array(cells), errors)
    print(activation, errors, orders)
    assert all(np.abs(sol.mass - 1.0).max() < 1e-12 for sol in sols)
    if errors[0] < 1e-12:  # σ = identity: the moving frame transports the law exactly
        return
    if "relu" in activation:
        assert errors[-1] < 2e-2 and errors[-1] < errors[0] / 3
    else:
        assert errors[-1] < 1e-5 and orders[-1] >= 2.7 and orders.min() >= 2.2


@pytest.mark.parametrize(
    ("activation", "moving"),
    [("identity", False), ("tanh", False), ("tanh", True), ("sigmoid", True)],
)
def test_l1_error_and_observed_order(activation, moving):
    """Design order 3 (WENO5 in space, SSP-RK3 in time with dt ∝ Δη): asserted >= 2.8."""
    w, b, t = 1.0, -0.3, 1.0
    cells = [100, 200, 400, 800] if not moving else [50, 100, 200, 400]
    errors = [
        l1_error(
            solve_1d(BUMP, activation, w, b, n, [0, t], moving, None if moving else [[-12, 14]]),
            BUMP,
            activation,
            w,
            b,
            t,
        )
        for n in cells
    ]
    orders = observed_orders(1 / np.array(cells), errors)
    print(activation, moving, errors, orders)
    assert errors[-1] < 1e-5
    assert orders[-1] >= 2.8 and orders.mean() >= 2.8


def test_mass_and_positivity_with_a_discontinuous_density():
    sol = solve_1d(UNIFORM, "tanh", 1.0, -5.0, 200, [0, 1, 2, 5])
    assert np.all(np.abs(sol.mass - 1.0) < 1e-12)
    assert sol.min_density.min() >= -1e-14
    assert np.all(sol.density >= -1e-14)


@pytest.mark.parametrize(
    ("w", "b", "feedback", "law"),
    [
        (-1.0, 0.0, None, UNIFORM),  # Figs. 1-2 left
        (-1.0, 0.0, -1.0, UNIFORM),  # Figs. 1-2 right (feedback bias)
        (1.0, -1.0, None, "slopes"),  # Fig. 7
    ],
)
def test_moments_match_exact_at_paper_settings(w, b, feedback, law):
    if law == "slopes":
        rng = np.random.default_rng(0)
        x = np.repeat(np.linspace(1, 10, 50), 100)
        samples = ((x + rng.standard_normal(x.size)) / x)[:, None]
        law = Distribution("samples", samples=samples, bandwidth=scott_bandwidth(samples))
    times = np.linspace(0, 5, 21)
    sol = solve_1d(law, "identity", w, b, 400, times, feedback=feedback)
    edges = np.stack([edges_at(sol, k) for k in range(times.size)])
    num = grid_moments(sol.density, edges)
    # exact moments of the projected initial density (KDE truncated at 8 bandwidths)
    m0 = grid_moments(sol.density[0], edges[0])
    ex = exact.identity_moments(m0["mean"], m0["variance"], w, b, times, feedback=feedback)
    for name in ("mean", "variance", "energy"):
        rel = np.abs(num[name] / ex[name] - 1)
        assert rel.max() < 1e-4, (name, rel.max())


def test_particles_agree_with_pde_moments_within_monte_carlo_error():
    w, b, t, m = 1.0, -5.0, 2.0, 100_000
    sol = solve_1d(UNIFORM, "tanh", w, b, 400, [0, 1, 2])
    pde = grid_moments(sol.density, np.stack([edges_at(sol, k) for k in range(3)]))
    x0 = UNIFORM.sample(np.random.default_rng(11), m)
    layers = 4000
    seg = constant_segments(w, b)
    x = network.simulate(x0, "tanh", seg, t, layers, np.array([0, 2000, 4000]))[..., 0]
    pm, se = particle_moments(x), particle_standard_errors(x)
    for name in ("mean", "variance", "energy"):
        assert np.all(np.abs(pm[name] - pde[name]) <= 3 * se[name] + 1e-12), name


def test_two_dimensional_separable_case_is_the_product_of_1d_solutions():
    """tanh, W = diag(1, -0.5), product Gaussian: the 2-D solution is the product of the
    1-D exact solutions (the error function is shared with the convergence study)."""
    from meanfield_resnet.studies import _vlasov_2d_error

    errors = [_vlasov_2d_error(n) for n in (32, 64)]
    print(errors)
    assert errors[1] < errors[0] / 4 and errors[1] < 2e-4


def test_fixed_domain_too_small_fails_with_a_clear_message():
    with pytest.raises(FloatingPointError, match="mass left the domain"):
        solve_1d(BUMP, "identity", 1.0, 0.0, 100, [0, 1], moving=False, domain=[[-3, 3]])


@pytest.mark.parametrize("factor", [1e30, np.nan])
def test_initial_masses_beyond_the_weno_range_fail_before_stepping(factor):
    seg = constant_segments(1.0, 0.0)
    frame = vlasov.Frame.from_box([-2.0, 3.0], 50)
    problem = vlasov.VlasovProblem("tanh", seg, None, frame)
    masses = BUMP.cell_probabilities([frame.edges(0)]) * factor
    with pytest.raises(ValueError, match="initial density .* not finite or exceeds"):
        vlasov.solve(problem, masses, [0.0, 1.0])


@pytest.mark.parametrize("rows", [True, False])
def test_pass_kernels_agree_with_their_python_selves(rows):
    """The compiled row/column passes equal their interpreted py_func on a random grid with
    velocities of both signs (tanh, moving-frame terms), in serial and in parallel, and give
    the same numbers whatever the size of their work items."""
    from meanfield_resnet import finite_volume as fv

    rng = np.random.default_rng(2)
    g0, g = rng.random((40, 37)), rng.random((40, 37))
    n = 37 if rows else 40
    offsets = rng.normal(size=40 if rows else 41)
    coords = np.linspace(-1.0, 1.0, 38 if rows else 37)
    eta_across = np.zeros(40) if rows else np.linspace(0, 1, 41)
    eta_along = np.linspace(0, 1, 38) if rows else np.zeros(37)
    geo = (1, (offsets, coords, eta_across, eta_along, np.array([0.7, -0.2, 0.3, 2.0])))
    stage = fv.stage_parameters(0.75, 0.25, True, True, 0.2 / n, 0.1, False, 1e-40)
    kernel = fv.row_pass_items if rows else fv.column_pass_items
    size, items = (37, 40) if rows else (16, 3)
    results = []
    for fn in (kernel, kernel.py_func):
        out, worst, top = np.empty_like(g), np.zeros(items), np.zeros(items)
        fn(*geo, stage, g0, g, out, size, 0, items, worst, top)
        results.append((out, worst, top))
    for a, b in zip(results[0], results[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    for size, items in ((10, 160), (37, 40)) if rows else ((16, 3), (7, 6)):
        out_par = np.empty_like(g)
        fv._pass_parallel(rows, *geo, stage, g0, g, out_par, size, np.zeros(items),
                           np.zeros(items), 2)  # fmt: skip
        np.testing.assert_array_equal(out_par, results[0][0])
    assert results[0][1].max() > 0 and np.all(results[0][0] >= 0)


@pytest.mark.parametrize("d", [1, 2])
def test_both_compiled_drivers_agree_on_a_fixed_frame(d, monkeypatch):
    """A fixed frame runs its steps on a geometry computed once per segment
    (finite_volume.ssp_rk3_steps); the moving frame's driver (moving_frame.frame_steps),
    which recomputes the geometry and step size at every stage, gives the same bits on it,
    with two segments and an output time between steps."""
    law = Distribution("gaussian", mean_=np.full(d, 0.3), std=np.full(d, 0.4))
    weight = np.array([[1.0, 0.4], [-0.3, -0.8]])[:d, :d]
    segments = (
        Segment(0.0, 0.3, weight, np.full(d, 0.1)),
        Segment(0.3, np.inf, -weight, np.full(d, -0.2)),
    )
    frame = vlasov.Frame(np.full(d, -6.0), np.full(d, 6.0), (48,) * d, moving=False)
    masses = law.cell_probabilities([frame.edges(r) for r in range(d)])

    def run():
        problem = vlasov.VlasovProblem("tanh", segments, None, frame)
        return vlasov.solve(problem, masses, [0.0, 0.2, 0.55])

    compiled = run()
    monkeypatch.setattr(vlasov.VlasovProblem, "fixed_geometry", property(lambda self: False))
    driven = run()
    assert compiled.steps[-1] == driven.steps[-1] > 10
    np.testing.assert_array_equal(compiled.density, driven.density)
    np.testing.assert_array_equal(compiled.lower, driven.lower)


def test_limited_flux_is_the_hu_adams_shu_blend():
    """The kernel's clamp form (one division a face, in WENO-Z) equals the textbook WENO5-Z
    value blended as Hu-Adams-Shu (the numpy baseline of the benchmarks): F = low +
    θ (high - low) with the largest θ in [0, 1] keeping left - λF >= 0 and right + λF >= 0,
    for λ|u| <= 1 and data from smooth to rough, over 30 orders of magnitude."""
    from meanfield_resnet import finite_volume as fv
    from meanfield_resnet import reference_scheme as numpy_scheme

    rng = np.random.default_rng(5)
    count = 20_000
    scale = 10.0 ** rng.uniform(-15, 15, count)
    cells = rng.random((6, count)) ** rng.choice([1, 8], (6, count)) * scale
    cells[:, : count // 4] = np.sort(cells[:, : count // 4], axis=0)  # monotone profiles
    lam = 10.0 ** rng.uniform(-3, 1, count)
    u = rng.uniform(-1, 1, count) / lam
    eps = 1e-40 + 1e-12 * scale**2
    left, right = cells[2], cells[3]
    high = numpy_scheme.upwind_weno(*cells, u, eps)
    expected = numpy_scheme.limited_fluxes(*cells, u, lam, eps)
    low = np.maximum(u, 0) * left + np.minimum(u, 0) * right
    over, under = left - lam * high < 0, right + lam * high < 0
    got = np.array(
        [fv.limited_flux(*cells[:, k], u[k], 1.0 / lam[k], eps[k]) for k in range(count)]
    )
    assert over.sum() > 100 and under.sum() > 100  # both bounds are exercised
    # both forms round differently: to within 1e-11 of the magnitudes they combine
    magnitude = np.abs(high) + np.abs(low) + np.abs(u) * cells.max(axis=0)
    assert np.all(np.abs(got - expected) <= 1e-11 * magnitude)
    np.testing.assert_allclose(got[~over & ~under], high[~over & ~under], rtol=1e-11, atol=0)
    assert np.all(left - lam * got >= -1e-15 * left) and np.all(right + lam * got >= -1e-15 * right)


@pytest.mark.parametrize(("b", "feedback"), [(0.0, None), (0.05, None), (0.0, -1.0)])
def test_long_contraction_keeps_every_digit_of_the_moments(b, feedback):
    """σ = identity, w = -1 to T = 20 (the law shrinks by e^-20): the box edges follow their
    exact flow, so mean and variance stay within 1e-8 of the exact ones at every output
    time (the mean relative to the larger of |mean| and the standard deviation)."""
    times = np.linspace(0.0, 20.0, 41)
    sol = solve_1d(UNIFORM, "identity", -1.0, b, 400, times, feedback=feedback)
    num = grid_moments(sol.density, np.stack([edges_at(sol, k) for k in range(times.size)]))
    ex = exact.identity_moments(5.0, 3.0, -1.0, b, times, feedback=feedback)
    scale = np.maximum(np.abs(ex["mean"]), np.sqrt(ex["variance"]))
    assert np.max(np.abs(num["mean"] - ex["mean"]) / scale) < 1e-8
    assert np.max(np.abs(num["variance"] / ex["variance"] - 1)) < 1e-8


@pytest.mark.parametrize(("activation", "w", "b"), [("tanh", 1.0, -5.0), ("sigmoid", -1.5, 4.0)])
def test_box_edges_are_the_characteristics_of_the_support_ends(activation, w, b):
    times = [0.0, 1.0, 3.0]
    sol = solve_1d(UNIFORM, activation, w, b, 100, times)
    for k, t in enumerate(times):
        ends = exact.characteristic(activation, w, b, np.array([2.0, 8.0]), t)
        np.testing.assert_allclose([sol.lower[k, 0], sol.upper[k, 0]], ends, rtol=1e-12)


def test_affine_edges_of_a_sheared_2d_box_keep_the_mass_inside():
    """W with off-diagonal entries: the edges' linear flow (the extreme cell centres of the
    other axis enter the face velocities) keeps ũ pointing into the box: mass is conserved
    to round-off and the mean follows μ' = Wμ + b."""
    law = Distribution("gaussian", mean_=np.array([0.5, -0.2]), std=np.array([0.4, 0.3]))
    weight, bias = np.array([[-0.8, 0.6], [-0.4, -0.5]]), np.array([0.3, -0.1])
    box = law.support()
    frame = vlasov.Frame.from_box(box, (48, 48))
    problem = vlasov.VlasovProblem("identity", constant_segments(weight, bias, 2), None, frame)
    sol = vlasov.solve(problem, law.cell_probabilities([frame.edges(0), frame.edges(1)]), [0, 2])
    assert np.all(np.abs(sol.mass - 1.0) < 1e-12)
    centres = [sol.lower[-1, r] + (sol.upper[-1, r] - sol.lower[-1, r]) * (np.arange(48) + 0.5) / 48
               for r in range(2)]  # fmt: skip
    cell = np.prod((sol.upper[-1] - sol.lower[-1]) / 48)
    mean = [(sol.density[-1] * cell).sum(axis=1 - r) @ centres[r] for r in range(2)]
    # μ(t) = e^{Wt}(μ0 + W⁻¹b) - W⁻¹b
    shift = np.linalg.solve(weight, bias)
    exact_mean = expm(2 * weight) @ (law.mean_ + shift) - shift
    np.testing.assert_allclose(mean, exact_mean, atol=1e-6)
