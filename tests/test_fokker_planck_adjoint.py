"""Discrete adjoint of the Fokker-Planck solver (src/meanfield_resnet/fokker_planck_adjoint.py)."""

import numpy as np
import pytest

from conftest import observed_orders
from meanfield_resnet import diffusion, fokker_planck, losses, training
from meanfield_resnet import fokker_planck_adjoint as fpa
from meanfield_resnet.distributions import Distribution
from meanfield_resnet.settings import Segment

BUMP = Distribution("gaussian", mean_=np.array([0.5]), std=np.array([0.4]))
TARGET = Distribution("gaussian", mean_=np.array([0.8]), std=np.array([0.3]))
THETA = np.array([-0.7, 0.9, 0.5, -0.3])  # (w_0, b_0, w_1, b_1): not the package's defaults
SWITCH, FINAL, KAPPA = 0.5, 1.0, 0.2
DOMAIN = (-4.0, 5.0)


def segments_of(theta, switch=SWITCH):
    (w0, b0), (w1, b1) = np.asarray(theta, float).reshape(2, 2)
    return (
        Segment(0.0, switch, np.array([[w0]]), np.array([b0])),
        Segment(switch, np.inf, np.array([[w1]]), np.array([b1])),
    )


def problem_of(activation, theta, k, cells, theta_scheme=0.5, domain=DOMAIN, step=None):
    return fokker_planck.FokkerPlanckProblem(
        activation,
        segments_of(theta),
        k,
        cells,
        frame="fixed",
        domain=domain,
        time_step=2.0 / cells if step is None else step,
        theta=theta_scheme,
    )


def differences(value, point, step=1e-3):
    """Five-point central differences of value(point) (error O(step⁴) + round-off/step)."""
    out = np.empty(point.size)
    for j, e in enumerate(np.eye(point.size) * step):
        f = [value(point + s * e) for s in (2, 1, -1, -2)]
        out[j] = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * step)
    return out


def adjoint_and_differences(activation, k, cells, loss, law=BUMP, directions=None, **kw):
    """The adjoint gradient (w_0, b_0, w_1, b_1, then the K-directions) and differences of
    J_h of fokker_planck.solve in the same parameters (K + ε δK along each direction)."""
    directions = (k,) if directions is None else directions
    grad = fpa.gradient(problem_of(activation, THETA, k, cells, **kw), law, loss, FINAL,
                        diffusion_directions=directions)  # fmt: skip
    assert grad.fallback_steps == 0  # the step sequence does not depend on θ

    def value(p):
        moves = zip(p[4:], directions, strict=True)
        shifted = k.values + sum(e * np.broadcast_to(d.values, k.values.shape) for e, d in moves)
        kk = diffusion.Diffusion(k.kind, shifted, k.x0, k.dx)
        return fpa.loss_value(problem_of(activation, p[:4], kk, cells, **kw), law, loss, FINAL)

    fd = differences(value, np.append(THETA, np.zeros(len(directions))))
    return np.append(grad.flat, grad.diffusion), fd, grad


LOSSES = {
    "quadratic": losses.Quadratic(0.3),
    "energy": losses.EnergyDistance(TARGET),
    "variance": losses.Variance(),
}


@pytest.mark.parametrize("loss", ["quadratic", "energy"])
def test_adjoint_against_differences_of_the_solver(loss):
    """tanh, two segments, constant K (and its scale): the discrete adjoint is the exact
    gradient of J_h, at every resolution (measured: ≤ 4e-11 relative, the differences'
    round-off)."""
    rows = []
    for n in (100, 200, 400):
        ad, fd, grad = adjoint_and_differences("tanh", diffusion.constant(KAPPA), n, LOSSES[loss])
        rows.append(np.abs(ad - fd).max() / np.abs(fd).max())
        print(n, grad.steps, ad, fd, rows[-1])
        assert grad.value == pytest.approx(
            fpa.loss_value(problem_of("tanh", THETA, diffusion.constant(KAPPA), n), BUMP,
                           LOSSES[loss], FINAL), rel=1e-13)  # fmt: skip
    assert max(rows) <= 1e-6


def test_adjoint_with_varying_diffusion_and_backward_euler():
    """sigmoid, K = 0.15 + 0.02 x + 0.01 x² (derivatives along its coefficients: the ∂_x K
    term of the drift moves too), backward Euler."""
    k = diffusion.Diffusion(diffusion.POLYNOMIAL, np.array([0.15, 0.02, 0.01]))
    directions = fpa.coefficient_directions(k)
    ad, fd, grad = adjoint_and_differences(
        "sigmoid", k, 200, LOSSES["variance"], directions=directions, theta_scheme=1.0,
        domain=(-4.0, 6.0),
    )  # fmt: skip
    print(ad, fd)
    assert np.abs(ad - fd).max() <= 1e-7 * np.abs(fd).max()
    scale = fpa.gradient(problem_of("sigmoid", THETA, k, 200, 1.0, (-4.0, 6.0)), BUMP,
                         LOSSES["variance"], FINAL).diffusion[0]  # fmt: skip
    assert scale == pytest.approx(float(ad[4:] @ k.values), rel=1e-12)  # dJ/dκ = Σ c_j dJ/dc_j


def test_adjoint_where_the_fitted_diffusion_vanishes():
    """The fitted K of a uniform target vanishes at its ends and beyond (upwind faces):
    σ = identity towards U[3, 6], derivative along the table's scale, energy distance."""
    target = Distribution("uniform", low=np.array([3.0]), high=np.array([6.0]))
    k, _ = diffusion.fit_target(target, -1.0)
    law = Distribution("gaussian", mean_=np.array([4.2]), std=np.array([0.3]))
    theta = np.array([-1.0, 4.3, -0.8, 3.5])

    def problem(p):
        return fokker_planck.FokkerPlanckProblem(
            "identity", segments_of(p[:4]), fpa.scaled(k, 1.0 + p[4]), 200, frame="fixed",
            domain=(2.0, 7.0), time_step=0.01,
        )  # fmt: skip

    loss = losses.EnergyDistance(target)
    grad = fpa.gradient(problem(np.append(theta, 0.0)), law, loss, FINAL)
    fd = differences(
        lambda p: fpa.loss_value(problem(p), law, loss, FINAL), np.append(theta, 0.0), 1e-3
    )
    ad = np.append(grad.flat, grad.diffusion)
    print(ad, fd)
    assert grad.fallback_steps == 0
    assert np.abs(ad - fd).max() <= 1e-6 * np.abs(fd).max()


def test_adjoint_with_steps_the_positivity_fallback_shortened():
    """σ = identity from U[2, 8] with Crank-Nicolson steps of 0.1, K = 0.1: most steps are
    shortened to 1/((1-θ) max|L_ii|), which depends on θ, and the landing step of each piece
    takes what they leave; the gradient includes that dependence."""
    law = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
    theta = np.array([-1.0, 0.3, -0.6, 0.5, 0.1])
    times = [0.0, 0.01, 0.1, FINAL]

    def problem(p):
        return fokker_planck.FokkerPlanckProblem(
            "identity", segments_of(p[:4], 0.4), diffusion.constant(p[4]), 400, frame="fixed",
            domain=(-8.0, 14.0), time_step=0.1,
        )  # fmt: skip

    loss = LOSSES["energy"]
    grad = fpa.gradient(problem(theta), law, loss, FINAL, times)
    ad = np.append(grad.flat, grad.diffusion / theta[4])  # dJ/dK
    fd = differences(lambda p: fpa.loss_value(problem(p), law, loss, FINAL, times), theta, 1e-5)
    print(grad.steps, grad.fallback_steps, ad, fd)
    assert grad.fallback_steps >= 30
    assert np.abs(ad - fd).max() <= 1e-6 * np.abs(fd).max()


def test_forward_is_the_solvers_bit_for_bit():
    """The recorded forward run takes the solver's steps and gives its numbers exactly (also
    with output times inside a segment, which split the steps)."""
    for times in ([FINAL], [0.0, 0.3, SWITCH, 0.8, FINAL]):
        problem = problem_of("tanh", THETA, diffusion.constant(KAPPA), 120)
        run = fpa.record(problem, BUMP, times)
        sol = fokker_planck.solve(problem, BUMP, times)
        assert run.dts.size == sol.steps[-1]
        assert run.dts.sum() == pytest.approx(FINAL, rel=1e-14)
        assert np.array_equal(run.masses / (run.edges[1] - run.edges[0]), sol.density[-1])


def test_initial_mass_gradient():
    """∂J_h/∂m_i(0) against differences of the solver in one initial cell mass."""
    problem = problem_of("tanh", THETA, diffusion.constant(KAPPA), 100)
    loss = LOSSES["energy"]
    grad = fpa.gradient(problem, BUMP, loss, FINAL)
    edges = np.linspace(*DOMAIN, 101)
    m0 = BUMP.cell_probabilities([edges])
    for i in (30, 50, 62):
        e = np.zeros(100)
        e[i] = 1e-4

        def value(m):
            run = fpa.record(problem, m, [FINAL])
            return loss.value(run.edges, run.masses)

        fd = (value(m0 + e) - value(m0 - e)) / 2e-4
        assert grad.initial[i] == pytest.approx(fd, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("loss", ["quadratic", "energy", "variance", "mean"])
def test_mass_gradient_is_the_derivative_of_the_loss(loss):
    loss = losses.Mean() if loss == "mean" else LOSSES[loss]
    rng = np.random.default_rng(3)
    edges = np.linspace(-1.0, 2.5, 41)
    masses = rng.uniform(0.5, 1.5, 40) / 40
    grad = fpa.mass_gradient(loss, edges, masses)
    fd = np.empty(40)
    for i in range(40):
        e = np.zeros(40)
        e[i] = 1e-5
        fd[i] = (loss.value(edges, masses + e) - loss.value(edges, masses - e)) / 2e-5
    assert np.abs(grad - fd).max() <= 1e-8 * np.abs(fd).max()


def test_bernoulli_slope():
    z = np.concatenate([np.linspace(-50, 50, 1001), np.linspace(-0.2, 0.2, 401), [0.1, -0.1]])
    h = 1e-5
    fd = (fpa.bernoulli(z + h) - fpa.bernoulli(z - h)) / (2 * h)
    assert np.abs(fpa.bernoulli_slope(z) - fd).max() <= 1e-9
    assert fpa.bernoulli_slope(np.array([800.0, -800.0])) == pytest.approx([0.0, -1.0])


# ------------------------------------------------------------------------------------------
# Ornstein-Uhlenbeck: against the closed-form sensitivities


OU = np.array([-0.8, 0.6, -0.3, 0.2])  # two segments
OU_K, MEAN0, STD0, Y = 0.3, 0.5, 0.4, 0.3


def ou_moments(p):
    """Mean and variance at T of §3.7 over the two segments; p = (w_0, b_0, w_1, b_1, K)."""
    w0, b0, w1, b1, k = p
    m, v = MEAN0, STD0**2
    for w, b, t in ((w0, b0, SWITCH), (w1, b1, FINAL - SWITCH)):
        e = np.exp(w * t)
        m, v = (m + b / w) * e - b / w, v * e * e + k * (e * e - 1) / w
    return m, v


def closed_form_gradient(read):
    """d/dp of read(mean, variance) of §3.7, by complex steps (exact to round-off)."""
    p = np.append(OU, OU_K).astype(complex)
    return np.array([read(*ou_moments(p + 1e-30j * e)).imag / 1e-30 for e in np.eye(5)])


@pytest.mark.parametrize(
    ("loss", "read"),
    [
        (losses.Mean(), lambda m, v: m),
        (losses.Variance(), lambda m, v: v),
        (losses.Quadratic(Y), lambda m, v: v + (m - Y) ** 2),
    ],
    ids=["mean", "variance", "quadratic"],
)
@pytest.mark.parametrize(("theta", "order"), [(0.5, 2.0), (1.0, 1.0)])
def test_ornstein_uhlenbeck_gradient_converges_at_the_schemes_order(loss, read, theta, order):
    """σ = identity, constant K: the gradient in (w_s, b_s, K) converges to the closed form
    at the forward scheme's order (Δt ∝ h: 2 for Crank-Nicolson, 1 for backward Euler)."""
    law = Distribution("gaussian", mean_=np.array([MEAN0]), std=np.array([STD0]))
    exact = closed_form_gradient(read)
    cells = np.array([100, 200, 400, 800])
    errors = []
    for n in cells:
        problem = problem_of("identity", OU, diffusion.constant(OU_K), n, theta, step=1.0 / n)
        grad = fpa.gradient(problem, law, loss, FINAL)
        got = np.append(grad.flat, grad.diffusion / OU_K)  # dJ/dK = (dJ/dκ)/K
        errors.append(np.abs(got - exact).max() / np.abs(exact).max())
    orders = observed_orders(1.0 / cells, errors)
    print(errors, orders)
    assert errors[-1] <= (1e-4 if theta == 0.5 else 1e-3)
    assert np.all(orders >= order - 0.2)


# ------------------------------------------------------------------------------------------
# Training, limits


def test_training_reaches_a_gaussian_target():
    """σ = identity, one segment, θ = (w, b, κ), K = κ: from N(0, 1) to N(1.5, 0.5²) at T = 1
    in energy distance; L-BFGS-B with the adjoint gradient reduces J_h by 10^5
    and the output law has the target's moments."""
    law = Distribution("gaussian", mean_=np.array([0.0]), std=np.array([1.0]))
    target = Distribution("gaussian", mean_=np.array([1.5]), std=np.array([0.5]))
    objective = fpa.objective(
        "identity", [], FINAL, diffusion.constant(1.0), law, losses.EnergyDistance(target),
        240, (-12.0, 12.0), time_step=0.01,
    )  # fmt: skip
    start = np.array([0.0, 0.0, 0.5])
    initial = objective(start)[0]
    result = training.train(
        objective, start, [(-3.0, 3.0), (-5.0, 5.0), (1e-3, 3.0)], target=initial / 1e5
    )
    print(result.initial_value, result.value, result.evaluations, result.theta, result.message)
    assert result.value <= result.initial_value / 1e5
    w, b, k = result.theta
    mean, var = ou_moments_one(w, b, k)
    assert mean == pytest.approx(1.5, abs=0.02)
    assert var == pytest.approx(0.25, abs=0.02)


def ou_moments_one(w, b, k, mean=0.0, var=1.0, t=FINAL):
    e = np.exp(w * t)
    return (mean + b / w) * e - b / w, var * e * e + k * (e * e - 1) / w


def test_moving_frame_default_domain_and_several_laws_are_refused():
    k = diffusion.constant(KAPPA)
    moving = fokker_planck.FokkerPlanckProblem("tanh", segments_of(THETA), k, 50)
    with pytest.raises(ValueError, match="fixed frame"):
        fpa.gradient(moving, BUMP, LOSSES["quadratic"], FINAL)
    free = fokker_planck.FokkerPlanckProblem("tanh", segments_of(THETA), k, 50, frame="fixed")
    with pytest.raises(ValueError, match="domain"):
        fpa.gradient(free, BUMP, LOSSES["quadratic"], FINAL)
    with pytest.raises(ValueError, match="single-law"):
        fpa.gradient(problem_of("tanh", THETA, k, 50), BUMP, losses.Classification(), FINAL)
