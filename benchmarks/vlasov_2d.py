"""2-D Vlasov (W = -I, Gaussian, fixed grid, t = 0.25): our solver from 32² to 512² (2048²
with --full), and py-pde (numba backend, central differences) on the same problem, side by
side, for the comparison at equal accuracy.

    python benchmarks/vlasov_2d.py            # writes benchmarks/results/vlasov_2d.json
    python benchmarks/vlasov_2d.py --full     # adds 2048² (ours) and 256² (py-pde)
    python benchmarks/vlasov_2d.py --smoke    # 32² once, no py-pde (seconds)

py-pde is an optional extra (``pip install -e ".[bench]"``); it recompiles on every solve
(10-30 s in 2-D), which its profiler reports apart.
"""

from __future__ import annotations

import numpy as np
from common import log, pypde_solve, subject_main, timed

from meanfield_resnet import exact, vlasov
from meanfield_resnet._jit import set_threads
from meanfield_resnet.distributions import Distribution
from meanfield_resnet.settings import Segment

T_2D = 0.25


def _gaussian_2d_masses(edges, t=T_2D):
    """Exact cell masses of the 2-D problem (W = -I, b = 0, Gaussian std 0.5): a product of
    the 1-D solutions on the same edges in x and y."""
    law = Distribution("gaussian", mean_=np.zeros(1), std=np.array([0.5]))
    m1 = exact.cell_masses(law, "identity", -1.0, 0.0, t, edges)
    return np.outer(m1, m1)


def vlasov_2d_ours(n):
    law = Distribution("gaussian", mean_=np.array([0.0, 0.0]), std=np.array([0.5, 0.5]))
    seg = (Segment(0.0, np.inf, np.diag([-1.0, -1.0]), np.zeros(2)),)
    frame = vlasov.Frame(np.array([-4.0, -4.0]), np.array([4.0, 4.0]), (n, n), moving=False)
    problem = vlasov.VlasovProblem("identity", seg, None, frame)
    masses = law.cell_probabilities([frame.edges(0), frame.edges(1)])
    # small grids: best of 3, so that loading the cached kernels is not timed
    wall, sol = timed(
        lambda: vlasov.solve(problem, masses, [0.0, T_2D]), repeat=3 if n <= 128 else 1
    )
    edges = frame.edges(0)
    cell = (edges[1] - edges[0]) ** 2
    err = np.abs(sol.density[-1] * cell - _gaussian_2d_masses(edges)).sum()
    steps = int(sol.steps[-1])
    return {
        "cells": f"{n}x{n}",
        "wall_s": wall,
        "l1": err,
        "steps": steps,
        "cell_updates_per_s": 3 * n * n * steps / wall,
    }


def vlasov_2d_pypde(n, tolerance=1e-7):
    """py-pde (numba backend, central differences, its default adaptive explicit stepper) on
    the problem of `vlasov_2d_ours`: ∂_t f + div(-x f) = 0, point values of the Gaussian."""
    import pde

    grid = pde.CartesianGrid([[-4.0, 4.0], [-4.0, 4.0]], [n, n])
    field = pde.ScalarField.from_expression(grid, "exp(-(x**2 + y**2)/0.5)/(0.5*pi)")
    eq = pde.PDE({"f": "-d_dx(-x*f) - d_dy(-y*f)"}, bc={"value": 0})
    res, timing = pypde_solve(eq, field, T_2D, 1e-4, tolerance, backend="numba")
    edges = np.linspace(-4.0, 4.0, n + 1)
    err = np.abs(res.data * (edges[1] - edges[0]) ** 2 - _gaussian_2d_masses(edges)).sum()
    return {
        "cells": f"{n}x{n}",
        **timing,
        "l1": err,
        "tolerance": tolerance,
    }


def run(full=False, smoke=False):
    """The rows of this subject, keyed as in benchmarks.json; ``smoke``: 32² once, no py-pde."""
    set_threads(2)  # as the memory subject leaves it in the full run
    r = {}
    if smoke:
        grids = [32]
    else:
        grids = [32, 40, 48, 56, 64, 128, 512] + ([2048] if full else [])  # small: equal accuracy
    r["vlasov_2d_ours"] = [vlasov_2d_ours(n) for n in grids]
    log(r["vlasov_2d_ours"])
    if not smoke:
        r["vlasov_2d_pypde"] = [vlasov_2d_pypde(n) for n in [64, 128] + ([256] if full else [])]
        log(r["vlasov_2d_pypde"])
    return r


def main(argv=None):
    return subject_main("vlasov_2d", __doc__, run, argv)


if __name__ == "__main__":
    main()
