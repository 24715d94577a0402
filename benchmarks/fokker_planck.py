"""Fokker-Planck (Ornstein-Uhlenbeck: drift -x, K = 1, uniform [2, 8], t = 1): our solver on
10^3 and 10^4 cells against py-pde (numba backend) and fplanck 0.2.2 (a master equation
propagated by scipy's expm_multiply), side by side, for the comparisons at equal accuracy.

    python benchmarks/fokker_planck.py            # writes benchmarks/results/fokker_planck.json
    python benchmarks/fokker_planck.py --full     # adds 10^4 cells for fplanck
    python benchmarks/fokker_planck.py --smoke    # 10^3 cells once, no peers (seconds)

py-pde and fplanck are optional extras (``pip install -e ".[bench]"``). (In this module the
name ``fokker_planck`` is the package's solver, meanfield_resnet.fokker_planck.)
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
from common import T, log, pypde_solve, subject_main, timed

from meanfield_resnet import diffusion, exact, fokker_planck
from meanfield_resnet._jit import set_threads
from meanfield_resnet.distributions import Distribution
from meanfield_resnet.settings import constant_segments

OU_DOMAIN = (-8.0, 14.0)


def fokker_planck_ours(n):
    law = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
    problem = fokker_planck.FokkerPlanckProblem(
        "identity", constant_segments(-1.0, 0.0), diffusion.constant(1.0), n, time_step=2.0 / n
    )
    wall, sol = timed(lambda: fokker_planck.solve(problem, law, [0.0, T]), repeat=2)
    edges = sol.edges(-1)
    err = np.abs(
        sol.density[-1] * sol.dx[-1] - exact.ou_cell_masses(law, -1.0, 0.0, 1.0, T, edges)
    ).sum()
    return {"cells": n, "wall_s": wall, "l1": err}


def fokker_planck_pypde(n, tolerance=1e-7):
    import pde

    law = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
    grid = pde.CartesianGrid([[-8.0, 14.0]], n)
    edges = np.linspace(-8.0, 14.0, n + 1)
    field = pde.ScalarField(grid, law.cell_probabilities([edges]) / np.diff(edges))
    eq = pde.PDE({"f": "-d_dx(-x*f) + laplace(f)"}, bc={"value": 0})
    res, timing = pypde_solve(eq, field, T, 1e-5, tolerance)
    err = np.abs(
        res.data * np.diff(edges) - exact.ou_cell_masses(law, -1.0, 0.0, 1.0, T, edges)
    ).sum()
    return {
        "cells": n,
        **timing,
        "l1": err,
    }


# numpy 1 names fplanck 0.2.2 uses and numpy 2 removed, with their replacements
_NUMPY2_REMOVED = {"product": np.prod}


@contextmanager
def _numpy2_shim():
    """fplanck 0.2.2 calls ``np.product`` (removed in numpy 2.0) when it assembles its matrix.
    Alias the removed names for the duration of the call only, then remove the aliases, so
    nothing else in the run sees them. (Its solver.py also uses ``Iterable`` without importing
    it, but only for a per-axis drag vector; a scalar drag, as here, never reaches it.)"""
    added = [name for name in _NUMPY2_REMOVED if name not in vars(np)]
    for name in added:
        setattr(np, name, _NUMPY2_REMOVED[name])
    try:
        yield
    finally:
        for name in added:
            delattr(np, name)


def _fplanck_run(n, masses, t):
    """Build fplanck's master-equation matrix on n cells of OU_DOMAIN and propagate `masses`
    (cell probabilities) over t; returns (assembly s, propagation s, final cell masses)."""
    import fplanck
    from scipy import constants

    h = (OU_DOMAIN[1] - OU_DOMAIN[0]) / n
    centre = 0.5 * (OU_DOMAIN[0] + OU_DOMAIN[1])
    t0 = time.perf_counter()
    sim = fplanck.fokker_planck(
        # D = k_B T / drag = 1 and velocity = -dU/dy / drag = -x: drag 1, k_B T = 1 and
        # U = (y + centre)^2 / 2, y = x - centre being fplanck's coordinate (grid centred on 0)
        temperature=1.0 / constants.k,
        drag=1.0,
        # Ngrid = ceil(extent / resolution): (n - 1/2) h gives n cells whatever the rounding
        extent=(n - 0.5) * h,
        resolution=h,
        potential=fplanck.harmonic_potential(-centre, 1.0),
        boundary=fplanck.boundary.reflecting,
    )
    t1 = time.perf_counter()
    out = sim.propagate(lambda *grid: masses.copy(), t)
    t2 = time.perf_counter()
    if out.shape != masses.shape:
        raise ValueError(f"fplanck built {out.shape} cells for {masses.shape}")
    return t1 - t0, t2 - t1, out


def fokker_planck_fplanck(n):
    """fplanck 0.2.2 on the OU problem of `fokker_planck_ours` (drift -x, K = 1, uniform [2, 8],
    t = 1): a Scharfetter-Gummel-like master equation on n cells, propagated by
    scipy's ``expm_multiply``; reflecting ends (the mass is far from them). Time = assembly
    (a Python loop over cells) + propagation. A failure is recorded, not raised."""
    law = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
    edges = np.linspace(*OU_DOMAIN, n + 1)
    masses = law.cell_probabilities([edges])
    try:
        with _numpy2_shim():
            runs = [_fplanck_run(n, masses, T) for _ in range(2 if n <= 2000 else 1)]
    except Exception as err:  # noqa: BLE001 - any failure of the peer is a result to report
        return {"cells": n, "error": f"{type(err).__name__}: {err}"}
    assembly_s, propagate_s, out = min(runs, key=lambda run: run[0] + run[1])
    err = np.abs(out - exact.ou_cell_masses(law, -1.0, 0.0, 1.0, T, edges)).sum()
    return {
        "cells": n,
        "wall_s": assembly_s + propagate_s,
        "assembly_s": assembly_s,
        "propagate_s": propagate_s,
        "l1": err,
    }


def run(full=False, smoke=False):
    """The rows of this subject, keyed as in benchmarks.json; ``smoke``: 10^3 cells once, no
    peers."""
    set_threads(2)  # as the memory subject leaves it in the full run
    r = {}
    cells = [1000] if smoke else [1000, 10_000]
    r["fokker_planck_ours"] = [fokker_planck_ours(n) for n in cells]
    log(r["fokker_planck_ours"])
    if not smoke:
        r["fokker_planck_pypde"] = [fokker_planck_pypde(n) for n in [1000, 10_000]]
        log(r["fokker_planck_pypde"])
        r["fokker_planck_fplanck"] = [
            fokker_planck_fplanck(n) for n in [1000] + ([10_000] if full else [])
        ]
        log(r["fokker_planck_fplanck"])
    return r


def main(argv=None):
    return subject_main("fokker_planck", __doc__, run, argv)


if __name__ == "__main__":
    main()
