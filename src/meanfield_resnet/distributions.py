"""Initial and target distributions of the data: uniform, Gaussian, or the law of samples.

The finite-volume solvers start from exact cell averages, (1/|C|) ∫_C f_0 dx, computed from
the cumulative distribution function, so the projection onto the grid preserves mass. The law
of a data set (vehicle lengths, regression slopes/intercepts) is its Gaussian kernel density
estimate (bandwidth = factor × Scott's rule), whose cell averages are again CDF differences
(one Gaussian CDF per sample and axis), or its histogram ("histogram" smoothing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def ndtr(z):
    """The standard normal CDF Φ(z), scipy's ``special.ndtr``, imported where first used:
    every job imports this module and scipy.special costs it 0.2 s."""
    from scipy.special import ndtr as phi

    return phi(z)


@dataclass(frozen=True)
class Distribution:
    """A probability law on R^d: ``uniform``, ``gaussian`` (product form) or ``samples``."""

    kind: str
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    mean_: np.ndarray | None = None
    std: np.ndarray | None = None
    truncate: float = 8.0
    samples: np.ndarray | None = None  # (n, d)
    smoothing: str = "kde"
    bandwidth: np.ndarray | None = None  # per axis

    @property
    def dimension(self) -> int:
        for v in (self.low, self.mean_, self.samples):
            if v is not None:
                return v.shape[-1]
        raise AssertionError("empty distribution")

    def mean(self) -> np.ndarray:
        if self.kind == "uniform":
            return 0.5 * (self.low + self.high)
        if self.kind == "gaussian":
            return self.mean_
        return self.samples.mean(axis=0)

    def variance(self) -> np.ndarray:
        """Variance per axis (the KDE's: sample variance plus the kernel's)."""
        if self.kind == "uniform":
            return (self.high - self.low) ** 2 / 12.0
        if self.kind == "gaussian":
            return self.std**2
        kernel = self.bandwidth**2 if self.smoothing == "kde" else 0.0
        return self.samples.var(axis=0) + kernel

    def support(self) -> np.ndarray:
        """Interval [lo, hi] per axis, shape (d, 2), outside which the law has no mass
        (Gaussian tails cut at ``truncate`` standard deviations, KDE tails at 8 bandwidths)."""
        if self.kind == "uniform":
            return np.stack([self.low, self.high], axis=1)
        if self.kind == "gaussian":
            return np.stack(
                [self.mean_ - self.truncate * self.std, self.mean_ + self.truncate * self.std],
                axis=1,
            )
        pad = 8.0 * self.bandwidth if self.smoothing == "kde" else 0.0
        lo, hi = self.samples.min(axis=0) - pad, self.samples.max(axis=0) + pad
        if self.smoothing == "histogram":
            span = np.maximum(hi - lo, 1e-12)
            lo, hi = lo - 1e-6 * span, hi + 1e-6 * span
        return np.stack([lo, hi], axis=1)

    def axis_cdf_weights(self, axis: int, edges: np.ndarray) -> np.ndarray:
        """Probability of each cell along one axis, per kernel: shape (kernels, cells)."""
        if self.kind == "uniform":
            lo, hi = self.low[axis], self.high[axis]
            cdf = np.clip((edges - lo) / (hi - lo), 0.0, 1.0)
        elif self.kind == "gaussian":
            cdf = ndtr((edges - self.mean_[axis]) / self.std[axis])
        else:
            s = self.samples[:, axis : axis + 1]
            cdf = ndtr((edges[None, :] - s) / self.bandwidth[axis])
        return np.diff(np.atleast_2d(cdf), axis=-1)

    def cell_probabilities(self, edges: list[np.ndarray]) -> np.ndarray:
        """Mass of each cell of the tensor grid with the given edges, normalised to 1 on the
        grid (the truncated tails are redistributed proportionally)."""
        if self.kind == "samples" and self.smoothing == "histogram":
            counts, _ = np.histogramdd(self.samples, bins=edges)
            mass = counts
        else:
            w = [self.axis_cdf_weights(a, e) for a, e in enumerate(edges)]
            # einsum's own loops, not BLAS: the sum order (and so every bit) must not
            # depend on how many threads a job gets
            mass = w[0].sum(axis=0) if len(w) == 1 else np.einsum("ki,kj->ij", w[0], w[1])
        total = mass.sum()
        if not total > 0:
            raise ValueError("the initial distribution has no mass on the grid")
        return mass / total

    def density_1d(self, x: np.ndarray) -> np.ndarray:
        """Probability density at points x (1-D laws)."""
        x = np.asarray(x, dtype=float)
        if self.kind == "uniform":
            lo, hi = self.low[0], self.high[0]
            return np.where((x >= lo) & (x <= hi), 1.0 / (hi - lo), 0.0)
        if self.kind == "gaussian":
            z = (x - self.mean_[0]) / self.std[0]
            return np.exp(-0.5 * z**2) / (np.sqrt(2 * np.pi) * self.std[0])
        h = self.bandwidth[0]
        z = (x[..., None] - self.samples[:, 0]) / h
        return np.exp(-0.5 * z**2).sum(axis=-1) / (np.sqrt(2 * np.pi) * h * len(self.samples))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n independent draws, shape (n, d) (a smoothed bootstrap for the KDE)."""
        d = self.dimension
        if self.kind == "uniform":
            return self.low + (self.high - self.low) * rng.random((n, d))
        if self.kind == "gaussian":
            z = rng.standard_normal((n, d))
            return self.mean_ + self.std * np.clip(z, -self.truncate, self.truncate)
        picks = self.samples[rng.integers(0, len(self.samples), n)]
        if self.smoothing == "kde":
            picks = picks + self.bandwidth * np.clip(rng.standard_normal((n, d)), -8, 8)
        return picks


def scott_bandwidth(samples: np.ndarray, factor: float = 1.0) -> np.ndarray:
    """Scott's rule h = σ n^{-1/(d+4)} per axis, times ``factor``."""
    n, d = samples.shape
    return factor * samples.std(axis=0, ddof=1) * n ** (-1.0 / (d + 4))


def from_spec(spec: dict, dimension: int, samples: np.ndarray | None = None) -> Distribution:
    """Build a Distribution from a validated config entry (``samples`` for kind 'samples')."""

    def vec(v):
        v = np.atleast_1d(np.asarray(v, dtype=float))
        return np.full(dimension, v[0]) if v.size == 1 else v

    if spec["kind"] == "uniform":
        return Distribution("uniform", low=vec(spec["low"]), high=vec(spec["high"]))
    if spec["kind"] == "gaussian":
        return Distribution(
            "gaussian",
            mean_=vec(spec["mean"]),
            std=vec(spec["std"]),
            truncate=float(spec.get("truncate", 8.0)),
        )
    if samples is None:
        raise ValueError(f"distribution from {spec['source']!r} needs its data set")
    samples = np.asarray(samples, dtype=float).reshape(len(samples), dimension)
    if not np.all(np.isfinite(samples)):
        raise ValueError(f"data source {spec['source']!r} contains NaN or Inf")
    return Distribution(
        "samples",
        samples=samples,
        smoothing=spec.get("smoothing", "kde"),
        bandwidth=scott_bandwidth(samples, spec.get("bandwidth", 1.0)),
    )
