"""Small problems, where a solve is a few hundred steps of a few hundred cells: the moving
frame against the fixed frame per step (1-D 250 cells, 2-D 64²), our smallest grid with
L1 <= 1e-4 in each frame, and py-pde at that accuracy, on a problem no other subject uses.

    python benchmarks/frames.py            # writes benchmarks/results/frames.json
    python benchmarks/frames.py --full     # py-pde up to 16000 cells
    python benchmarks/frames.py --smoke    # 250 cells and 32², once, no py-pde

Problem (1-D): σ = tanh, w = -0.7, b = 1.4, f0 = N(0, 0.5²), T = 2, L1 of the cell masses
against the exact solution; fixed frame on [-4, 6], moving frame from f0's support. 2-D:
W = [[-0.7, 0.3], [-0.2, -0.5]], b = (1.4, -0.3), f0 = N((0, 0.3), diag(0.5², 0.4²)),
T = 2, fixed frame [-4, 6] x [-4, 4]. One thread (at these sizes every pass is serial).
py-pde (numba backend, central differences) runs its explicit adaptive stepper with the
Euler and the Runge-Kutta solver, tolerance 1e-7; the better one at each grid is kept (its
compile on every solve timed apart).
"""

from __future__ import annotations

import numpy as np
from common import log, pypde_solve, subject_main, time_limited, timed

from meanfield_resnet import exact, vlasov
from meanfield_resnet._jit import set_threads
from meanfield_resnet.distributions import Distribution
from meanfield_resnet.settings import Segment

W, B, FINAL = -0.7, 1.4, 2.0
LAW = Distribution("gaussian", mean_=np.array([0.0]), std=np.array([0.5]))
DOMAIN = (-4.0, 6.0)
WEIGHT_2D, BIAS_2D = np.array([[-0.7, 0.3], [-0.2, -0.5]]), np.array([1.4, -0.3])
LAW_2D = Distribution("gaussian", mean_=np.array([0.0, 0.3]), std=np.array([0.5, 0.4]))
DOMAIN_2D = [[-4.0, 6.0], [-4.0, 4.0]]
TARGET = 1e-4


def _problem(law, weight, bias, cells, moving, box):
    frame = vlasov.Frame.from_box(law.support() if moving else box, cells, moving)
    problem = vlasov.VlasovProblem("tanh", (Segment(0.0, np.inf, weight, bias),), None, frame)
    masses = law.cell_probabilities([frame.edges(r) for r in range(len(frame.cells))])
    return problem, masses


def ours_1d(cells, moving, repeat=5):
    """One 1-D solve to T: time (best of ``repeat``), steps, cost per step, L1."""
    problem, masses = _problem(LAW, np.array([[W]]), np.array([B]), cells, moving, [DOMAIN])
    wall, sol = timed(lambda: vlasov.solve(problem, masses, [0.0, FINAL]), repeat)
    edges = sol.edges(1)
    l1 = np.abs(sol.cell_masses(1) - exact.cell_masses(LAW, "tanh", W, B, FINAL, edges)).sum()
    return _row(cells, moving, wall, int(sol.steps[-1]), cells) | {"l1": float(l1)}


def ours_2d(n, moving, repeat=5):
    """One 2-D solve to T on n² cells: time, steps, cost per step."""
    problem, masses = _problem(LAW_2D, WEIGHT_2D, BIAS_2D, (n, n), moving, DOMAIN_2D)
    wall, sol = timed(lambda: vlasov.solve(problem, masses, [0.0, FINAL]), repeat)
    return _row(f"{n}x{n}", moving, wall, int(sol.steps[-1]), 2 * n * n)


def _row(cells, moving, wall, steps, cell_passes):
    row = {"cells": cells, "frame": "moving" if moving else "fixed", "wall_s": wall,
           "steps": steps, "step_s": wall / steps,
           "cell_stages_per_s": 3 * cell_passes * steps / wall}  # fmt: skip
    log(row)
    return row


def smallest_at_target(moving, grids=(50, 100, 150, 200, 250, 350, 500, 700, 1000)):
    """Our coarsest grid with L1 <= 1e-4 (the finest tried if none)."""
    row = None
    for n in grids:
        row = ours_1d(n, moving)
        if row["l1"] <= TARGET:
            break
    return row


def pypde_1d(cells, tolerance=1e-7):
    """py-pde on the 1-D problem: both schemes of its adaptive explicit stepper."""
    import pde

    grid = pde.CartesianGrid([list(DOMAIN)], cells)
    field = pde.ScalarField.from_expression(grid, "exp(-2*x**2)/sqrt(0.5*pi)")
    eq = pde.PDE({"f": f"-d_dx(tanh({W}*x+{B})*f)"}, bc={"value": 0})
    edges = np.linspace(*DOMAIN, cells + 1)
    exact_masses = exact.cell_masses(LAW, "tanh", W, B, FINAL, edges)
    out = []
    for scheme in ("euler", "runge-kutta"):
        res, timing = pypde_solve(eq, field, FINAL, min(1e-4, FINAL), tolerance, solver=scheme)
        l1 = float(np.abs(res.data * np.diff(edges) - exact_masses).sum())
        out.append({"cells": cells, "scheme": scheme, **timing, "l1": l1})
    return min(out, key=lambda row: (row["l1"] > TARGET, row["wall_s"] if row["l1"] <= TARGET
                                     else row["l1"]))  # fmt: skip


def run(full=False, smoke=False):
    """The rows of this subject, keyed as in benchmarks.json."""
    set_threads(1)
    r = {"frames_per_step": []}
    for moving in (False, True):
        ours_1d(250, moving, repeat=1)  # compile
        r["frames_per_step"].append(ours_1d(250, moving, repeat=1 if smoke else 10))
        n = 32 if smoke else 64
        ours_2d(n, moving, repeat=1)
        r["frames_per_step"].append(ours_2d(n, moving, repeat=1 if smoke else 5))
    if smoke:
        return r
    r["frames_at_target"] = [smallest_at_target(moving) for moving in (False, True)]
    cells = [1000, 4000] + ([16000] if full else [])
    r["frames_pypde"] = [time_limited(pypde_1d, n, limit=600) for n in cells]
    log(r["frames_pypde"])
    set_threads(2)
    return r


def main(argv=None):
    return subject_main("frames", __doc__, run, argv)


if __name__ == "__main__":
    main()
