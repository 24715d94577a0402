"""Losses J(f(T)) on the output law of the 1-D network, with their exact first variations.

Training the mean-field model (docs/model.md §6) needs, besides the value J of a loss on the
law f(T, ·), its first variation δJ/δf (the final condition of the adjoint equation) and the
derivative of that in x (what the adjoint transport carries along the characteristics). A
loss is a small object with

* ``value(edges, masses)``: J of the piecewise-constant density with the given cell masses on
  the cells [e_i, e_{i+1}] (the finite-volume solution's representation);
* ``variation(x, edges, masses)``: δJ/δf at any points x (the derivative of J along a
  perturbation δf is ∫ δJ/δf δf dx; for a mass perturbation δm_i of cell i that is δm_i
  times the average of δJ/δf over the cell);
* ``variation_derivative(x, edges, masses)``: ∂_x δJ/δf at the points x;
* ``empirical_value(points, weights, labels)`` and ``empirical_gradient(points, weights,
  labels)``: the same loss on the weighted empirical measure Σ_i ω_i δ_{x_i} (ω_i = 1/M by
  default) and its gradient ∂J/∂x_i, which is ω_i ∂_x(δJ/δf)(x_i) (for the energy distance
  with the CDF at an atom taken as the mean of its left and right limits: the atom does not
  interact with itself).

Multi-law losses (``laws`` > 1: the classification loss) take masses of shape (laws, n),
edges of shape (n + 1) or (laws, n + 1), and points x of shape (laws, P) (or (P,), broadcast),
and return variations of shape (laws, P).

Every value is exact, up to round-off, for piecewise-constant densities and for atomic
(empirical) measures; a Gaussian or kernel-density target is first projected onto exact cell
averages on a fine grid (:func:`law_of`), and the energy distance to it is then exact for that
projection (O(h²) from the smooth target, h = its cell width).

Losses:

* :class:`Quadratic` ``J = ∫ (x - y)² f dx`` (δJ/δf = (x - y)²);
* :class:`Classification` ``J = Σ_c ∫ (x - y_c)² f_c dx`` over the class parts f_c of the law
  (the law restricted to class c's interval between thresholds, so Σ_c f_c = f: each evolves
  under the same network, the Vlasov equation without feedback being linear). The vehicles'
  default: cars (length <= 5 m) to y = -1, trucks (> 5 m) to y = +1. On the data this is the
  mean over the points of (x_i(T) - y_i)²;
* :class:`Mean`, :class:`Variance`: μ = m_1/m_0, V = m_2/m_0 - μ² (δμ/δf = (x - μ)/m_0,
  δV/δf = ((x - μ)² - V)/m_0);
* :class:`EnergyDistance` to a target law g: E(f, g) = 2∫∫|x-y| f g - ∫∫|x-x'| f f - ∫∫|y-y'| g g
  with δE/δf(x) = 2∫|x - y| g(y) dy - 2∫|x - x'| f(x') dx' and
  ∂_x δE/δf = 2(2G(x) - m_g) - 2(2F(x) - m_f) (F, G the cumulative distributions, m their
  masses). The value is evaluated through the identity (|x - y| = ∫ 1[z between x and y] dz)

      E = 2 ∫ (F - G)(F - G - (m_f - m_g)) dz,

  whose integrand is a quadratic polynomial in z between consecutive breakpoints of F and G
  (cell edges, atoms) for piecewise-constant and atomic laws: the two-point Gauss rule on each
  piece integrates it exactly, with no cancellation between the three double integrals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .distributions import Distribution

_GAUSS2 = 0.5 - 0.5 / np.sqrt(3.0), 0.5 + 0.5 / np.sqrt(3.0)  # nodes on [0, 1]


# ------------------------------------------------------------------------------------------
# Laws: piecewise-constant densities and atomic measures


@dataclass(frozen=True)
class CellLaw:
    """The piecewise-constant density with mass ``masses[i]`` spread evenly on the cell
    [edges[i], edges[i+1]]."""

    edges: np.ndarray
    masses: np.ndarray
    _cum: np.ndarray = field(init=False, repr=False)
    _cum_first: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        e = np.asarray(self.edges, dtype=float)
        m = np.asarray(self.masses, dtype=float)
        if e.ndim != 1 or m.shape != (e.size - 1,):
            raise ValueError(f"edges {e.shape} and masses {m.shape}: need n + 1 edges, n masses")
        if np.any(np.diff(e) < 0):
            raise ValueError("cell edges must be non-decreasing")
        object.__setattr__(self, "edges", e)
        object.__setattr__(self, "masses", m)
        centres = 0.5 * (e[1:] + e[:-1])
        object.__setattr__(self, "_cum", np.concatenate([[0.0], np.cumsum(m)]))
        object.__setattr__(self, "_cum_first", np.concatenate([[0.0], np.cumsum(m * centres)]))

    @property
    def total(self) -> float:
        return float(self._cum[-1])

    @property
    def first(self) -> float:
        return float(self._cum_first[-1])

    @property
    def breakpoints(self) -> np.ndarray:
        return self.edges

    def _locate(self, x):
        e = self.edges
        i = np.clip(np.searchsorted(e, x, side="right") - 1, 0, e.size - 2)
        h = e[i + 1] - e[i]
        xc = np.clip(x, e[i], e[i + 1])
        with np.errstate(invalid="ignore", divide="ignore"):
            u = np.where(h > 0, (xc - e[i]) / np.where(h > 0, h, 1.0), (x >= e[i + 1]) * 1.0)
        return i, u, xc

    def cdf(self, x):
        """F(x) = ∫_{-∞}^x f (piecewise linear)."""
        x = np.asarray(x, dtype=float)
        i, u, _ = self._locate(x)
        return self._cum[i] + self.masses[i] * u

    def partial_first(self, x):
        """∫_{-∞}^x y f(y) dy."""
        x = np.asarray(x, dtype=float)
        i, u, xc = self._locate(x)
        return self._cum_first[i] + self.masses[i] * u * 0.5 * (self.edges[i] + xc)

    def mean(self) -> float:
        return self.first / self.total

    def central_second(self, about: float) -> float:
        """∫ (x - about)² f dx, exactly: the average of (x - c)² over [a, b] is
        (u² + uv + v²)/3 with u = a - c, v = b - c."""
        return float((self.masses * _square_average(self.edges, about)).sum())


@dataclass(frozen=True)
class AtomLaw:
    """The atomic measure Σ_i ω_i δ_{x_i}. Its CDF at an atom is the mean of the left and
    right limits (the convention that makes ∂_x of the energy distance's variation at x_i the
    gradient with respect to x_i: an atom does not interact with itself)."""

    points: np.ndarray
    weights: np.ndarray
    _order: np.ndarray = field(init=False, repr=False)
    _cum: np.ndarray = field(init=False, repr=False)
    _cum_first: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        p = np.asarray(self.points, dtype=float).ravel()
        w = np.broadcast_to(np.asarray(self.weights, dtype=float), p.shape).ravel()
        order = np.argsort(p, kind="stable")
        ps, ws = p[order], w[order]
        object.__setattr__(self, "points", ps)
        object.__setattr__(self, "weights", ws)
        object.__setattr__(self, "_order", order)
        object.__setattr__(self, "_cum", np.concatenate([[0.0], np.cumsum(ws)]))
        object.__setattr__(self, "_cum_first", np.concatenate([[0.0], np.cumsum(ws * ps)]))

    @property
    def total(self) -> float:
        return float(self._cum[-1])

    @property
    def first(self) -> float:
        return float(self._cum_first[-1])

    @property
    def breakpoints(self) -> np.ndarray:
        return self.points

    def _mid(self, cum, x):
        x = np.asarray(x, dtype=float)
        lo = np.searchsorted(self.points, x, side="left")
        hi = np.searchsorted(self.points, x, side="right")
        return 0.5 * (cum[lo] + cum[hi])

    def cdf(self, x):
        return self._mid(self._cum, x)

    def partial_first(self, x):
        return self._mid(self._cum_first, x)

    def mean(self) -> float:
        return self.first / self.total

    def central_second(self, about: float) -> float:
        return float((self.weights * (self.points - about) ** 2).sum())


def _square_average(edges, c):
    u, v = edges[:-1] - c, edges[1:] - c
    return (u * u + u * v + v * v) / 3.0


def abs_potential(law, x):
    """∫ |x - y| dμ(y) = x (2F(x) - m) - 2 ∫_{-∞}^x y dμ + ∫ y dμ."""
    x = np.asarray(x, dtype=float)
    return x * (2 * law.cdf(x) - law.total) - 2 * law.partial_first(x) + law.first


def law_of(target, cells: int = 4096):
    """A :class:`CellLaw` or :class:`AtomLaw` from a target: returned as is if it already is
    one; a uniform :class:`Distribution` exactly (one cell); a Gaussian or kernel-density
    law as its exact cell averages on ``cells`` cells over its support (normalised to 1);
    the 'histogram' smoothing of samples, and a bare array of samples, as the empirical
    measure (weights 1/n)."""
    if isinstance(target, CellLaw | AtomLaw):
        return target
    if isinstance(target, Distribution):
        if target.dimension != 1:
            raise ValueError("losses are for 1-D laws")
        if target.kind == "uniform":
            return CellLaw(np.array([target.low[0], target.high[0]]), np.array([1.0]))
        if target.kind == "samples" and target.smoothing == "histogram":
            return empirical(target.samples[:, 0])
        lo, hi = target.support()[0]
        edges = np.linspace(lo, hi, cells + 1)
        return CellLaw(edges, target.cell_probabilities([edges]))
    return empirical(np.asarray(target, dtype=float))


def empirical(points, weights=None) -> AtomLaw:
    points = np.asarray(points, dtype=float).ravel()
    if weights is None:
        weights = np.full(points.size, 1.0 / points.size)
    return AtomLaw(points, weights)


# ------------------------------------------------------------------------------------------
# Losses


class SingleLawLoss:
    """A loss on one law, written once for piecewise-constant and atomic laws through
    ``_value(law)``, ``_variation(x, law)`` and ``_derivative(x, law)``."""

    laws = 1

    def value(self, edges, masses) -> float:
        return float(self._value(CellLaw(edges, masses)))

    def variation(self, x, edges, masses):
        return self._variation(np.asarray(x, dtype=float), CellLaw(edges, masses))

    def variation_derivative(self, x, edges, masses):
        return self._derivative(np.asarray(x, dtype=float), CellLaw(edges, masses))

    def empirical_value(self, points, weights=None, labels=None) -> float:
        return float(self._value(empirical(points, weights)))

    def empirical_gradient(self, points, weights=None, labels=None):
        """∂J/∂x_i = ω_i ∂_x(δJ/δf)(x_i) on the empirical measure, in the order of points."""
        points = np.asarray(points, dtype=float).ravel()
        law = empirical(points, weights)
        w = np.broadcast_to(law.weights, points.shape)  # sorted; undo below
        out = np.empty_like(points)
        out[law._order] = w * self._derivative(law.points, law)
        return out


@dataclass(frozen=True)
class Quadratic(SingleLawLoss):
    """J = ∫ (x - y)² f dx: push the law towards the point y."""

    target: float

    def _value(self, law):
        return law.central_second(self.target)

    def _variation(self, x, law):
        return (x - self.target) ** 2

    def _derivative(self, x, law):
        return 2.0 * (x - self.target)


@dataclass(frozen=True)
class Mean(SingleLawLoss):
    """J = μ = m_1/m_0; δJ/δf = (x - μ)/m_0."""

    def _value(self, law):
        return law.mean()

    def _variation(self, x, law):
        return (x - law.mean()) / law.total

    def _derivative(self, x, law):
        return np.full_like(x, 1.0 / law.total)


@dataclass(frozen=True)
class Variance(SingleLawLoss):
    """J = V = ∫ (x - μ)² f dx / m_0; δJ/δf = ((x - μ)² - V)/m_0, ∂_x δJ/δf = 2(x - μ)/m_0."""

    def _value(self, law):
        return law.central_second(law.mean()) / law.total

    def _variation(self, x, law):
        mu, m0 = law.mean(), law.total
        return ((x - mu) ** 2 - law.central_second(mu) / m0) / m0

    def _derivative(self, x, law):
        return 2.0 * (x - law.mean()) / law.total


@dataclass(frozen=True)
class EnergyDistance(SingleLawLoss):
    """J = E(f, g), the energy distance to the target g (see the module docstring), exact for
    piecewise-constant and atomic f and g. ``target``: a :class:`CellLaw`, :class:`AtomLaw`,
    :class:`Distribution` or array of samples (see :func:`law_of`)."""

    target: object
    target_cells: int = 4096
    _g: object = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_g", law_of(self.target, self.target_cells))

    @property
    def target_law(self):
        return self._g

    def _value(self, law):
        g = self._g
        z = np.union1d(law.breakpoints, g.breakpoints)
        if z.size < 2:
            return 0.0
        a, h = z[:-1], np.diff(z)
        dm = law.total - g.total
        total = 0.0
        for s in _GAUSS2:
            d = law.cdf(a + s * h) - g.cdf(a + s * h)
            total += 0.5 * (h * d * (d - dm)).sum()
        return 2.0 * total

    def _variation(self, x, law):
        return 2.0 * abs_potential(self._g, x) - 2.0 * abs_potential(law, x)

    def _derivative(self, x, law):
        g = self._g
        return 2.0 * (2.0 * g.cdf(x) - g.total) - 2.0 * (2.0 * law.cdf(x) - law.total)


@dataclass(frozen=True)
class Classification:
    """J = Σ_c ∫ (x - y_c)² f_c(T, x) dx over the class parts f_c of the law: f_c is f_0
    restricted to class c's interval (thresholds[c-1], thresholds[c]] and carried by the
    network. Default: the vehicles (docs/model.md §4.2), cars (<= 5 m) to -1, trucks to +1.
    On points with class labels: Σ_i ω_i (x_i - y_{label_i})² (ω_i = 1/M: the mean)."""

    targets: tuple = (-1.0, 1.0)
    thresholds: tuple = (5.0,)

    def __post_init__(self):
        if len(self.targets) != len(self.thresholds) + 1:
            raise ValueError("need one target more than thresholds")
        if list(self.thresholds) != sorted(self.thresholds):
            raise ValueError("thresholds must increase")

    @property
    def laws(self) -> int:
        return len(self.targets)

    def labels(self, x):
        """The class of each point: the number of thresholds it exceeds."""
        return np.searchsorted(np.asarray(self.thresholds, float), np.asarray(x, float), "left")

    def initial_masses(self, law: Distribution, edges) -> np.ndarray:
        """Cell masses of the class parts (laws, n) of ``law`` on the cells with the given
        edges: exact CDF differences over each cell ∩ class interval, normalised like
        :meth:`Distribution.cell_probabilities` (the whole law sums to 1 on the grid)."""
        edges = np.asarray(edges, dtype=float)
        bounds = np.concatenate([[-np.inf], self.thresholds, [np.inf]])
        parts = np.stack(
            [
                law.axis_cdf_weights(0, np.clip(edges, bounds[c], bounds[c + 1])).mean(axis=0)
                for c in range(self.laws)
            ]
        )
        total = parts.sum()
        if not total > 0:
            raise ValueError("the law has no mass on the grid")
        return parts / total

    def _targets(self):
        return np.asarray(self.targets, dtype=float)

    def _check(self, masses):
        masses = np.asarray(masses, dtype=float)
        if masses.ndim != 2 or masses.shape[0] != self.laws:
            raise ValueError(f"classification needs masses of shape ({self.laws}, n)")
        return masses

    def value(self, edges, masses) -> float:
        masses = self._check(masses)
        edges = np.broadcast_to(np.asarray(edges, float), (self.laws, masses.shape[1] + 1))
        return float(
            sum(
                (masses[c] * _square_average(edges[c], y)).sum()
                for c, y in enumerate(self._targets())
            )
        )

    def _points(self, x):
        x = np.asarray(x, dtype=float)
        return np.broadcast_to(x, (self.laws, *x.shape[-1:])) if x.ndim == 1 else x

    def variation(self, x, edges, masses):
        return (self._points(x) - self._targets()[:, None]) ** 2

    def variation_derivative(self, x, edges, masses):
        return 2.0 * (self._points(x) - self._targets()[:, None])

    def _labelled(self, points, weights, labels):
        points = np.asarray(points, dtype=float).ravel()
        if labels is None:
            raise ValueError("the classification loss on points needs their labels")
        y = self._targets()[np.asarray(labels)]
        w = np.full(points.size, 1.0 / points.size) if weights is None else weights
        return points, np.broadcast_to(np.asarray(w, float), points.shape), y

    def empirical_value(self, points, weights=None, labels=None) -> float:
        x, w, y = self._labelled(points, weights, labels)
        return float((w * (x - y) ** 2).sum())

    def empirical_gradient(self, points, weights=None, labels=None):
        x, w, y = self._labelled(points, weights, labels)
        return 2.0 * w * (x - y)

    def accuracy(self, points, labels) -> float:
        """Share of points whose output lies nearest their own class's target."""
        y = self._targets()
        nearest = np.abs(np.asarray(points, float)[:, None] - y[None, :]).argmin(axis=1)
        return float((nearest == np.asarray(labels)).mean())
