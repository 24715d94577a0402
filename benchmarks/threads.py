"""Threads beside a busy neighbour: each case solved with 1 and 2 numba threads, alone and
with one other process spinning on a core (as on a shared cluster node, or beside another
Snakemake job). The target: with the neighbour, no solve slower than the 1-thread run of the
same problem. With 2 threads each Vlasov case runs twice: with the solver's timed choice
between parallel and serial passes (``parallel.ThreadChoice``, rows ``passes: timed``) and
with parallel passes throughout (``passes: parallel``, as before that choice existed).

    python benchmarks/threads.py            # writes benchmarks/results/threads.json
    python benchmarks/threads.py --smoke    # the smallest case, alone and beside the neighbour

Every run is a fresh process (the thread count and the OpenMP spin count are fixed when
numba's thread pool starts), best of three solves after a warm-up. The package sets
``GOMP_SPINCOUNT=300`` unless the environment says otherwise (``_jit``): GNU OpenMP's
default spins 300 000 rounds at every barrier, and a spinning thread takes the time slice
its partner on the shared core needs (measured here: 2 threads 4.8x slower than 1 thread
beside a busy neighbour, 8000 cells; with 300 rounds about 1.2x).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np
from common import log, subject_main

CASES = {
    # name: (what, cells per axis or particles, final time): solves of 0.3-2 s on one thread
    "vlasov_1d_fixed_8000": ("fixed", 8000, 2.0),
    "vlasov_1d_moving_3000": ("moving", 3000, 3.0),
    "vlasov_1d_fixed_32000": ("fixed", 32000, 0.3),
    "vlasov_2d_moving_160": ("moving_2d", 160, 2.0),
    "vlasov_2d_fixed_512": ("fixed_2d", 512, 0.2),
    "particles_1d_1e6": ("particles", 1_000_000, None),
}
SMOKE = {"vlasov_1d_fixed_2500": ("fixed", 2500, 0.05)}


def _solve(kind, size, final_time):
    """A closure timing one solve of the case (compiled once before)."""
    from meanfield_resnet import network, vlasov
    from meanfield_resnet.distributions import Distribution
    from meanfield_resnet.settings import constant_segments

    d = 2 if kind.endswith("_2d") else 1
    law = Distribution("gaussian", mean_=np.zeros(d), std=np.full(d, 0.5))
    if d == 1:
        segments = constant_segments(-0.7, 0.4)
    else:
        segments = constant_segments([[-0.7, 0.2], [0.1, -0.5]], [0.4, -0.2], 2)
    if kind == "particles":
        x0 = law.sample(np.random.default_rng(0), size)
        return lambda: network.simulate(x0, "tanh", segments, 1.0, 100, np.array([100]))
    moving = kind.startswith("moving")
    box = law.support() if moving else [[-6.0, 6.0]] * d
    frame = vlasov.Frame.from_box(box, [size] * d, moving)
    problem = vlasov.VlasovProblem("tanh", segments, None, frame)
    masses = law.cell_probabilities([frame.edges(r) for r in range(d)])
    return lambda: vlasov.solve(problem, masses, [0.0, final_time])


def child(name, threads, passes):
    """Run in the child process: best of three after a warm-up, as JSON on stdout.
    ``passes``: "timed" (the solver's choice between parallel and serial passes) or
    "parallel" (parallel passes throughout, as before the choice existed)."""
    from functools import partial

    from meanfield_resnet import vlasov
    from meanfield_resnet._jit import set_threads
    from meanfield_resnet.parallel import ThreadChoice

    set_threads(threads)
    if passes == "parallel":
        vlasov.ThreadChoice = partial(ThreadChoice, measure=False)
    kind, size, final_time = {**CASES, **SMOKE}[name]
    solve = _solve(kind, size, final_time)
    solve()
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        solve()
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"wall_s": best}))


@contextmanager
def neighbour(busy):
    """One process spinning on a core while the block runs (if ``busy``)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        time.sleep(0.2 if busy else 0.0)
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def measure(name, threads, busy, passes="timed"):
    with neighbour(busy):
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, str(threads), passes],
            capture_output=True, text=True, timeout=600, check=True,
        )  # fmt: skip
    wall = json.loads(out.stdout.strip().splitlines()[-1])["wall_s"]
    policy = os.environ.get("GOMP_SPINCOUNT", "300 (package default)")
    row = {"case": name, "threads": threads, "neighbour": busy, "wall_s": wall,
           "passes": passes, "gomp_spincount": policy}  # fmt: skip
    log(row)
    return row


def run(full=False, smoke=False):
    """The rows of this subject, keyed as in benchmarks.json."""
    cases = SMOKE if smoke else CASES
    rows = []
    for name in cases:
        for busy in (False, True):
            rows += [measure(name, 1, busy), measure(name, 2, busy)]
            if cases[name][0] != "particles":  # the passes without the timed choice
                rows.append(measure(name, 2, busy, "parallel"))
    return {"threads_beside_neighbour": rows}


def main(argv=None):
    return subject_main("threads", __doc__, run, argv)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
