"""Moments of densities and of particle clouds, and Wasserstein-1 distances (1-D).

m_k(t) = ∫ x^k f(t, x) dx; mean μ = m_1/m_0, variance V = ∫ (x - μ)² f dx / m_0 (computed as
a central moment, not as m_2/m_0 - μ²), energy = m_2/m_0 = V + μ² (the second moment,
docs/model.md §4 [choice]). On a grid the density is piecewise constant and the moments are
exact for the cell averages.
"""

from __future__ import annotations

import numpy as np

NAMES = ("m0", "m1", "m2", "mean", "variance", "energy")


def _summary(m0, mean, variance) -> dict[str, np.ndarray]:
    """The six moments from the mass, the mean and the central variance (never the other
    way round: m2/m0 - mean² cancels catastrophically when the law is narrow)."""
    energy = variance + mean**2
    return {
        "m0": m0,
        "m1": m0 * mean,
        "m2": m0 * energy,
        "mean": mean,
        "variance": variance,
        "energy": energy,
    }


def grid_moments(density: np.ndarray, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Moments of piecewise constant densities (..., n) on cells with edges (..., n+1).

    Cell i holds the mass p_i = f_i h_i (h_i = e_{i+1} - e_i) spread uniformly around its
    centre c_i, so, exactly for the cell averages,

        m_0 = Σ p_i,   μ = Σ p_i c_i / m_0,   V = Σ p_i ((c_i - μ)² + h_i²/12) / m_0.

    The mean is summed about a cell centre of the grid and the variance about the mean:
    sums of terms of one sign, so a law contracted far below its distance from the origin
    keeps its digits (pairwise summation)."""
    h = np.diff(edges, axis=-1)
    centres = edges[..., :-1] + 0.5 * h
    p = density * h
    m0 = p.sum(axis=-1)
    ref = centres[..., centres.shape[-1] // 2]
    mean = ref + (p * (centres - ref[..., None])).sum(axis=-1) / m0
    spread = (centres - mean[..., None]) ** 2 + h**2 / 12.0
    return _summary(m0, mean, (p * spread).sum(axis=-1) / m0)


def check_projection(
    mean, variance, masses_per_axis, edges_per_axis, tolerance: float = 1e-2
) -> None:
    """Refuse a grid on which the initial law's cell averages lose its mean (by more than
    ``tolerance`` standard deviations) or its variance (by more than ``tolerance``
    relative): too few cells across the law, or a domain that cuts it off."""
    for r, (masses, edges) in enumerate(zip(masses_per_axis, edges_per_axis, strict=True)):
        got = grid_moments(masses / np.diff(edges), edges)
        std = float(np.sqrt(variance[r]))
        dm = abs(float(got["mean"]) - mean[r]) / std
        dv = abs(float(got["variance"]) / variance[r] - 1.0)
        if dm > tolerance or dv > tolerance:
            raise ValueError(
                f"the grid does not resolve the initial law on axis {r}: its cell averages "
                f"have mean {float(got['mean']):.6g} and variance {float(got['variance']):.6g} "
                f"against {mean[r]:.6g} and {variance[r]:.6g} (cells {edges.size - 1} on "
                f"[{edges[0]:.4g}, {edges[-1]:.4g}], pde.resolution_tolerance {tolerance:g}): "
                "raise pde.cells, or widen/narrow pde.domain (pde.frame_width on a moving "
                "Fokker-Planck grid)"
            )


def particle_moments(x: np.ndarray) -> dict[str, np.ndarray]:
    """Moments of the empirical measure (1/M) Σ δ_{x_i} over the last axis (particles):
    the corrected two-pass variance V = (Σ d_i² - (Σ d_i)²/M)/M, d_i = x_i - x̄, with
    pairwise sums over a contiguous axis."""
    x = np.ascontiguousarray(x, dtype=float)
    mean = x.mean(axis=-1)
    d = x - mean[..., None]
    m = x.shape[-1]
    var = ((d**2).sum(axis=-1) - d.sum(axis=-1) ** 2 / m) / m
    return _summary(np.ones_like(mean), mean, var)


def particle_standard_errors(x: np.ndarray) -> dict[str, np.ndarray]:
    """Monte-Carlo standard errors of the particle mean, variance and energy estimates."""
    m = x.shape[-1]
    c = x - x.mean(axis=-1, keepdims=True)
    var = (c**2).mean(axis=-1)
    mu4 = (c**4).mean(axis=-1)
    se_var = np.sqrt(np.maximum(mu4 - var**2, 0.0) / m)
    se_energy = np.sqrt((x**2).var(axis=-1) / m)
    zero = np.zeros_like(var)
    return {
        "m0": zero,
        "m1": np.sqrt(var / m),
        "m2": se_energy,
        "mean": np.sqrt(var / m),
        "variance": se_var,
        "energy": se_energy,
    }


def w1_cdf(edges: np.ndarray, cdf_a: np.ndarray, cdf_b: np.ndarray) -> float:
    """W1 = ∫ |F_a - F_b| dx for two CDFs given at the same edges and linear in between
    (exact: the difference is linear on each cell; a sign change is integrated exactly)."""
    return _integral_abs_linear(cdf_a[:-1] - cdf_b[:-1], cdf_a[1:] - cdf_b[1:], np.diff(edges))


def w1_particles_grid(samples: np.ndarray, edges: np.ndarray, masses: np.ndarray) -> float:
    """W1 between the empirical law of 1-D samples and a piecewise constant density given by
    cell masses on edges: ∫ |F_M - F| dx on the union of both supports."""
    s = np.sort(np.asarray(samples, dtype=float))
    grid_cdf = np.concatenate([[0.0], np.cumsum(masses)]) / masses.sum()
    pts = np.union1d(edges, s)
    pts = np.union1d(pts, [min(s[0], edges[0]), max(s[-1], edges[-1])])
    f_grid = np.interp(pts, edges, grid_cdf, left=0.0, right=1.0)
    f_emp = np.searchsorted(s, pts, side="right") / s.size
    # on [p_j, p_{j+1}) the empirical CDF is f_emp[j], the grid CDF is linear
    return _integral_abs_linear(f_emp[:-1] - f_grid[:-1], f_emp[:-1] - f_grid[1:], np.diff(pts))


def _integral_abs_linear(d0, d1, h) -> float:
    """Σ ∫ |d| over intervals of widths h on which d is linear from d0 to d1."""
    same = d0 * d1 >= 0
    area = np.where(
        same,
        0.5 * np.abs(d0 + d1) * h,
        0.5 * h * (d0**2 + d1**2) / np.maximum(np.abs(d0) + np.abs(d1), 1e-300),
    )
    return float(area.sum())
