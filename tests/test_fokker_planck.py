"""Scharfetter-Gummel Fokker-Planck solver: exact OU solution, steady states, invariants."""

import numpy as np
import pytest

from conftest import observed_orders
from meanfield_resnet import diffusion, exact, fokker_planck, network
from meanfield_resnet.distributions import Distribution
from meanfield_resnet.moments import grid_moments
from meanfield_resnet.settings import Segment, constant_segments

UNIFORM = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
DOMAIN = np.array([-8.0, 14.0])


def pde(
    cells,
    dt,
    theta,
    t=1.0,
    law=UNIFORM,
    k=1.0,
    w=-1.0,
    b=0.0,
    target=None,
    domain=DOMAIN,
    times=None,
    frame="fixed",
):
    problem = fokker_planck.FokkerPlanckProblem(
        "identity",
        constant_segments(w, b),
        diffusion.constant(k) if np.isscalar(k) else k,
        cells,
        frame=frame,
        domain=None if domain is None else tuple(domain),
        time_step=dt,
        theta=theta,
        target=target,
    )
    return fokker_planck.solve(problem, law, [0.0, t] if times is None else times)


def exact_l1(sol, k, law=UNIFORM, w=-1.0, b=0.0, diffusion_=1.0):
    """L1 distance of the cell masses at output k from the exact Ornstein-Uhlenbeck ones."""
    edges = sol.edges(k)
    exact_masses = exact.ou_cell_masses(law, w, b, diffusion_, sol.times[k], edges)
    return np.abs(sol.density[k] * sol.dx[k] - exact_masses).sum()


@pytest.mark.parametrize(("theta", "order"), [(0.5, 2.0), (1.0, 1.0)])
def test_error_against_exact_ornstein_uhlenbeck_and_order(theta, order):
    cells = np.array([100, 200, 400, 800])
    errors = []
    for n in cells:
        errors.append(exact_l1(pde(n, 2.0 / n, theta), -1))
    orders = observed_orders(1.0 / cells, errors)
    print(theta, errors, orders)
    assert orders[-1] >= order - 0.2


def test_mass_conserved_and_density_never_negative():
    sol = pde(400, 0.05, 1.0, times=[0, 0.1, 1, 5, 20])
    assert np.all(np.abs(sol.mass - 1) < 1e-12)
    assert sol.density.min() >= 0.0


@pytest.mark.parametrize(
    "target",
    [
        Distribution("gaussian", mean_=np.array([5.0]), std=np.array([0.5])),
        Distribution("uniform", low=np.array([3.0]), high=np.array([6.0])),
    ],
)
def test_fitted_steady_state_is_the_target(target):
    """Discrete steady state: a null vector of the scheme to round-off; it equals the target
    to discretisation error (second order for smooth targets)."""
    k, b = diffusion.fit_target(target, -1.0)
    errors = []
    for n in (100, 200, 400):
        problem = fokker_planck.FokkerPlanckProblem(
            "identity", constant_segments(-1.0, b), k, n, target=target
        )
        lo, hi = fokker_planck.default_domain(problem, UNIFORM, 10.0)
        edges = np.linspace(lo, hi, n + 1)
        lower, diag, upper = np.empty(n - 1), np.empty(n), np.empty(n - 1)
        frame = (0.5 * (lo + hi), 0.5 * (hi - lo), 0.0, 0.0)  # fixed: centre, scale, rates
        fokker_planck.operator(0, -1.0, b, k.args, *frame, lower, diag, upper)
        steady = fokker_planck.discrete_steady_state(lower, diag, upper, edges[1] - edges[0])
        a_times = diag * steady
        a_times[1:] += lower * steady[:-1]
        a_times[:-1] += upper * steady[1:]
        assert np.abs(a_times).max() < 1e-12 * np.abs(diag * steady).max()
        dx = edges[1] - edges[0]
        g = target.cell_probabilities([edges]) / dx
        errors.append(np.abs(steady - g).sum() * dx)
        # time stepping converges to the discrete steady state
        sol = pde(n, 0.5, 1.0, t=60.0, b=b, k=k, target=target, domain=(lo, hi))
        assert np.abs(sol.density[-1] - steady).sum() * dx < 1e-10
    print(errors)
    assert errors[-1] < errors[0] / 3


def test_stochastic_particles_agree_with_pde_within_three_standard_errors():
    m, t, layers = 100_000, 1.0, 1000
    sol = pde(800, 0.0025, 0.5, t=t, frame="moving", domain=None)
    pm = grid_moments(sol.density[-1], sol.edges(-1))
    rng = np.random.default_rng(5)
    seg = constant_segments(-1.0, 0.0)
    x = network.simulate(
        UNIFORM.sample(rng, m),
        "identity",
        seg,
        t,
        layers,
        np.array([layers]),
        diffusion=diffusion.constant(1.0),
        rng=rng,
    )[-1, :, 0]
    se_mean = x.std() / np.sqrt(m)
    se_var = np.sqrt(((x - x.mean()) ** 4).mean() - x.var() ** 2) / np.sqrt(m)
    assert abs(x.mean() - pm["mean"]) < 3 * se_mean
    assert abs(x.var() - pm["variance"]) < 3 * se_var


def test_thomas_kernel_agrees_with_its_python_self():
    rng = np.random.default_rng(0)
    f = rng.random(30)
    ops = []
    for _ in range(2):
        lower, upper = rng.random(29), rng.random(29)
        ops += [lower, -np.concatenate([lower, [0]]) - np.concatenate([[0], upper]), upper]
    a, b = np.empty(30), np.empty(30)
    fokker_planck.theta_step(f, *ops, 0.3, 0.5, a, np.empty(30), np.empty(30))
    fokker_planck.theta_step.py_func(f, *ops, 0.3, 0.5, b, np.empty(30), np.empty(30))
    np.testing.assert_allclose(a, b, rtol=1e-14)


GAUSSIAN = Distribution("gaussian", mean_=np.array([1.0]), std=np.array([0.5]))


@pytest.mark.parametrize(
    ("w", "b", "k", "law", "final"),
    [
        (-1.0, 0.0, 1.0, UNIFORM, 5.0),  # Fig. 9
        (-0.5, 1.0, 0.3, UNIFORM, 5.0),
        (0.6, -0.5, 0.4, GAUSSIAN, 3.0),  # expanding
        (-2.5, 3.0, 0.15, GAUSSIAN, 4.0),
    ],
)
def test_default_grid_is_as_accurate_as_the_vlasov_solver(w, b, k, law, final):
    """The default Fokker-Planck discretisation (800 cells on a grid following the law,
    Crank-Nicolson with positive steps): mean and variance within 1e-4 relative of the
    Ornstein-Uhlenbeck ones at every output time (the mean relative to the larger of |mean|
    and the standard deviation), L1 ≤ 1e-4 from t = 0.5 on."""
    times = np.array([0.0, 0.5, 1.0, 2.0, final])
    problem = fokker_planck.FokkerPlanckProblem(
        "identity", constant_segments(w, b), diffusion.constant(k), 800
    )
    sol = fokker_planck.solve(problem, law, times)
    mean0, var0 = float(law.mean()[0]), float(law.variance()[0])
    ex = exact.ou_moments(mean0, var0, w, b, k, times)
    for i, t in enumerate(times):
        num = grid_moments(sol.density[i], sol.edges(i))
        scale = max(abs(ex["mean"][i]), np.sqrt(ex["variance"][i]))
        assert abs(num["mean"] - ex["mean"][i]) / scale < 1e-4, t
        assert abs(num["variance"] / ex["variance"][i] - 1) < 1e-4, t
        if t >= 0.5:
            assert exact_l1(sol, i, law, w, b, k) < 1e-4, t
    assert np.all(np.abs(sol.mass - 1) < 1e-12)
    assert sol.density.min() >= 0.0


def test_moving_grid_converges_at_second_order():
    cells = np.array([100, 200, 400, 800])
    errors = [exact_l1(pde(n, 2.0 / n, 0.5, frame="moving", domain=None), -1) for n in cells]
    orders = observed_orders(1.0 / cells, errors)
    print(errors, orders)
    assert orders.min() >= 1.8


def test_crank_nicolson_stays_positive_from_a_discontinuous_law_with_large_steps():
    """The step bound (1-θ)Δt max|A_ii| ≤ 1 keeps every step positive whatever time_step
    asks for."""
    for frame, domain in (("moving", None), ("fixed", DOMAIN)):
        sol = pde(400, 0.5, 0.5, times=[0.0, 0.01, 0.1, 1.0], frame=frame, domain=domain)
        assert sol.density.min() >= 0.0
        assert np.all(np.abs(sol.mass - 1) < 1e-12)


@pytest.mark.parametrize("frame", ["moving", "fixed"])
def test_piecewise_constant_parameters_follow_the_exact_moments(frame):
    """Two segments, (w, b) = (-0.6, 1.1) on [0, 0.7) then (0.4, -0.3), K = 0.35: the mean
    and variance of the OU law restart from the first segment's values at the switch
    (exact.ou_moments on each piece); the solver takes each segment's parameters from the
    switch on (an O(Δt) error would show at the 1e-3 level)."""
    k = 0.35
    segments = (
        Segment(0.0, 0.7, np.array([[-0.6]]), np.array([1.1])),
        Segment(0.7, np.inf, np.array([[0.4]]), np.array([-0.3])),
    )
    problem = fokker_planck.FokkerPlanckProblem(
        "identity", segments, diffusion.constant(k), 800, frame=frame,
        domain=(-10.0, 16.0) if frame == "fixed" else None,
    )  # fmt: skip
    times = [0.0, 0.5, 0.7, 1.2]
    sol = fokker_planck.solve(problem, UNIFORM, times)
    first = exact.ou_moments(5.0, 3.0, -0.6, 1.1, k, np.array([0.5, 0.7]))
    second = exact.ou_moments(first["mean"][-1], first["variance"][-1], 0.4, -0.3, k, 0.5)
    expected_mean = [5.0, *first["mean"], second["mean"]]
    expected_var = [3.0, *first["variance"], second["variance"]]
    # the fixed grid (26 wide) is coarser where the law is than the moving one
    mean_tol, var_tol = (2e-5, 2e-4) if frame == "moving" else (5e-4, 2e-3)
    for kk in range(len(times)):
        m = grid_moments(sol.density[kk], sol.edges(kk))
        assert abs(m["mean"] - expected_mean[kk]) < mean_tol
        assert abs(m["variance"] / expected_var[kk] - 1.0) < var_tol
