"""1-D Vlasov (v = -x, Gaussian bump, fixed grid, t = 1): our solver against the same scheme
in numpy (`meanfield_resnet.reference_scheme`, also on 10^5 cells over a short window) and
against py-pde (numba backend, adaptive explicit stepper) at equal accuracy, side by side.

    python benchmarks/vlasov_1d.py            # 250-10^4 cells; writes results/vlasov_1d.json
    python benchmarks/vlasov_1d.py --full     # adds 10^5 cells (ours to t = 1, py-pde)
    python benchmarks/vlasov_1d.py --smoke    # 250 cells once, no py-pde (seconds)

py-pde is an optional extra (``pip install -e ".[bench]"``); each py-pde run has 600 s.
"""

from __future__ import annotations

import numpy as np
from common import T, log, pypde_solve, subject_main, time_limited, timed

from meanfield_resnet import exact, reference_scheme, vlasov
from meanfield_resnet._jit import set_threads
from meanfield_resnet.distributions import Distribution
from meanfield_resnet.settings import Segment

BUMP = Distribution("gaussian", mean_=np.array([0.0]), std=np.array([0.5]))
DOMAIN = (-4.0, 4.0)


def _exact_masses(edges, t=T):
    return exact.cell_masses(BUMP, "identity", -1.0, 0.0, t, edges)


def vlasov_1d_ours(n, t_end=T):
    seg = (Segment(0.0, np.inf, np.array([[-1.0]]), np.array([0.0])),)
    frame = vlasov.Frame(np.array([DOMAIN[0]]), np.array([DOMAIN[1]]), (n,), moving=False)
    problem = vlasov.VlasovProblem("identity", seg, None, frame)
    masses = BUMP.cell_probabilities([frame.edges(0)])
    repeat = 2 if n * t_end <= 10_000 else 1  # the 10^5-cell run to t = 1 takes minutes
    wall, sol = timed(lambda: vlasov.solve(problem, masses, [0.0, t_end]), repeat=repeat)
    edges = frame.edges(0)
    err = np.abs(sol.density[-1] * np.diff(edges) - _exact_masses(edges, t_end)).sum()
    steps = int(sol.steps[-1])
    return {
        "cells": n,
        "t": t_end,
        "wall_s": wall,
        "l1": err,
        "steps": steps,
        "cell_updates_per_s": 3 * n * steps / wall,
    }


def vlasov_1d_numpy(n, t_end=T):
    edges = np.linspace(*DOMAIN, n + 1)
    u = -edges / (DOMAIN[1] - DOMAIN[0])  # velocity in reference units
    g0 = BUMP.cell_probabilities([edges]) * n
    wall, (g, steps) = timed(lambda: reference_scheme.solve(g0, u, t_end))
    err = np.abs(g / n - _exact_masses(edges, t_end)).sum()
    return {
        "cells": n,
        "t": t_end,
        "wall_s": wall,
        "l1": err,
        "steps": steps,
        "cell_updates_per_s": 3 * n * steps / wall,
    }


def vlasov_1d_pypde(n, tolerance=1e-7):
    import pde

    grid = pde.CartesianGrid([list(DOMAIN)], n)
    field = pde.ScalarField.from_expression(grid, "exp(-x**2/0.5)/sqrt(0.5*pi)")
    eq = pde.PDE({"f": "-d_dx(-x*f)"}, bc={"value": 0})
    res, timing = pypde_solve(eq, field, T, 1e-4, tolerance)
    edges = np.linspace(*DOMAIN, n + 1)
    err = np.abs(res.data * np.diff(edges) - _exact_masses(edges)).sum()
    return {
        "cells": n,
        **timing,
        "l1": err,
        "tolerance": tolerance,
    }


def run(full=False, smoke=False):
    """The rows of this subject, keyed as in benchmarks.json; ``smoke``: 250 cells (also for
    the short window), no py-pde."""
    set_threads(2)  # as the memory subject leaves it in the full run
    r = {}
    cells = [250] if smoke else [250, 1000, 10_000] + ([100_000] if full else [])
    r["vlasov_1d_ours"] = [vlasov_1d_ours(n) for n in cells]
    log(r["vlasov_1d_ours"])
    r["vlasov_1d_numpy"] = [vlasov_1d_numpy(n) for n in cells[:3]]
    # 10^5 cells over a short window only (numpy would need ~40 min to t = 1): same scheme,
    # same steps, so the kernel ratio is still like for like
    short = cells[0] if smoke else 100_000
    r["vlasov_1d_short"] = [f(short, t_end=0.01) for f in (vlasov_1d_ours, vlasov_1d_numpy)]
    log(r["vlasov_1d_numpy"], r["vlasov_1d_short"])
    if not smoke:
        pcells = [1000, 10_000] + ([100_000] if full else [])
        r["vlasov_1d_pypde"] = [time_limited(vlasov_1d_pypde, n, limit=600) for n in pcells]
        log(r["vlasov_1d_pypde"])
    return r


def main(argv=None):
    return subject_main("vlasov_1d", __doc__, run, argv)


if __name__ == "__main__":
    main()
