"""The textbook numpy form of the 1-D Vlasov scheme of :mod:`meanfield_resnet.vlasov` (fixed
grid, WENO5-Z, Hu-Adams-Shu limiter, SSP-RK3; kernels in :mod:`meanfield_resnet.finite_volume`),
written with numpy array operations. It is the reference the tests check the kernels' flux
against (``tests/test_vlasov.py``) and the numpy baseline the benchmarks time
(``benchmarks/vlasov_1d.py``): the scheme as a user would write it. It restates the formulas
on purpose (the kernels' one-division form of the WENO-Z weights and clamp form of the
limiter differ from these only in rounding). Not used by the solvers."""

import numpy as np


def _weno5z(m2, m1, c, p1, p2, eps):
    b0 = 13 / 12 * (m2 - 2 * m1 + c) ** 2 + 0.25 * (m2 - 4 * m1 + 3 * c) ** 2
    b1 = 13 / 12 * (m1 - 2 * c + p1) ** 2 + 0.25 * (m1 - p1) ** 2
    b2 = 13 / 12 * (c - 2 * p1 + p2) ** 2 + 0.25 * (3 * c - 4 * p1 + p2) ** 2
    tau = np.abs(b0 - b2)
    a0 = 0.1 * (1 + (tau / (b0 + eps)) ** 2)
    a1 = 0.6 * (1 + (tau / (b1 + eps)) ** 2)
    a2 = 0.3 * (1 + (tau / (b2 + eps)) ** 2)
    q0 = (2 * m2 - 7 * m1 + 11 * c) / 6
    q1 = (-m1 + 5 * c + 2 * p1) / 6
    q2 = (2 * c + 5 * p1 - p2) / 6
    return (a0 * q0 + a1 * q1 + a2 * q2) / (a0 + a1 + a2)


def upwind_weno(m3, m2, left, right, p1, p2, uf, eps):
    """The WENO5-Z upwind flux uf q at faces between cells ``left`` and ``right``."""
    rec = np.where(
        uf >= 0,
        _weno5z(m3, m2, left, right, p1, eps),
        _weno5z(p2, p1, right, left, m2, eps),
    )
    return uf * rec


def limited_fluxes(m3, m2, left, right, p1, p2, uf, lam, eps):
    """Hu-Adams-Shu: F = low + θ (high - low), θ the largest in [0, 1] with
    left - λF >= 0 and right + λF >= 0 (low: first-order upwind, high: WENO5-Z)."""
    low = np.maximum(uf, 0) * left + np.minimum(uf, 0) * right
    high = upwind_weno(m3, m2, left, right, p1, p2, uf, eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(left - lam * high < 0, (left - lam * low) / (lam * (high - low)), 1.0)
        t2 = np.where(right + lam * high < 0, (right + lam * low) / (lam * (low - high)), 1.0)
    theta = np.clip(np.minimum(t1, t2), 0.0, 1.0)
    return low + theta * (high - low)


def _euler(g, u, dt, n):
    """One limited forward-Euler stage; u at the n+1 faces, zero flux at both ends."""
    p = np.pad(g, 3)
    s = [p[k + 1 : k + n] for k in range(6)]  # cells f-3 .. f+2 of interior faces f = 1..n-1
    eps = 1e-40 + 1e-12 * np.abs(g).max() ** 2
    flux = np.zeros(n + 1)
    flux[1:-1] = limited_fluxes(*s, u[1:-1], 2 * dt * n, eps)
    return g - dt * n * np.diff(flux)


def solve(g0, u, t_end, cfl=0.8):
    """Advance the mass per reference cell g0 with face velocities u (reference units)."""
    n = g0.size
    dt_max = cfl / (2 * n * np.abs(u).max())
    steps = int(np.ceil(t_end / dt_max))
    dt = t_end / steps
    g = g0.copy()
    for _ in range(steps):
        g1 = _euler(g, u, dt, n)
        g2 = 0.75 * g + 0.25 * _euler(g1, u, dt, n)
        g = g / 3 + 2 / 3 * _euler(g2, u, dt, n)
    return g, steps
