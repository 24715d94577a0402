"""What the benchmark subjects share: timing (`timed`, `time_limited`), py-pde's compile time,
the machine description, and writing one subject's results (the command line every subject
script has). No measurement of its own.

How the modules here import each other: ``python benchmarks/<subject>.py`` and
``python benchmarks/run.py`` put the script's folder, ``benchmarks/``, first on ``sys.path``
(Python does this for every script), so ``import common`` finds this file; nothing edits
``sys.path``. Run them from anywhere, e.g. the repository root. To import a subject from
elsewhere (as ``tests/test_benchmarks.py`` does), put ``benchmarks/`` on ``sys.path`` first.

Every subject script takes the same options:

    python benchmarks/<subject>.py            # its part of the quick suite
    python benchmarks/<subject>.py --full     # its part of the full suite
    python benchmarks/<subject>.py --smoke    # its smallest case once, no peers (seconds)
    python benchmarks/<subject>.py --out DIR  # write DIR/<subject>.json (default: results/)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numba
import numpy as np

HERE = Path(__file__).parent
RESULTS = HERE / "results"
T = 1.0  # the final time of the 1-D Vlasov and the Fokker-Planck runs


def log(*a):
    print(*a, flush=True)


def timed(fn, repeat=1):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _run_child(fn, args, conn):
    conn.send(fn(*args))


def time_limited(fn, *args, limit):
    """fn(*args) in a fresh process (spawned: numba's threads do not survive a fork); if it
    has not finished within ``limit`` seconds, it is stopped and recorded as such (the time is
    then a lower bound) instead of holding up the suite. args[0] is the grid size."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_run_child, args=(fn, args, child))
    proc.start()
    done = parent.poll(limit)
    result = parent.recv() if done else None
    proc.terminate() if not done else None
    proc.join()
    if result is None:
        return {"cells": args[0], "error": f"did not finish within {limit:.0f} s", "limit_s": limit}
    return result


def pypde_solve(eq, field, t_range, dt, tolerance, **options):
    """One py-pde solve with its adaptive explicit stepper, after a warm-up solve of
    negligible length (which pays the package's first-use and per-grid costs). py-pde
    recompiles on every solve(); its own profiler splits the timed solve into that
    compilation and the stepping. (The difference of two timed solves, one of negligible
    length, is a difference of two noisy numbers: it once came out at zero.) Returns the
    result and {wall_s: the stepping, wall_with_compile_s, compile_s, steps}."""
    kwargs = {"adaptive": True, "tolerance": tolerance, "tracker": None, **options}
    eq.solve(field, t_range=1e-9, dt=1e-10, **kwargs)
    t0 = time.perf_counter()
    res, info = eq.solve(field, t_range=t_range, dt=dt, ret_info=True, **kwargs)
    wall = time.perf_counter() - t0
    profile = info["controller"]["profiler"]
    return res, {"wall_s": profile["solver"], "wall_with_compile_s": wall,
                 "compile_s": profile["compilation"], "steps": int(info["solver"]["steps"]),
                 "stepper": info["solver"]["class"]}  # fmt: skip


def machine():
    """The machine and versions the numbers were measured with."""
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "numba": numba.__version__,
        "numpy": np.__version__,
    }


def write_results(out, name, r, markdown=None):
    """Write ``r`` to ``out/<name>.json`` (and ``markdown``, if given, to ``out/<name>.md``);
    returns the JSON's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(r, indent=2, default=float))
    if markdown is not None:
        (out / f"{name}.md").write_text(markdown)
    return path


def output_option(parser):
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help=f"results folder (default: {RESULTS})"
    )


def subject_main(name, doc, run, argv=None):
    """The command line of one subject: ``run(full=..., smoke=...)`` (a dict of rows, keyed
    as in benchmarks.json), with the machine and the summaries of what ran, written to
    ``<out>/<name>.json``. Returns that dict."""
    from report import summarise

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="the large cases too")
    size.add_argument(
        "--smoke", action="store_true", help="the smallest case once, without the peers"
    )
    output_option(parser)
    args = parser.parse_args(argv)
    r = {"machine": machine(), **run(full=args.full, smoke=args.smoke)}
    r["summary"] = summarise(r)
    log(f"wrote {write_results(args.out, name, r)}")
    return r
