"""Mean-field adjoint gradients (src/meanfield_resnet/adjoint.py)."""

import numpy as np
import pytest
from scipy.special import ndtr

from conftest import observed_orders
from meanfield_resnet import adjoint, exact, losses, vlasov
from meanfield_resnet.distributions import Distribution
from meanfield_resnet.settings import Segment

UNIFORM = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
BUMP = Distribution("gaussian", mean_=np.array([0.5]), std=np.array([0.4]))
TARGET = Distribution("gaussian", mean_=np.array([0.8]), std=np.array([0.3]))
THETA = np.array([-0.7, 1.3, 0.4, -0.2])  # (w_0, b_0, w_1, b_1): not the package's defaults
SWITCH, FINAL = 0.5, 1.0


def segments_of(theta, switch=SWITCH):
    (w0, b0), (w1, b1) = np.asarray(theta, float).reshape(2, 2)
    return (
        Segment(0.0, switch, np.array([[w0]]), np.array([b0])),
        Segment(switch, np.inf, np.array([[w1]]), np.array([b1])),
    )


def problem_of(activation, theta, cells, moving, law=BUMP, domain=(-4.0, 5.0)):
    box = law.support() if moving else np.array([domain])
    frame = vlasov.Frame(box[:, 0].copy(), box[:, 1].copy(), (cells,), moving)
    return vlasov.VlasovProblem(activation, segments_of(theta), None, frame)


def solver_differences(activation, cells, moving, loss, initial, max_step, step=1e-4):
    """Central differences of J(f_h(T)) of the forward solver at the same resolution and the
    same output times (hence the same steps) as the adjoint's forward solve."""
    out = np.empty(THETA.size)
    for j in range(THETA.size):
        e = np.zeros(THETA.size)
        e[j] = step
        plus, minus = (
            adjoint.loss_value(
                problem_of(activation, THETA + s * e, cells, moving),
                initial,
                loss,
                FINAL,
                max_step=max_step,
            )
            for s in (1, -1)
        )
        out[j] = (plus - minus) / (2 * step)
    return out


def exact_quadratic_gradient(activation, target):
    """d/dθ ∫ (Φ_{0→T}(x) - y)² f_0(x) dx by Gauss quadrature over f_0 with the exact
    characteristics, differenced with a small step (the reference gradient)."""
    xg, wg = np.polynomial.legendre.leggauss(400)
    lo, hi = BUMP.support()[0]
    x0 = 0.5 * (lo + hi) + 0.5 * (hi - lo) * xg
    w0 = 0.5 * (hi - lo) * wg * BUMP.density_1d(x0)
    w0 /= w0.sum()

    def value(th):
        x = exact.characteristic(activation, th[0], th[1], x0, SWITCH)
        x = exact.characteristic(activation, th[2], th[3], x, FINAL - SWITCH)
        return (w0 * (x - target) ** 2).sum()

    h = 1e-5
    return np.array([(value(THETA + h * e) - value(THETA - h * e)) / (2 * h) for e in np.eye(4)])


def resolution_study(activation, moving, loss, cells=(100, 200, 400)):
    rows = []
    for n in cells:
        problem = problem_of(activation, THETA, n, moving)
        initial = BUMP.cell_probabilities([problem.frame.edges(0)])
        max_step = 2.0 / n  # below the stable step: the steps are the output times' gaps
        grad = adjoint.gradient(problem, initial, loss, FINAL, max_step=max_step)
        sol = grad.solutions[0]
        assert sol.steps[-1] == sol.times.size  # one step per gap: J_h smooth in θ
        fd = solver_differences(activation, n, moving, loss, initial, max_step)
        rows.append((grad.flat, fd))
    return rows


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("moving", [False, True], ids=["fixed", "moving"])
def test_adjoint_against_differences_of_the_solver(activation, moving):
    """Quadratic loss ∫ (x - y)² f(T) (the classification loss of one class), two segments.

    Fixed frame: the difference falls at order ≈ 5 (both converge to the exact gradient).
    Moving frame: exactly order 2, because J_h reads f_h as piecewise constant, which adds
    h_T²/12 to the second moment, and the final cell width h_T of the moving frame depends
    on θ: the differences of J_h carry d(h_T²/12)/dθ, the adjoint does not (against the
    exact gradient it converges at order ≥ 3, below)."""
    loss = losses.Quadratic(0.3)
    cells = (100, 200, 400)
    rows = resolution_study(activation, moving, loss, cells)
    scale = np.abs(rows[-1][1]).max()
    diffs = [np.abs(g - fd).max() / scale for g, fd in rows]
    orders = observed_orders(1.0 / np.array(cells), diffs)
    print(activation, "moving" if moving else "fixed", diffs, orders)
    assert diffs[-1] < 1e-4
    assert orders.min() >= (1.95 if moving else 2.0)
    reference = exact_quadratic_gradient(activation, 0.3)
    errors = [np.abs(g - reference).max() / scale for g, _ in rows]
    orders = observed_orders(1.0 / np.array(cells), errors)
    print("adjoint against the exact gradient", errors, orders)
    assert errors[-1] < 1e-7 and orders.min() >= 3.0


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_energy_distance_gradient_against_differences_of_the_solver(activation):
    """Energy distance to N(0.8, 0.3²): second order (the loss reads f_h as piecewise
    constant, so its CDF, hence λ_T' = 4(G - F_h), is piecewise linear: O(Δx²) inside the
    cells, in the adjoint and in J_h alike)."""
    loss = losses.EnergyDistance(TARGET)
    cells = (100, 200, 400)
    rows = resolution_study(activation, True, loss, cells)
    scale = np.abs(rows[-1][1]).max()
    diffs = [np.abs(g - fd).max() / scale for g, fd in rows]
    orders = observed_orders(1.0 / np.array(cells), diffs)
    print(activation, diffs, orders)
    assert diffs[-1] < 1.5e-4
    assert orders.mean() >= 1.9


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_energy_distance_gradient_against_the_exact_gradient(activation):
    """The exact E(f(T), g) from the exact CDF F(T, x) = F_0(X_0(T, x)) (energy distance =
    2∫(F - G)² for equal masses, integrated by Gauss on a fine grid), differenced in θ."""
    loss = losses.EnergyDistance(TARGET)
    g = loss.target_law
    z = np.union1d(np.linspace(-4.0, 6.0, 40001), g.edges)
    a, h = z[:-1], np.diff(z)

    def value(th):
        total = 0.0
        for s in losses._GAUSS2:
            x = a + s * h
            x0 = exact.characteristic(activation, th[2], th[3], x, -(FINAL - SWITCH))
            x0 = exact.characteristic(activation, th[0], th[1], x0, -SWITCH)
            total += 0.5 * (h * (ndtr((x0 - 0.5) / 0.4) - g.cdf(x)) ** 2).sum()
        return 2 * total

    step = 1e-5
    reference = np.array(
        [(value(THETA + step * e) - value(THETA - step * e)) / (2 * step) for e in np.eye(4)]
    )
    errors = []
    for n in (200, 400):
        problem = problem_of(activation, THETA, n, True)
        grad = adjoint.gradient(
            problem, BUMP.cell_probabilities([problem.frame.edges(0)]), loss, FINAL
        )
        errors.append(np.abs(grad.flat - reference).max() / np.abs(reference).max())
    print(activation, errors)
    assert errors[-1] < 1e-4 and errors[0] / errors[1] > 3.5


def identity_sensitivities(theta, mu0=5.0, v0=3.0):
    """docs/model.md §3.4 composed over the two segments (chain rule through μ at the
    switch): d(mean)/dθ and d(variance)/dθ at T."""
    (w0, b0), (w1, b1) = np.asarray(theta, float).reshape(2, 2)
    t0, t1 = SWITCH, FINAL - SWITCH
    e0, e1 = np.exp(w0 * t0), np.exp(w1 * t1)
    mu1 = (mu0 + b0 / w0) * e0 - b0 / w0
    dmu1_dw0 = t0 * e0 * (mu0 + b0 / w0) - b0 / w0**2 * (e0 - 1)
    dmu1_db0 = (e0 - 1) / w0
    dmean = np.array(
        [
            e1 * dmu1_dw0,
            e1 * dmu1_db0,
            t1 * e1 * (mu1 + b1 / w1) - b1 / w1**2 * (e1 - 1),
            (e1 - 1) / w1,
        ]
    )
    var = v0 * np.exp(2 * (w0 * t0 + w1 * t1))
    dvar = np.array([2 * t0 * var, 0.0, 2 * t1 * var, 0.0])
    return dmean, dvar


@pytest.mark.parametrize("theta", [THETA, np.array([-1.0, 0.5, -1.0, 0.5])])
def test_identity_gradients_equal_the_closed_form_sensitivities(theta):
    """σ = identity on the moving frame transports U[2, 8] exactly: the gradients of the mean
    and the variance at T equal §3.4 (composed over two segments) to 1e-8 relative."""
    frame = vlasov.Frame(np.array([2.0]), np.array([8.0]), (50,), True)
    problem = vlasov.VlasovProblem("identity", segments_of(theta), None, frame)
    dmean, dvar = identity_sensitivities(theta)
    mean = adjoint.gradient(problem, UNIFORM, losses.Mean(), FINAL)
    var = adjoint.gradient(problem, UNIFORM, losses.Variance(), FINAL)
    print(mean.flat, dmean, var.flat, dvar)
    assert np.abs(mean.flat - dmean).max() <= 1e-8 * np.abs(dmean).max()
    assert np.abs(var.flat - dvar).max() <= 1e-8 * np.abs(dvar).max()
    first = exact.identity_moments(5.0, 3.0, theta[0], theta[1], SWITCH)
    last = exact.identity_moments(
        first["mean"], first["variance"], theta[2], theta[3], FINAL - SWITCH
    )
    assert mean.value == pytest.approx(float(last["mean"]), rel=1e-13)
    assert var.value == pytest.approx(float(last["variance"]), rel=1e-12)


def test_flow_and_its_derivative():
    """The closed-form flow and ∂_xΦ against RK4 on the variational system, and the
    composition over the segments against the exact characteristics."""
    x = np.linspace(-3.0, 3.0, 41)
    for activation in ("identity", "tanh", "sigmoid", "relu"):
        for w, b in ((-0.7, 1.3), (0.4, -0.2), (1.0, -0.3), (0.0, 0.7), (-2.0, 0.0)):
            phi, jac = adjoint.segment_flow(activation, w, b, x, 0.8, "exact")
            phi_rk, jac_rk = adjoint.segment_flow(activation, w, b, x, 0.8, "rk4")
            assert np.abs(phi - phi_rk).max() < 1e-10, (activation, w, b)
            if activation != "relu":  # RK4 across ReLU's kink is only first order
                assert np.abs(jac - jac_rk).max() < 1e-10, (activation, w, b)
            step = 1e-6
            fd = (
                adjoint.segment_flow(activation, w, b, x + step, 0.8)[0]
                - adjoint.segment_flow(activation, w, b, x - step, 0.8)[0]
            ) / (2 * step)
            smooth = np.abs(w * x + b) > 1e-3 if activation == "relu" else slice(None)
            assert np.allclose(fd[smooth], jac[smooth], rtol=1e-7, atol=1e-8)
    # a rest point: ∂_xΦ = e^{σ'(0) w τ} there, no 0/0
    phi, jac = adjoint.segment_flow("tanh", 1.0, -5.0, np.array([5.0]), 2.0)
    assert phi[0] == 5.0 and jac[0] == pytest.approx(np.exp(2.0), rel=1e-14)
    # composition over the segments from a time inside the first one
    segs = segments_of(THETA)
    phi, jac = adjoint.flow_to_final("tanh", segs, FINAL, 0, 0.2, x)
    ref = exact.characteristic("tanh", THETA[0], THETA[1], x, SWITCH - 0.2)
    ref = exact.characteristic("tanh", THETA[2], THETA[3], ref, FINAL - SWITCH)
    assert np.allclose(phi, ref, rtol=1e-14, atol=1e-14)
    # tiny weights: the closed form loses digits, RK4 takes over
    phi, jac = adjoint.segment_flow("tanh", 1e-9, 0.3, x, 1.0)
    assert np.allclose(phi, x + np.tanh(0.3), atol=1e-8)


def test_time_nodes_integrate_each_segment():
    segs = segments_of(THETA, switch=0.3)
    t, w, s = adjoint.time_nodes(segs, 1.7, nodes=5, panel=0.5)
    assert w.sum() == pytest.approx(1.7, rel=1e-14)
    assert w[s == 0].sum() == pytest.approx(0.3, rel=1e-14)
    assert np.all(t[s == 0] < 0.3) and np.all(t[s == 1] > 0.3)
    assert (w * np.exp(-t)).sum() == pytest.approx(1 - np.exp(-1.7), rel=1e-13)
    # a segment that ends after T, one that starts after T
    t, w, s = adjoint.time_nodes(segs, 0.2)
    assert set(s.tolist()) == {0} and w.sum() == pytest.approx(0.2)


def test_feedback_and_higher_dimensions_are_refused():
    frame = vlasov.Frame(np.array([2.0]), np.array([8.0]), (20,), True)
    problem = vlasov.VlasovProblem("tanh", segments_of(THETA), -1.0, frame)
    with pytest.raises(ValueError, match="feedback"):
        adjoint.gradient(problem, UNIFORM, losses.Mean(), 1.0)
    frame2 = vlasov.Frame(np.zeros(2), np.ones(2), (8, 8), True)
    seg2 = (Segment(0.0, np.inf, np.eye(2), np.zeros(2)),)
    with pytest.raises(ValueError, match="1-D"):
        adjoint.gradient(
            vlasov.VlasovProblem("tanh", seg2, None, frame2),
            np.ones((8, 8)) / 64,
            losses.Mean(),
            1.0,
        )


def test_classification_gradient_from_the_vehicle_law():
    """The classification loss from U[2, 8] split at 5 m (two class laws, one solve each):
    the adjoint gradient against differences of the solver on a fixed frame."""
    loss = losses.Classification()
    theta = np.array([1.0, -5.0, 0.8, -0.2])
    for n, tol in ((300, 2e-3),):  # measured 4e-4: the class laws jump at 5 m
        frame = vlasov.Frame(np.array([-2.0]), np.array([12.0]), (n,), False)
        problem = vlasov.VlasovProblem("tanh", segments_of(theta), None, frame)
        masses = loss.initial_masses(UNIFORM, frame.edges(0))
        grad = adjoint.gradient(problem, masses, loss, FINAL, max_step=2.0 / n)
        fd = np.empty(4)
        for j in range(4):
            e = np.zeros(4)
            e[j] = 1e-4
            vals = [
                adjoint.loss_value(
                    vlasov.VlasovProblem("tanh", segments_of(theta + s * e), None, frame),
                    masses,
                    loss,
                    FINAL,
                    max_step=2.0 / n,
                )
                for s in (1, -1)
            ]
            fd[j] = (vals[0] - vals[1]) / 2e-4
        print(grad.flat, fd)
        assert np.abs(grad.flat - fd).max() <= tol * np.abs(fd).max()
