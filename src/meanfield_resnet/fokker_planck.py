"""Structure-preserving solver of the Fokker-Planck model (Fig. 9, fitting a target law):

    ∂_t f + ∂_x(σ(wx + b) f) = ∂_xx(K(x) f),   zero-flux boundaries.

Written as J = v f - ∂_x(K f) = A f - K ∂_x f with A = v - K', the Scharfetter-Gummel
(exponential fitting) flux at face i+1/2,

    J_{i+1/2} = (K_{i+1/2}/Δx) [B(-z) f_i - B(z) f_{i+1}],  z = Δx A_{i+1/2}/K_{i+1/2},
    B(z) = z/(e^z - 1),  A_{i+1/2} = v(x_{i+1/2}) - (K_{i+1} - K_i)/Δx,

is exact for the face-local problem, so the discrete zero-flux state satisfies
f_{i+1}/f_i = e^{z}, the discrete counterpart of g'/g = (v - K')/K, i.e. (K g)' = v g: the
scheme's steady state is the continuous one up to a second-order quadrature of ∫(v - K')/K.
It degenerates to upwinding
where K → 0 (the ends of a fitted uniform target). Time stepping: θ-scheme on the tridiagonal
system (θ = 1 backward Euler: an M-matrix, so positivity holds for any Δt; θ = 1/2
Crank-Nicolson, second order); no Δt ~ Δx² restriction. Columns of the operator sum to zero,
so mass is conserved to round-off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import exact
from ._jit import jit, subnormals_flushed
from .activations import sigma_numpy
from .moments import w1_cdf


def bernoulli(z: np.ndarray) -> np.ndarray:
    """B(z) = z/(e^z - 1), stable for small and large |z|."""
    z = np.atleast_1d(np.asarray(z, dtype=float))
    out = np.empty_like(z)
    small, large = np.abs(z) < 1e-10, z > 700
    mid = ~small & ~large
    out[small] = 1.0 - 0.5 * z[small]
    out[large] = z[large] * np.exp(-z[large])
    out[mid] = z[mid] / np.expm1(z[mid])
    return out


def operator(
    edges: np.ndarray, velocity_faces: np.ndarray, k_centres: np.ndarray, k_faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tridiagonal A (lower, diag, upper) with df/dt = A f for the Scharfetter-Gummel flux
    J_f = alpha_f f_left - beta_f f_right on the n-1 interior faces (no flux at the ends)."""
    dx = edges[1] - edges[0]
    drift = velocity_faces - np.diff(k_centres) / dx
    degenerate = k_faces <= 1e-300
    kf = np.where(degenerate, 1.0, k_faces)
    z = np.where(degenerate, 0.0, dx * drift / kf)
    alpha = np.where(degenerate, np.maximum(drift, 0.0), kf * bernoulli(-z) / dx)
    beta = np.where(degenerate, np.maximum(-drift, 0.0), kf * bernoulli(z) / dx)
    diag = np.zeros(k_centres.size)
    diag[:-1] -= alpha / dx
    diag[1:] -= beta / dx
    return alpha / dx, diag, beta / dx  # sub-diagonal (f_{i-1} in row i), diagonal, super


@jit
def theta_step(f, lower, diag, upper, dt, theta, out):
    """(I - θ dt A) out = (I + (1-θ) dt A) f, A tridiagonal; Thomas algorithm."""
    n = f.size
    rhs = np.empty(n)
    e = (1.0 - theta) * dt
    for i in range(n):
        r = f[i] + e * diag[i] * f[i]
        if i > 0:
            r += e * lower[i - 1] * f[i - 1]
        if i < n - 1:
            r += e * upper[i] * f[i + 1]
        rhs[i] = r
    c = np.empty(n)
    a = theta * dt
    b0 = 1.0 - a * diag[0]
    c[0] = -a * upper[0] / b0 if n > 1 else 0.0
    out[0] = rhs[0] / b0
    for i in range(1, n):
        sub = -a * lower[i - 1]
        den = 1.0 - a * diag[i] - sub * c[i - 1]
        c[i] = -a * upper[i] / den if i < n - 1 else 0.0
        out[i] = (rhs[i] - sub * out[i - 1]) / den
    for i in range(n - 2, -1, -1):
        out[i] -= c[i] * out[i + 1]


def discrete_steady_state(lower, diag, upper, dx) -> np.ndarray:
    """The scheme's own steady state: A f = 0 with mass Σ f Δx = 1 (one equation of the
    singular system replaced by the mass constraint; dense solve, for verification)."""
    a = np.diag(diag) + np.diag(lower, -1) + np.diag(upper, 1)
    row = int(np.argmax(np.abs(diag)))
    a[row] = dx
    rhs = np.zeros(diag.size)
    rhs[row] = 1.0
    return np.linalg.solve(a, rhs)


@dataclass
class FokkerPlanckSolution:
    times: np.ndarray
    density: np.ndarray
    mass: np.ndarray
    min_density: np.ndarray
    steps: np.ndarray
    centres: np.ndarray
    dx: float
    target_density: np.ndarray | None
    w1_to_target: np.ndarray | None


def default_domain(law, activation, w, b, k, final_time, target=None, time_step=0.0) -> np.ndarray:
    """Initial support ∪ its image under the flow at T, widened by 12 √(2 K' (T_eff + Δt)),
    K' = max K + max v² Δt/2 (the numerical diffusion and the exponential tails of large
    backward-Euler steps); with a fitted
    target, the hull of the initial and target supports (K is small outside)."""
    lo, hi = law.support()[0]
    ends = exact.characteristic(activation, w, b, np.array([lo, hi]), final_time)
    pts = [lo, hi, *ends]
    if target is not None:  # K vanishes (or is small) outside the target: no diffusive spread
        a1, a2 = target.support()[0]
        return np.array([min(lo, a1), max(hi, a2)])
    span = np.linspace(min(pts), max(pts), 64)
    # backward Euler adds the numerical diffusion v² Δt / 2 to K
    vmax = float(np.max(np.abs(sigma_numpy(activation, w * span + b))))
    kmax = float(np.max(k(span))) + 0.5 * vmax**2 * time_step
    t_eff = min(final_time, 1.0 / abs(w)) if w != 0 else final_time
    pad = 12.0 * np.sqrt(2.0 * kmax * (t_eff + time_step))
    return np.array([min(pts) - pad, max(pts) + pad])


@subnormals_flushed()
def solve_experiment(
    law, activation, w, b, k, output_times, pde: dict, domain=None, target=None, log=None
) -> FokkerPlanckSolution:
    """Solve from the cell averages of ``law`` to each output time on a fixed grid."""
    if domain is None:
        domain = default_domain(
            law, activation, w, b, k, float(output_times[-1]), target, pde["time_step"]
        )
    n = int(pde["cells"])
    edges = np.linspace(domain[0], domain[1], n + 1)
    dx = edges[1] - edges[0]
    centres = 0.5 * (edges[1:] + edges[:-1])
    f = law.cell_probabilities([edges]) / dx
    lower, diag, upper = operator(
        edges, sigma_numpy(activation, w * edges[1:-1] + b), k(centres), k(edges[1:-1])
    )
    if np.any(k(centres) < 0):
        raise ValueError("diffusion K(x) is negative on the domain")
    natural_ends = target is not None and target.kind == "uniform"  # K = 0 at the ends
    target_cells = target.cell_probabilities([edges]) / dx if target is not None else None
    out, t, steps, new = [], 0.0, 0, np.empty(n)
    for t_out in np.asarray(output_times, dtype=float):
        count = int(np.ceil((t_out - t) / pde["time_step"] - 1e-9))
        for _ in range(count):
            theta_step(f, lower, diag, upper, (t_out - t) / count, pde["theta"], new)
            f, new = new, f
        steps += count
        t = t_out
        out.append(_check(f, dx, t, steps, None if natural_ends else pde["mass_tolerance"]))
        if log is not None:
            log(f"t = {t:g}: {steps} steps, mass {out[-1][1]:.15g}")
    dens = np.stack([o[0] for o in out])
    w1 = None
    if target_cells is not None:
        tc = np.concatenate([[0.0], np.cumsum(target_cells * dx)])
        w1 = np.array([w1_cdf(edges, np.concatenate([[0.0], np.cumsum(d * dx)]), tc) for d in dens])
    return FokkerPlanckSolution(
        times=np.asarray(output_times, float),
        density=dens,
        mass=np.array([o[1] for o in out]),
        min_density=np.array([o[2] for o in out]),
        steps=np.array([o[3] for o in out]),
        centres=centres,
        dx=dx,
        target_density=target_cells,
        w1_to_target=w1,
    )


def _check(f, dx, t, steps, tolerance):
    if not np.all(np.isfinite(f)):
        raise FloatingPointError(f"Fokker-Planck solution not finite at t = {t:g}")
    mass = float(f.sum() * dx)
    low = float(f.min())
    if low < -1e-14 * float(f.max()):
        raise FloatingPointError(f"negative density {low:.3e} at t = {t:g}")
    edge = float((f[:2].sum() + f[-2:].sum()) * dx) / mass
    if tolerance is not None and edge > max(tolerance, 1e-8) * 1e2:
        raise FloatingPointError(
            f"density reaches the boundary at t = {t:g} (mass fraction {edge:.2e} in the end "
            "cells): enlarge pde.domain"
        )
    return f.copy(), mass, low, steps
