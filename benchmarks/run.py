"""Benchmark suite: our solvers and particle kernels against the tools a user would pick
instead, and against the machine's memory bandwidth, in one run on one machine.

    python benchmarks/run.py            # quick suite (a few minutes)
    python benchmarks/run.py --full     # adds 10^5-cell py-pde, 2048² grids, 10^7 particles

Writes benchmarks/results/benchmarks.{json,md}. Absolute times are noisy on shared
machines; compare the ratios, which are measured side by side in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from meanfield_resnet import diffusion, exact, fokker_planck, network, vlasov
from meanfield_resnet._jit import jit, set_threads, subnormals_flushed
from meanfield_resnet.distributions import Distribution
from meanfield_resnet.settings import Segment

sys.path.insert(0, str(Path(__file__).parent))
import numpy_scheme  # noqa: E402

HERE = Path(__file__).parent
BUMP = Distribution("gaussian", mean_=np.array([0.0]), std=np.array([0.5]))
DOMAIN = (-4.0, 4.0)
T = 1.0


def timed(fn, repeat=1):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


@jit(parallel=True)
def _triad(a, b, c, s):
    for i in numba.prange(a.size):
        a[i] = b[i] + s * c[i]


def triad(size=50_000_000):
    """STREAM-like triad a = b + s c: bytes/s (3 arrays of 8-byte values per element)."""
    rng = np.random.default_rng(0)
    a, b, c = np.empty(size), rng.random(size), rng.random(size)
    out = {}
    for threads in (1, 2):
        set_threads(threads)
        _triad(a, b, c, 3.0)
        t, _ = timed(lambda: _triad(a, b, c, 3.0), repeat=5)
        out[f"threads_{threads}_GBps"] = 24 * size / t / 1e9
    return out


def _exact_masses(edges):
    return exact.cell_masses(BUMP, "identity", -1.0, 0.0, T, edges)


def vlasov_1d_ours(n):
    seg = (Segment(0.0, np.inf, np.array([[-1.0]]), np.array([0.0])),)
    frame = vlasov.Frame(np.array([DOMAIN[0]]), np.array([DOMAIN[1]]), (n,), moving=False)
    problem = vlasov.VlasovProblem("identity", seg, None, frame)
    masses = BUMP.cell_probabilities([frame.edges(0)])
    wall, sol = timed(lambda: vlasov.solve(problem, masses, [0.0, T]), repeat=2)
    edges = frame.edges(0)
    err = np.abs(sol.density[-1] * np.diff(edges) - _exact_masses(edges)).sum()
    steps = int(sol.steps[-1])
    return {
        "cells": n,
        "wall_s": wall,
        "l1": err,
        "steps": steps,
        "cell_updates_per_s": 3 * n * steps / wall,
    }


def vlasov_1d_numpy(n):
    edges = np.linspace(*DOMAIN, n + 1)
    u = -edges / (DOMAIN[1] - DOMAIN[0])  # velocity in reference units
    g0 = BUMP.cell_probabilities([edges]) * n
    wall, (g, steps) = timed(lambda: numpy_scheme.solve(g0, u, T))
    err = np.abs(g / n - _exact_masses(edges)).sum()
    return {
        "cells": n,
        "wall_s": wall,
        "l1": err,
        "steps": steps,
        "cell_updates_per_s": 3 * n * steps / wall,
    }


def _pypde_compile_time(eq, field, tolerance):
    """py-pde compiles on every solve(): time a solve of negligible length (after one
    warm-up, which also pays the package's own first-use costs)."""

    def tiny():
        return eq.solve(
            field, t_range=1e-9, dt=1e-10, adaptive=True, tolerance=tolerance, tracker=None
        )

    tiny()
    return timed(tiny)[0]


def vlasov_1d_pypde(n, tolerance=1e-7):
    import pde

    grid = pde.CartesianGrid([list(DOMAIN)], n)
    field = pde.ScalarField.from_expression(grid, "exp(-x**2/0.5)/sqrt(0.5*pi)")
    eq = pde.PDE({"f": "-d_dx(-x*f)"}, bc={"value": 0})
    compile_s = _pypde_compile_time(eq, field, tolerance)
    wall, res = timed(
        lambda: eq.solve(
            field, t_range=T, dt=1e-4, adaptive=True, tolerance=tolerance, tracker=None
        )
    )
    edges = np.linspace(*DOMAIN, n + 1)
    err = np.abs(res.data * np.diff(edges) - _exact_masses(edges)).sum()
    return {
        "cells": n,
        "wall_s": max(wall - compile_s, 0.0),
        "wall_with_compile_s": wall,
        "compile_s": compile_s,
        "l1": err,
        "tolerance": tolerance,
    }


def vlasov_2d_ours(n):
    law = Distribution("gaussian", mean_=np.array([0.0, 0.0]), std=np.array([0.5, 0.5]))
    seg = (Segment(0.0, np.inf, np.diag([-1.0, -1.0]), np.zeros(2)),)
    frame = vlasov.Frame(np.array([-4.0, -4.0]), np.array([4.0, 4.0]), (n, n), moving=False)
    problem = vlasov.VlasovProblem("identity", seg, None, frame)
    masses = law.cell_probabilities([frame.edges(0), frame.edges(1)])
    wall, sol = timed(lambda: vlasov.solve(problem, masses, [0.0, 0.25]))
    edges = frame.edges(0)
    m1 = exact.cell_masses(
        Distribution("gaussian", mean_=np.zeros(1), std=np.array([0.5])),
        "identity",
        -1.0,
        0.0,
        0.25,
        edges,
    )
    cell = (edges[1] - edges[0]) ** 2
    err = np.abs(sol.density[-1] * cell - np.outer(m1, m1)).sum()
    steps = int(sol.steps[-1])
    return {
        "cells": f"{n}x{n}",
        "wall_s": wall,
        "l1": err,
        "steps": steps,
        "cell_updates_per_s": 3 * n * n * steps / wall,
    }


def fokker_planck_ours(n):
    law = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
    spec = {"cells": n, "time_step": 2.0 / n, "theta": 0.5, "mass_tolerance": 1e-10}
    domain = np.array([-8.0, 14.0])
    wall, sol = timed(
        lambda: fokker_planck.solve_experiment(
            law, "identity", -1.0, 0.0, diffusion.constant(1.0), [0.0, T], spec, domain
        ),
        repeat=2,
    )
    edges = np.linspace(*domain, n + 1)
    err = np.abs(
        sol.density[-1] * sol.dx - exact.ou_cell_masses(law, -1.0, 0.0, 1.0, T, edges)
    ).sum()
    return {"cells": n, "wall_s": wall, "l1": err}


def fokker_planck_pypde(n, tolerance=1e-7):
    import pde

    law = Distribution("uniform", low=np.array([2.0]), high=np.array([8.0]))
    grid = pde.CartesianGrid([[-8.0, 14.0]], n)
    edges = np.linspace(-8.0, 14.0, n + 1)
    field = pde.ScalarField(grid, law.cell_probabilities([edges]) / np.diff(edges))
    eq = pde.PDE({"f": "-d_dx(-x*f) + laplace(f)"}, bc={"value": 0})
    compile_s = _pypde_compile_time(eq, field, tolerance)
    wall, res = timed(
        lambda: eq.solve(
            field, t_range=T, dt=1e-5, adaptive=True, tolerance=tolerance, tracker=None
        )
    )
    err = np.abs(
        res.data * np.diff(edges) - exact.ou_cell_masses(law, -1.0, 0.0, 1.0, T, edges)
    ).sum()
    return {
        "cells": n,
        "wall_s": max(wall - compile_s, 0.0),
        "wall_with_compile_s": wall,
        "compile_s": compile_s,
        "l1": err,
    }


def particles(m, d, threads, layers=100):
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(m, d))
    seg = (Segment(0.0, np.inf, np.eye(d) * 0.5 + 0.1, np.full(d, 0.1)),)
    set_threads(threads)
    network.simulate(x0[:1000], "tanh", seg, 1.0, layers, np.array([layers]))  # warm
    wall, _ = timed(lambda: network.simulate(x0, "tanh", seg, 1.0, layers, np.array([layers])))
    return {
        "particles": m,
        "dimension": d,
        "threads": threads,
        "wall_s": wall,
        "particle_steps_per_s": m * layers / wall,
    }


def particles_numpy(m, d, layers=100):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(m, d))
    w = np.eye(d) * 0.5 + 0.1
    b = np.full(d, 0.1)
    buf = np.empty_like(x)

    def run():
        y = x.copy()
        for _ in range(layers):
            np.matmul(y, w.T, out=buf)
            np.add(buf, b, out=buf)
            np.tanh(buf, out=buf)
            np.multiply(buf, 1.0 / layers, out=buf)
            np.add(y, buf, out=y)
        return y

    wall, _ = timed(run)
    return {
        "particles": m,
        "dimension": d,
        "wall_s": wall,
        "particle_steps_per_s": m * layers / wall,
    }


def pipeline():
    """Wall time of `snakemake --cores 2` on the default config from a clean results/,
    with an empty numba cache (cold: every job compiles) and with the cache filled (warm)."""
    root = HERE.parent
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        for label in ("cold_cache", "warm_cache"):
            with tempfile.TemporaryDirectory() as work:
                os.symlink(root / "config", Path(work) / "config")
                env = {**os.environ, "NUMBA_CACHE_DIR": cache}
                t0 = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "snakemake",
                        "-s",
                        str(root / "workflow/Snakefile"),
                        "--cores",
                        "2",
                        "--quiet",
                    ],
                    cwd=work,
                    env=env,
                    check=True,
                    capture_output=True,
                )
                out[f"{label}_s"] = time.perf_counter() - t0
    out["compile_share_s"] = out["cold_cache_s"] - out["warm_cache_s"]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the large cases too")
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args()
    r = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "numba": numba.__version__,
            "numpy": np.__version__,
        }
    }
    log = lambda *a: print(*a, flush=True)  # noqa: E731
    with subnormals_flushed():
        r["triad"] = triad()
        log("triad", r["triad"])
    set_threads(2)
    cells = [250, 1000, 10_000] + ([100_000] if args.full else [])
    r["vlasov_1d_ours"] = [vlasov_1d_ours(n) for n in cells]
    log(r["vlasov_1d_ours"])
    r["vlasov_1d_numpy"] = [vlasov_1d_numpy(n) for n in cells[:3]]
    log(r["vlasov_1d_numpy"])
    pcells = [1000, 10_000] + ([100_000] if args.full else [])
    r["vlasov_1d_pypde"] = [vlasov_1d_pypde(n) for n in pcells]
    log(r["vlasov_1d_pypde"])
    r["vlasov_2d_ours"] = [vlasov_2d_ours(n) for n in [128, 512] + ([2048] if args.full else [])]
    log(r["vlasov_2d_ours"])
    r["fokker_planck_ours"] = [fokker_planck_ours(n) for n in [1000, 10_000]]
    log(r["fokker_planck_ours"])
    r["fokker_planck_pypde"] = [fokker_planck_pypde(n) for n in [1000, 10_000]]
    log(r["fokker_planck_pypde"])
    sizes = [100_000, 1_000_000] + ([10_000_000] if args.full else [])
    r["particles_numba"] = [particles(m, d, t) for d in (1, 2) for m in sizes for t in (1, 2)]
    r["particles_numpy"] = [particles_numpy(m, d) for d in (1, 2) for m in sizes]
    log(r["particles_numba"], r["particles_numpy"])
    if not args.skip_pipeline:
        r["pipeline"] = pipeline()
        log(r["pipeline"])
    r["summary"] = summarise(r)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "benchmarks.json").write_text(json.dumps(r, indent=2, default=float))
    (out / "benchmarks.md").write_text(markdown(r))
    print(markdown(r))


def _at_accuracy(rows, target=1e-4):
    ok = [row for row in rows if row["l1"] <= target]
    return min(ok, key=lambda row: row["wall_s"]) if ok else None


def summarise(r):
    s = {}
    ours, theirs = _at_accuracy(r["vlasov_1d_ours"]), _at_accuracy(r["vlasov_1d_pypde"])
    best_pypde = min(r["vlasov_1d_pypde"], key=lambda row: row["l1"])
    s["vlasov_1d_equal_accuracy"] = {
        "ours": ours,
        "pypde": theirs or best_pypde,
        "pypde_reached_1e-4": theirs is not None,
        "speedup_vs_pypde": (theirs or best_pypde)["wall_s"] / ours["wall_s"],
    }
    same = {row["cells"]: row for row in r["vlasov_1d_numpy"]}
    s["vlasov_1d_numba_vs_numpy"] = {
        n: same[n]["wall_s"] / row["wall_s"]
        for n, row in ((row["cells"], row) for row in r["vlasov_1d_ours"])
        if n in same
    }
    fp, fp_pypde = r["fokker_planck_ours"], r["fokker_planck_pypde"]
    target = min(row["l1"] for row in fp_pypde)
    ours_fp = min(
        (row for row in fp if row["l1"] <= target), key=lambda row: row["wall_s"], default=fp[-1]
    )
    s["fokker_planck_equal_accuracy"] = {
        "ours": ours_fp,
        "pypde": min(fp_pypde, key=lambda row: row["l1"]),
        "speedup_vs_pypde": min(fp_pypde, key=lambda row: row["l1"])["wall_s"] / ours_fp["wall_s"],
    }
    numpy_rate = {
        (row["particles"], row["dimension"]): row["particle_steps_per_s"]
        for row in r["particles_numpy"]
    }
    s["particles_speedup_vs_numpy_2threads"] = {
        f"{row['dimension']}d_{row['particles']}": row["particle_steps_per_s"]
        / numpy_rate[(row["particles"], row["dimension"])]
        for row in r["particles_numba"]
        if row["threads"] == 2
    }
    big = max(r["vlasov_1d_ours"], key=lambda row: row["cells"])
    # bytes per cell-stage touched by the flux kernel: g, u read, flux written (8 B each)
    s["vlasov_1d_bandwidth_fraction_of_triad"] = (
        24 * big["cell_updates_per_s"] / (r["triad"]["threads_2_GBps"] * 1e9)
    )
    return s


def markdown(r):
    s = r["summary"]
    e = s["vlasov_1d_equal_accuracy"]
    lines = [
        "| benchmark | ours | peer | ratio |",
        "|---|---|---|---|",
        f"| 1-D Vlasov, smallest grid with L1 ≤ 1e-4 (v = -x, bump, t = 1) | "
        f"{e['ours']['cells']} cells, {e['ours']['wall_s']:.3g} s, L1 {e['ours']['l1']:.1e} | "
        f"py-pde {e['pypde']['cells']} cells, {e['pypde']['wall_s']:.3g} s "
        f"(+{e['pypde']['compile_s']:.2g} s compile), L1 {e['pypde']['l1']:.1e}"
        + ("" if e["pypde_reached_1e-4"] else " (its best: 1e-4 not reached)")
        + f" | {e['speedup_vs_pypde']:.0f}x |",
    ]
    for n, ratio in s["vlasov_1d_numba_vs_numpy"].items():
        lines.append(f"| 1-D Vlasov kernel vs numpy, same scheme, {n} cells | | | {ratio:.1f}x |")
    f = s["fokker_planck_equal_accuracy"]
    lines.append(
        f"| Fokker-Planck (OU), equal accuracy | {f['ours']['cells']} cells, "
        f"{f['ours']['wall_s']:.3g} s, L1 {f['ours']['l1']:.1e} | py-pde "
        f"{f['pypde']['cells']} cells, {f['pypde']['wall_s']:.3g} s, L1 "
        f"{f['pypde']['l1']:.1e} | {f['speedup_vs_pypde']:.0f}x |"
    )
    for key, ratio in s["particles_speedup_vs_numpy_2threads"].items():
        lines.append(
            f"| particles, tanh, 100 layers, {key}, 2 threads vs numpy | | | {ratio:.1f}x |"
        )
    lines.append(
        f"| 1-D Vlasov flux kernel traffic / triad (2 threads, "
        f"{r['triad']['threads_2_GBps']:.1f} GB/s) | | | "
        f"{s['vlasov_1d_bandwidth_fraction_of_triad']:.0%} |"
    )
    for row in r["vlasov_2d_ours"]:
        lines.append(
            f"| 2-D Vlasov {row['cells']} | {row['wall_s']:.3g} s, "
            f"{row['cell_updates_per_s'] / 1e6:.0f} M cell-stages/s, L1 {row['l1']:.1e} | | |"
        )
    if "pipeline" in r:
        p = r["pipeline"]
        lines.append(
            f"| pipeline `snakemake --cores 2` | cold numba cache {p['cold_cache_s']:.0f} s, "
            f"warm {p['warm_cache_s']:.0f} s | | |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
