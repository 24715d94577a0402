"""Training the 1-D network on a loss of its output law: L-BFGS-B over the segment parameters.

θ = (w_0, b_0, w_1, b_1, ...): the constant weight and bias of each segment [t_s, t_{s+1})
(``switches`` = t_1, ..., t_{S-1}). Two objectives give J(θ) and dJ/dθ:

* :func:`mean_field_objective`: the Vlasov solution of the class laws (or of one law) and
  the adjoint gradient (:mod:`.adjoint`);
* :func:`particle_objective`: the network on data points and backpropagation
  (:mod:`.backprop`).

:func:`train` hands either to ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` within
box bounds on θ (the bounds keep the flow, and so the forward solves, moderate). A forward
solve that fails (a collapsing grid box, a CFL violation) counts as a failed step: the
objective returns ``failure_value`` and a zero gradient, and the line search backs off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import adjoint, backprop, vlasov
from .settings import Segment


def segments_from(theta, switches) -> tuple[Segment, ...]:
    """The 1-D segments of θ = (w_0, b_0, w_1, b_1, ...) switching at ``switches``."""
    theta = np.asarray(theta, dtype=float).reshape(-1, 2)
    if len(theta) != len(switches) + 1:
        raise ValueError(f"{len(theta)} segments need {len(theta) - 1} switch times")
    starts = (0.0, *map(float, switches))
    untils = (*map(float, switches), np.inf)
    return tuple(
        Segment(s, u, np.array([[w]]), np.array([b]))
        for (w, b), s, u in zip(theta, starts, untils, strict=True)
    )


def mean_field_objective(
    activation, switches, final_time, frame: vlasov.Frame, initial, loss, solver=None, **options
):
    """θ ↦ (J, dJ/dθ) of the mean-field model: ``solver`` holds VlasovProblem settings (cfl,
    frame_step), ``options`` go to :func:`adjoint.gradient`."""
    solver = solver or {}

    def objective(theta):
        problem = vlasov.VlasovProblem(
            activation, segments_from(theta, switches), None, frame, **solver
        )
        grad = adjoint.gradient(problem, initial, loss, final_time, **options)
        return grad.value, grad.flat

    return objective


def particle_objective(
    points, activation, switches, final_time, layers, loss, weights=None, labels=None
):
    """θ ↦ (J, dJ/dθ) of the network with ``layers`` layers on the data ``points``."""

    def objective(theta):
        grad = backprop.gradient(
            points,
            activation,
            segments_from(theta, switches),
            final_time,
            layers,
            loss,
            weights,
            labels,
        )
        return grad.value, grad.flat

    return objective


@dataclass
class TrainingResult:
    theta: np.ndarray
    value: float
    initial_value: float
    history: list = field(default_factory=list)
    evaluations: int = 0
    message: str = ""
    #: per iteration (the start θ_0 first, then each accepted L-BFGS-B iterate):
    #: (θ, J, |dJ/dθ|) with the objective's gradient at that θ
    iterations: list = field(default_factory=list)


def train(
    objective,
    theta0,
    bounds=None,
    max_iterations: int = 200,
    tolerance: float = 1e-12,
    failure_value: float = 1e10,
    target: float | None = None,
) -> TrainingResult:
    """Minimise J(θ) from θ_0 by L-BFGS-B with the objective's exact gradient; with
    ``target``, stop after the first iteration that reaches J <= target."""
    history, iterations, evaluated = [], [], {}

    def record(theta, value):
        grad = evaluated.get(np.asarray(theta, dtype=float).tobytes())
        norm = float(np.linalg.norm(grad)) if grad is not None else np.nan
        iterations.append((np.array(theta, dtype=float), float(value), norm))

    def reached(intermediate_result):
        record(intermediate_result.x, intermediate_result.fun)
        if target is not None and intermediate_result.fun <= target:
            raise StopIteration

    def safe(theta):
        try:
            value, grad = objective(theta)
        except FloatingPointError:
            return failure_value, np.zeros_like(theta)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return failure_value, np.zeros_like(theta)
        history.append(float(value))
        evaluated[np.asarray(theta, dtype=float).tobytes()] = np.asarray(grad, dtype=float)
        return float(value), np.asarray(grad, dtype=float)

    from scipy.optimize import minimize  # imported where used: the figure jobs import this

    theta0 = np.asarray(theta0, dtype=float)
    initial = safe(theta0)[0]
    record(theta0, initial)
    result = minimize(
        safe,
        theta0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iterations, "ftol": tolerance, "gtol": 1e-10},
        callback=reached,
    )
    return TrainingResult(
        theta=result.x,
        value=float(result.fun),
        initial_value=initial,
        history=history,
        evaluations=int(result.nfev),
        message=str(result.message),
        iterations=iterations,
    )
